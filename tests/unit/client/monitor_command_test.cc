// berth monitor's pure parts: --type lists and the two output formats of one event.

#include "berth/client/monitor_command.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MonitorCommandTest, TypeListsMixGroupsAndSingleTypes) {
  auto types = ParseEventTypes("daemon, stopped,config_changed,daemon");
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_THAT(*types, ElementsAre(v1::EVENT_TYPE_STOPPED, v1::EVENT_TYPE_CONFIG_CHANGED,
                                  v1::EVENT_TYPE_DAEMON_STARTED,
                                  v1::EVENT_TYPE_DAEMON_RECONCILED));
  auto lifecycle = ParseEventTypes("lifecycle");
  ASSERT_TRUE(lifecycle.ok());
  EXPECT_EQ(lifecycle->size(), 8u);
  auto bad = ParseEventTypes("started,bogus");
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("unknown event type \"bogus\""));
  EXPECT_FALSE(ParseEventTypes(" , ").ok());
}

v1::Event Exited() {
  v1::Event event;
  event.set_id(42);
  event.mutable_time()->set_seconds(1'764'547'200);  // 2025-12-01T00:00:00Z
  event.set_type(v1::EVENT_TYPE_EXITED);
  event.set_container("web");
  event.set_state(v1::STATE_STOPPED);
  event.set_detail("init died");
  event.set_exit_code(137);
  return event;
}

TEST(MonitorCommandTest, JsonIsOneObjectPerLineWithProtoFieldNames) {
  const std::string line = FormatEvent(Exited(), OutputFormat::kJson, absl::UTCTimeZone());
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json["id"], 42);
  EXPECT_EQ(json["time"], "2025-12-01T00:00:00Z");
  EXPECT_EQ(json["type"], "exited");
  EXPECT_EQ(json["container"], "web");
  EXPECT_EQ(json["state"], "STOPPED");
  EXPECT_EQ(json["detail"], "init died");
  EXPECT_EQ(json["exit_code"], 137);

  v1::Event daemon;
  daemon.set_id(1);
  daemon.set_type(v1::EVENT_TYPE_DAEMON_STARTED);
  auto plain = nlohmann::json::parse(FormatEvent(daemon, OutputFormat::kJson, absl::UTCTimeZone()));
  EXPECT_EQ(plain["state"], "");
  EXPECT_EQ(plain["type"], "daemon-started");
  EXPECT_FALSE(plain.contains("exit_code"));
}

TEST(MonitorCommandTest, TableIsOneLine) {
  EXPECT_EQ(FormatEvent(Exited(), OutputFormat::kTable, absl::UTCTimeZone()),
            "42     2025-12-01 00:00:00  exited            web                  STOPPED  "
            "init died; exit code 137\n");
}

}  // namespace
}  // namespace berth::client

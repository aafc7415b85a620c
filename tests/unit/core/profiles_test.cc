// Profiles and devices in the core, with the fake driver and the in-memory store: merge order,
// live application to running users, refusals that change nothing, nic/proxy refused at start.

#include "berth/core/profiles.h"

#include <unistd.h>

#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/in_memory_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using runtime::FakeRuntimeDriver;
using storage::Device;
using ::testing::HasSubstr;
using Op = FakeRuntimeDriver::Op;

constexpr int64_t kMiB = 1024 * 1024;

class ProfilesTest : public ::testing::Test {
 protected:
  ProfilesTest() : events_(&clock_), manager_(&store_, &driver_, &clock_, &events_) {
    spdlog::set_level(spdlog::level::warn);
  }

  absl::StatusOr<ContainerView> Create(const std::string& name, std::vector<std::string> profiles,
                                       std::map<std::string, std::string> config = {},
                                       bool start = true) {
    CreateParams p;
    p.name = name;
    p.template_name = "busybox";
    p.profiles = std::move(profiles);
    p.config = std::move(config);
    p.start = start;
    return manager_.Create(p);
  }

  std::optional<int64_t> Memory(const std::string& name) {
    auto settings = driver_.SettingsOf(name);
    return settings ? settings->memory_bytes : std::nullopt;
  }

  FakeClock clock_;
  storage::InMemoryStore store_;
  FakeRuntimeDriver driver_;
  EventBus events_;
  ContainerManager manager_;
};

TEST_F(ProfilesTest, ProfilesMergeInOrderAndOwnKeysWin) {
  ASSERT_TRUE(manager_.CreateProfile("big", "", {{"limits.memory", "512MiB"},
                                                 {"limits.processes", "300"}}, {}).ok());
  ASSERT_TRUE(manager_.CreateProfile("small", "", {{"limits.memory", "256MiB"}}, {}).ok());
  ASSERT_TRUE(Create("web", {"big", "small"}).ok());
  EXPECT_EQ(Memory("web"), 256 * kMiB);
  EXPECT_EQ(driver_.SettingsOf("web")->processes, 300);
  auto expanded = manager_.GetExpanded("web");
  ASSERT_TRUE(expanded.ok());
  EXPECT_EQ(expanded->config_source.at("limits.memory"), "small");
  EXPECT_EQ(expanded->config_source.at("limits.processes"), "big");

  ASSERT_TRUE(manager_.UpdateConfig("web", 0, {{"limits.memory", "128MiB"}}, {}).ok());
  EXPECT_EQ(Memory("web"), 128 * kMiB);
  EXPECT_EQ(manager_.GetExpanded("web")->config_source.at("limits.memory"), "");
  // A profile change reaches the running user live; its own key still wins.
  ProfileChange change;
  change.set = {{"limits.processes", "250"}, {"limits.memory", "64MiB"}};
  ASSERT_TRUE(manager_.UpdateProfile("big", 0, change).ok());
  EXPECT_EQ(driver_.SettingsOf("web")->processes, 250);
  EXPECT_EQ(Memory("web"), 128 * kMiB);

  // A new container without -p gets the default profile.
  ASSERT_TRUE(Create("db", {}, {}, false).ok());
  EXPECT_EQ(store_.Get("db")->profiles, std::vector<std::string>{"default"});
}

TEST_F(ProfilesTest, ARefusedProfileChangeChangesNothing) {
  ASSERT_TRUE(manager_.CreateProfile("small", "", {{"limits.memory", "256MiB"}}, {}).ok());
  ASSERT_TRUE(Create("a", {"small"}).ok());
  ASSERT_TRUE(Create("b", {"small"}).ok());
  const int64_t revision = store_.GetProfile("small")->revision;
  // The kernel refuses the value for a user: nothing is stored, no user changes.
  driver_.FailNext(Op::kApplyLive, absl::FailedPreconditionError("kernel says no"));
  ProfileChange change;
  change.set = {{"limits.memory", "512MiB"}};
  auto update = manager_.UpdateProfile("small", 0, change);
  EXPECT_EQ(update.status().code(), absl::StatusCode::kFailedPrecondition) << update.status();
  EXPECT_THAT(update.status().message(), HasSubstr("unchanged"));
  EXPECT_EQ(store_.GetProfile("small")->revision, revision);
  EXPECT_EQ(Memory("a"), 256 * kMiB);
  EXPECT_EQ(Memory("b"), 256 * kMiB);

  // A stale revision is ABORTED.
  EXPECT_EQ(manager_.UpdateProfile("small", revision + 5, change).status().code(),
            absl::StatusCode::kAborted);
  // Unknown profiles, deleting a used one or default.
  EXPECT_EQ(Create("c", {"nope"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store_.Get("c").ok());
  EXPECT_EQ(manager_.SetProfiles("a", 0, {"nope"}).status().code(), absl::StatusCode::kNotFound);
  auto deleted = manager_.DeleteProfile("small", 0);
  EXPECT_EQ(deleted.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(deleted.message(), HasSubstr("\"a\""));
  EXPECT_EQ(manager_.DeleteProfile("default", 0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProfilesTest, DevicesAreCheckedAndDiskBecomesABindMount) {
  char dir[] = "/tmp/berth-profiles-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  ASSERT_TRUE(Create("web", {}, {}, false).ok());
  auto add = [&](std::string name, Device d) {
    return manager_.UpdateDevices("web", 0, {{std::move(name), std::move(d)}}, {}).status();
  };
  EXPECT_TRUE(add("data", {"disk", {{"source", dir}, {"path", "/data"}, {"readonly", "true"}}})
                  .ok());
  EXPECT_EQ(add("data", {"disk", {{"source", dir}, {"path", "/x"}}}).code(),
            absl::StatusCode::kAlreadyExists);
  for (const auto& bad : std::vector<Device>{
           {"disk", {{"source", "/no/such"}, {"path", "/d"}}},
           {"disk", {{"source", dir}, {"path", "d"}}},
           {"disk", {{"source", dir}, {"path", "/a/../b"}}},
           {"disk", {{"source", dir}, {"path", "/a\nlxc.hook.start = /bin/sh"}}},
           {"disk", {{"source", dir}}},
           {"disk", {{"source", dir}, {"path", "/d"}, {"bogus", "1"}}},
           {"floppy", {}},
           {"nic", {{"network", "br0"}, {"ipv4.address", "10.0.0.300"}}},
           {"proxy", {{"listen", "tcp:0.0.0.0:80"}, {"connect", "ftp:x"}}}}) {
    EXPECT_EQ(add("other", bad).code(), absl::StatusCode::kInvalidArgument) << bad.type;
  }
  EXPECT_EQ(store_.Get("web")->devices.size(), 1u);
  ASSERT_TRUE(manager_.Start("web").ok());
  ASSERT_EQ(driver_.SettingsOf("web")->mounts.size(), 1u);
  EXPECT_EQ(driver_.SettingsOf("web")->mounts[0],
            (runtime::BindMount{.source = dir, .path = "/data", .readonly = true}));
  ASSERT_TRUE(manager_.Stop("web", absl::Seconds(1), true).ok());

  // A nic device is refused at start: there are no managed networks yet.
  ASSERT_TRUE(add("eth1", {"nic", {{"network", "berthbr0"}}}).ok());
  auto started = manager_.Start("web");
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.status().message(), HasSubstr("not available yet"));
  ::rmdir(dir);
}

}  // namespace
}  // namespace berth::core

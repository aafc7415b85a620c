#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

using ::testing::HasSubstr;

class DaemonConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    // Per process: ctest runs each test case in a process of its own, two at a time.
    std::string path =
        ::testing::TempDir() + "/berthd-test-" + std::to_string(getpid()) + ".conf";
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(DaemonConfigTest, DefaultsAreValid) {
  DaemonConfig config;
  EXPECT_TRUE(ValidateConfig(config).ok());
  EXPECT_EQ(config.socket_path, "/run/berth/berth.sock");
  EXPECT_EQ(config.state_dir, "/var/lib/berth");
}

TEST_F(DaemonConfigTest, ReadsKeysCommentsAndQuotes) {
  DaemonConfig config;
  ASSERT_TRUE(LoadConfigFile(Write("# berthd\n\nsocket = \"/tmp/b.sock\"\n"
                                   "state_dir=/srv/berth\n  log_level = debug  # loud\n"),
                             &config)
                  .ok());
  EXPECT_EQ(config.socket_path, "/tmp/b.sock");
  EXPECT_EQ(config.state_dir, "/srv/berth");
}

TEST_F(DaemonConfigTest, EventRetentionKeysAreWholePositiveNumbers) {
  DaemonConfig config;
  EXPECT_EQ(config.events_keep, 10000);
  EXPECT_EQ(config.events_max_age_days, 7);
  // Per-process file: ctest runs test cases in parallel processes.
  const std::string path =
      ::testing::TempDir() + "/berthd-events-" + std::to_string(getpid()) + ".conf";
  std::ofstream(path) << "events_keep = 500\nevents_max_age_days = 30  # a month\n";
  ASSERT_TRUE(LoadConfigFile(path, &config).ok());
  EXPECT_EQ(config.events_keep, 500);
  EXPECT_EQ(config.events_max_age_days, 30);

  std::ofstream(path) << "events_keep = lots\n";
  absl::Status status = LoadConfigFile(path, &config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr(":1: events_keep must be a whole number, got \"lots\""));

  std::ofstream(path) << "events_max_age_days = 0\n";
  status = LoadConfigFile(path, &config);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("events_max_age_days must be between 1 and 36500, got 0"));
  config = DaemonConfig();
  config.events_keep = 0;
  EXPECT_THAT(std::string(ValidateConfig(config).message()),
              HasSubstr("events_keep must be at least 1"));
  std::remove(path.c_str());
}

TEST_F(DaemonConfigTest, NamesFileAndLineOfAnUnknownKey) {
  DaemonConfig config;
  absl::Status s = LoadConfigFile(Write("socket = /a\nsokcet = /b\n"), &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(".conf:2"));
  EXPECT_THAT(s.message(), HasSubstr("\"sokcet\""));
}

TEST_F(DaemonConfigTest, RefusesRelativePathsAndUnknownLevels) {
  DaemonConfig config;
  EXPECT_THAT(LoadConfigFile(Write("state_dir = var/lib\n"), &config).message(),
              HasSubstr("absolute path"));
  config = {};
  EXPECT_THAT(LoadConfigFile(Write("log_level = chatty\n"), &config).message(),
              HasSubstr("\"chatty\""));
  config = {};
  EXPECT_EQ(LoadConfigFile(Write("just words\n"), &config).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DaemonConfigTest, MissingFileIsNotFoundNamingThePath) {
  DaemonConfig config;
  absl::Status s = LoadConfigFile("/nonexistent/berthd.conf", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("/nonexistent/berthd.conf"));
}

}  // namespace
}  // namespace berth

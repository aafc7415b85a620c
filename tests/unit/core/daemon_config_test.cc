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
    std::string path = ::testing::TempDir() + "/berthd-test.conf";
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

TEST_F(DaemonConfigTest, NamesFileAndLineOfAnUnknownKey) {
  DaemonConfig config;
  absl::Status s = LoadConfigFile(Write("socket = /a\nsokcet = /b\n"), &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("berthd-test.conf:2"));
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

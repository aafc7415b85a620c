#include "lxc/log_errors.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kStartLog[] =
    "lxc t1 20261126175202.119 INFO     start - ../src/lxc/start.c:lxc_init:881 - Container "
    "\"t1\" is initialized\n"
    "lxc t1 20261126175202.120 WARN     cgfsng - ../src/lxc/cgroups/cgfsng.c:x:1 - Ignoring\n"
    "lxc t1 20261126175202.136 ERROR    conf - ../src/lxc/conf.c:lxc_setup_rootfs:1 - Failed to "
    "access \"/nope\"\n"
    "lxc t1 20261126175202.137 ERROR    start - ../src/lxc/start.c:__lxc_start:2 - Failed to "
    "spawn container \"t1\"\n"
    "berth-lxc-helper t1 20261126175202.138 CRIT     x - y.c:z:3 - Critical thing\n"
    "lxc t1 20261126175202.139 NOTICE   start - ../src/lxc/start.c:x:1 - ERROR in message only\n";

TEST(ExtractErrorLinesTest, KeepsErrorAndWorseFromTheLevelWordOn) {
  EXPECT_THAT(
      ExtractErrorLines(kStartLog),
      ElementsAre("ERROR conf - ../src/lxc/conf.c:lxc_setup_rootfs:1 - Failed to access \"/nope\"",
                  "ERROR start - ../src/lxc/start.c:__lxc_start:2 - Failed to spawn container "
                  "\"t1\"",
                  "CRIT x - y.c:z:3 - Critical thing"));
}

TEST(ExtractErrorLinesTest, NothingWhenThereAreNoErrors) {
  EXPECT_THAT(ExtractErrorLines(""), IsEmpty());
  EXPECT_THAT(ExtractErrorLines("lxc t1 1.2 INFO a - b\n\n"), IsEmpty());
}

TEST(ExtractErrorLinesTest, KeepsTheLastLinesAndBoundsTheirLength) {
  std::string log;
  for (int i = 0; i < 30; ++i) {
    log += "lxc t 1.0 ERROR c - f:1 - line " + std::to_string(i) + "\n";
  }
  log += "lxc t 1.0 ERROR c - " + std::string(2000, 'x') + "\n";
  std::vector<std::string> lines = ExtractErrorLines(log);
  ASSERT_EQ(lines.size(), kMaxErrorLines);
  EXPECT_EQ(lines.front(), "ERROR c - f:1 - line 11");
  EXPECT_EQ(lines.back().size(), kMaxErrorLineBytes);
}

TEST(ErrorLinesSinceTest, ReadsOnlyWhatFollowsTheOffset) {
  char path[] = "/tmp/berth-log-test-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string before = "lxc t 1.0 ERROR old - f:1 - from an earlier start\n";
  ASSERT_EQ(::write(fd, before.data(), before.size()), static_cast<ssize_t>(before.size()));
  const off_t offset = LogOffset(path);
  EXPECT_EQ(offset, static_cast<off_t>(before.size()));
  const std::string after = "lxc t 2.0 INFO new - f:1 - fine\nlxc t 2.0 ERROR new - f:2 - bad\n";
  ASSERT_EQ(::write(fd, after.data(), after.size()), static_cast<ssize_t>(after.size()));
  ::close(fd);

  EXPECT_THAT(ErrorLinesSince(path, offset), ElementsAre("ERROR new - f:2 - bad"));
  EXPECT_THAT(ErrorLinesSince(path, 0),
              ElementsAre("ERROR old - f:1 - from an earlier start", "ERROR new - f:2 - bad"));
  // A log that was truncated since the offset was taken is read from its start.
  ASSERT_EQ(::truncate(path, 0), 0);
  EXPECT_THAT(ErrorLinesSince(path, offset), IsEmpty());
  ::unlink(path);
  EXPECT_THAT(ErrorLinesSince(path, 0), IsEmpty());
  EXPECT_EQ(LogOffset(path), 0);
}

TEST(JoinErrorLinesTest, JoinsOrSaysNone) {
  EXPECT_EQ(JoinErrorLines({"a", "b"}, "none"), "a; b");
  EXPECT_EQ(JoinErrorLines({}, "none"), "none");
}

}  // namespace
}  // namespace berth::runtime::lxc

#include "lxc/exit_status_feed.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

// What liblxc's monitor writes (struct lxc_msg in liblxc's src/lxc/monitor.h).
struct Msg {
  int type;
  char name[NAME_MAX + 1];
  int value;
};

std::string Encode(int type, const std::string& name, int value) {
  Msg m = {};
  m.type = type;
  std::strncpy(m.name, name.c_str(), sizeof(m.name) - 1);
  m.value = value;
  return std::string(reinterpret_cast<const char*>(&m), sizeof(m));
}

constexpr int kState = 0;
constexpr int kExitCode = 2;

TEST(ExitStatusFeedTest, FifoPathIsLiblxcs) {
  EXPECT_EQ(ExitStatusFeed::FifoPath("/run", "/var/lib/berth/containers"),
            "/run/lxc//var/lib/berth/containers/monitor-fifo");
}

TEST(ExitStatusFeedTest, DecodesOnlyExitCodeMessages) {
  EXPECT_EQ(ExitStatusFeed::Decode(Encode(kExitCode, "web", 9 << 8)),
            std::make_pair(std::string("web"), 9 << 8));
  EXPECT_EQ(ExitStatusFeed::Decode(Encode(kState, "web", 3)), std::nullopt);
  EXPECT_EQ(ExitStatusFeed::Decode(Encode(kExitCode, "", 0)), std::nullopt);
  EXPECT_EQ(ExitStatusFeed::Decode("short"), std::nullopt);
}

TEST(ExitStatusFeedTest, WaitStatusesBecomeShellStyleCodes) {
  EXPECT_EQ(ExitStatusFeed::ExitCodeFromWaitStatus(0), 0);
  EXPECT_EQ(ExitStatusFeed::ExitCodeFromWaitStatus(3 << 8), 3);  // exit(3)
  EXPECT_EQ(ExitStatusFeed::ExitCodeFromWaitStatus(SIGKILL), 137);
  EXPECT_EQ(ExitStatusFeed::ExitCodeFromWaitStatus(SIGTERM), 143);
  EXPECT_EQ(ExitStatusFeed::ExitCodeFromWaitStatus(SIGINT), 0);  // reboot(2) power off / halt
}

class FeedOnFifo : public ::testing::Test {
 protected:
  FeedOnFifo() {
    char tmpl[] = "/tmp/berth-feed-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = ExitStatusFeed::FifoPath(dir_, "/some/lxcpath");
  }
  ~FeedOnFifo() override { std::filesystem::remove_all(dir_); }

  // Writes as liblxc does: open O_WRONLY|O_NONBLOCK (fails when there is no reader), one write.
  bool Send(const std::string& bytes) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
    ::close(fd);
    return ok;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(FeedOnFifo, MakesTheFifoAndMatchesCodesToNames) {
  auto feed = ExitStatusFeed::Open(path_);
  ASSERT_TRUE(feed.ok()) << feed.status();
  ASSERT_TRUE(Send(Encode(kState, "web", 4)));
  ASSERT_TRUE(Send(Encode(kExitCode, "web", SIGKILL)));
  ASSERT_TRUE(Send(Encode(kExitCode, "db", 1 << 8)));
  EXPECT_EQ((*feed)->Take("db", absl::Seconds(10)), 1);
  EXPECT_EQ((*feed)->Take("web", absl::Seconds(10)), 137);
  // Taken once; nothing made up for a name without a message.
  EXPECT_EQ((*feed)->Take("web", absl::Milliseconds(50)), std::nullopt);
  ASSERT_TRUE(Send(Encode(kExitCode, "old", 0)));
  ASSERT_TRUE((*feed)->Take("old", absl::Seconds(10)).has_value());
  // Forget drops a status that arrived: once "marker" is seen, "old" (sent before) is recorded.
  ASSERT_TRUE(Send(Encode(kExitCode, "old", 0)));
  ASSERT_TRUE(Send(Encode(kExitCode, "marker", 0)));
  ASSERT_TRUE((*feed)->Take("marker", absl::Seconds(10)).has_value());
  (*feed)->Forget("old");
  EXPECT_EQ((*feed)->Take("old", absl::Milliseconds(50)), std::nullopt);

  // Gone with the feed: the FIFO and the directories it made, not the ones that were there.
  feed->reset();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/lxc"));
  EXPECT_TRUE(std::filesystem::exists(dir_));
}

TEST_F(FeedOnFifo, ASecondReaderIsRefused) {
  auto first = ExitStatusFeed::Open(path_);
  ASSERT_TRUE(first.ok());
  // The lock is per process (fcntl), so the second reader must be another process.
  pid_t child = fork();
  if (child == 0) {
    auto second = ExitStatusFeed::Open(path_);
    _exit(!second.ok() && absl::IsFailedPrecondition(second.status()) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace berth::runtime::lxc

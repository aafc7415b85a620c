#include "lxc/exit_monitor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// A child process that sleeps until killed; killed and reaped on destruction.
class Sleeper {
 public:
  Sleeper() {
    char arg0[] = "sleep";
    char arg1[] = "1000";
    char* argv[] = {arg0, arg1, nullptr};
    char* envp[] = {nullptr};
    EXPECT_EQ(::posix_spawn(&pid_, "/bin/sleep", nullptr, nullptr, argv, envp), 0);
  }
  ~Sleeper() { Kill(); }

  UniqueFd Pidfd() const { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0))); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  pid_t pid_ = 0;
};

class Recorder {
 public:
  ExitMonitor::Callback Callback() {
    return [this](const std::string& name) {
      absl::MutexLock lock(&mu_);
      names_.push_back(name);
    };
  }
  bool WaitForCount(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return names_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), kTimeout);
  }
  std::vector<std::string> Names() {
    absl::MutexLock lock(&mu_);
    return names_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
};

TEST(ExitMonitorTest, ReportsAnExitOnceAndForgetsTheWatch) {
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor = ExitMonitor::Create(recorder.Callback());
  ASSERT_TRUE(monitor.ok());
  Sleeper a;
  ASSERT_TRUE((*monitor)->Watch("a", a.Pidfd()).ok());
  EXPECT_TRUE((*monitor)->IsWatched("a"));
  a.Kill();
  ASSERT_TRUE(recorder.WaitForCount(1));
  EXPECT_THAT(recorder.Names(), ElementsAre("a"));
  EXPECT_FALSE((*monitor)->IsWatched("a"));
}

TEST(ExitMonitorTest, ForgottenWatchesAreNotReported) {
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor = ExitMonitor::Create(recorder.Callback());
  ASSERT_TRUE(monitor.ok());
  Sleeper a;
  Sleeper b;
  ASSERT_TRUE((*monitor)->Watch("a", a.Pidfd()).ok());
  ASSERT_TRUE((*monitor)->Watch("b", b.Pidfd()).ok());
  (*monitor)->Forget("a");
  EXPECT_FALSE((*monitor)->IsWatched("a"));
  a.Kill();  // before b: had it been reported, it would come first
  b.Kill();
  ASSERT_TRUE(recorder.WaitForCount(1));
  EXPECT_THAT(recorder.Names(), ElementsAre("b"));
}

TEST(ExitMonitorTest, AWatchReplacesTheOldOneForTheSameName) {
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor = ExitMonitor::Create(recorder.Callback());
  ASSERT_TRUE(monitor.ok());
  Sleeper old_init;
  Sleeper new_init;
  Sleeper marker;
  ASSERT_TRUE((*monitor)->Watch("c", old_init.Pidfd()).ok());
  ASSERT_TRUE((*monitor)->Watch("c", new_init.Pidfd()).ok());
  ASSERT_TRUE((*monitor)->Watch("m", marker.Pidfd()).ok());
  old_init.Kill();
  marker.Kill();
  ASSERT_TRUE(recorder.WaitForCount(1));
  EXPECT_THAT(recorder.Names(), ElementsAre("m"));
  new_init.Kill();
  ASSERT_TRUE(recorder.WaitForCount(2));
  EXPECT_THAT(recorder.Names(), ElementsAre("m", "c"));
}

TEST(ExitMonitorTest, CallbackMayWatchAgain) {
  Sleeper second;
  std::unique_ptr<ExitMonitor>* self = nullptr;
  Recorder recorder;
  auto record = recorder.Callback();
  absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor =
      ExitMonitor::Create([&](const std::string& name) {
        if (name == "first") {
          EXPECT_TRUE((*self)->Watch("second", second.Pidfd()).ok());
        }
        record(name);  // after the watch, so the test kills `second` only once it is watched
      });
  ASSERT_TRUE(monitor.ok());
  self = &*monitor;
  Sleeper first;
  ASSERT_TRUE((*monitor)->Watch("first", first.Pidfd()).ok());
  first.Kill();
  ASSERT_TRUE(recorder.WaitForCount(1));
  second.Kill();
  ASSERT_TRUE(recorder.WaitForCount(2));
  EXPECT_THAT(recorder.Names(), ElementsAre("first", "second"));
}

TEST(ExitMonitorTest, DestructionStopsTheThreadWithWatchesPending) {
  Recorder recorder;
  Sleeper a;
  {
    absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor = ExitMonitor::Create(recorder.Callback());
    ASSERT_TRUE(monitor.ok());
    ASSERT_TRUE((*monitor)->Watch("a", a.Pidfd()).ok());
  }
  EXPECT_THAT(recorder.Names(), ElementsAre());
}

TEST(ExitMonitorTest, WatchOfABadFdFails) {
  Recorder recorder;
  absl::StatusOr<std::unique_ptr<ExitMonitor>> monitor = ExitMonitor::Create(recorder.Callback());
  ASSERT_TRUE(monitor.ok());
  EXPECT_FALSE((*monitor)->Watch("x", UniqueFd(-1)).ok());
  EXPECT_FALSE((*monitor)->IsWatched("x"));
}

}  // namespace
}  // namespace berth::runtime::lxc

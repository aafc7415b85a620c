#include "watchdog.h"

#include <atomic>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

// Keeps posted tasks until the test runs them: an executor whose threads are all busy.
class HeldExecutor : public core::Executor {
 public:
  absl::Status Post(core::Task task) override {
    absl::MutexLock lock(&mu_);
    tasks_.push_back(std::move(task));
    ++posted_;
    return absl::OkStatus();
  }
  bool WaitForPosted(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return posted_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  void RunOne() {
    core::Task task;
    {
      absl::MutexLock lock(&mu_);
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    std::move(task)();
  }
  int posted() {
    absl::MutexLock lock(&mu_);
    return posted_;
  }

 private:
  absl::Mutex mu_;
  std::deque<core::Task> tasks_ ABSL_GUARDED_BY(mu_);
  int posted_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ExecutorWatchdogTest, PingsOnlyFromTasksTheExecutorRuns) {
  HeldExecutor executor;
  std::atomic<int> pings{0};
  {
    ExecutorWatchdog watchdog(&executor, absl::Milliseconds(5), [&] { ++pings; });
    ASSERT_TRUE(executor.WaitForPosted(1, absl::Seconds(10)));
    // The pool is stuck: no ping, and no second probe piles up behind the first over 20 periods.
    EXPECT_FALSE(executor.WaitForPosted(2, absl::Milliseconds(100)));
    EXPECT_EQ(pings.load(), 0);
    executor.RunOne();
    EXPECT_EQ(pings.load(), 1);
    // Once the probe ran, the next period posts another.
    ASSERT_TRUE(executor.WaitForPosted(2, absl::Seconds(10)));
    executor.RunOne();
    EXPECT_EQ(pings.load(), 2);
  }
}

TEST(ExecutorWatchdogTest, KeepsPingingThroughARealThreadPool) {
  core::ThreadPoolExecutor executor(2, 16);
  absl::Mutex mu;
  int pings = 0;
  {
    ExecutorWatchdog watchdog(&executor, absl::Milliseconds(2), [&] {
      absl::MutexLock lock(&mu);
      ++pings;
    });
    absl::MutexLock lock(&mu);
    auto three = [&pings]() { return pings >= 3; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(10)));
  }
  executor.Shutdown();
}

}  // namespace
}  // namespace berth

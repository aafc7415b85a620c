#pragma once

#include <cstdint>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/clock.h"
#include "berth/core/executor.h"

namespace berth::core {

// Runs tasks after a delay: restart backoff and autostart delays. A task runs on the timer's own
// thread and must not block (post blocking work to an Executor).
class Timer {
 public:
  virtual ~Timer() = default;
  // Runs `task` once `delay` has passed. Returns an id (never 0) for Cancel. Thread-safe.
  virtual uint64_t After(absl::Duration delay, Task task) = 0;
  // Drops a task that has not started; false when it already ran, runs or was cancelled.
  virtual bool Cancel(uint64_t id) = 0;
};

// One thread sleeping until the earliest deadline (real time).
//
// Threading: After/Cancel only touch the queue under `mu_` and wake the thread; the thread runs
// each due task outside the lock, one at a time, so a task may call After/Cancel.
class ThreadTimer final : public Timer {
 public:
  ThreadTimer();
  ~ThreadTimer() override;  // Drops the tasks not yet due and joins the thread.
  uint64_t After(absl::Duration delay, Task task) override;
  bool Cancel(uint64_t id) override;

 private:
  void Run();

  absl::Mutex mu_;
  // Guarded by mu_: due time and id -> task; id -> due time; whether to stop; whether the queue
  // changed since the thread last looked (wakes it).
  std::map<std::pair<absl::Time, uint64_t>, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, absl::Time> due_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool changed_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts after everything above is initialized
};

// For unit tests: tasks run on the thread that calls Advance, when the FakeClock passes their
// deadline, in deadline order.
class FakeTimer final : public Timer {
 public:
  explicit FakeTimer(FakeClock* clock) : clock_(clock) {}
  uint64_t After(absl::Duration delay, Task task) override;
  bool Cancel(uint64_t id) override;
  // Moves the clock forward by `d`, running every task that comes due on the way.
  void Advance(absl::Duration d);
  size_t Pending();
  // The delay until the earliest pending task, InfiniteDuration when none.
  absl::Duration NextDelay();

 private:
  FakeClock* const clock_;
  absl::Mutex mu_;
  std::map<std::pair<absl::Time, uint64_t>, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, absl::Time> due_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace berth::core

#pragma once

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace berth::core {

using Task = absl::AnyInvocable<void() &&>;

// Runs blocking work (liblxc, SQLite, child processes) off the gRPC threads.
class Executor {
 public:
  virtual ~Executor() = default;
  // Queues `task`. RESOURCE_EXHAUSTED when the queue is full, UNAVAILABLE once shut down; the task
  // is then dropped without running. Thread-safe.
  virtual absl::Status Post(Task task) = 0;
};

// Runs each task at once on the calling thread: for unit tests.
class InlineExecutor final : public Executor {
 public:
  absl::Status Post(Task task) override {
    std::move(task)();
    return absl::OkStatus();
  }
};

// A fixed pool of threads over one bounded FIFO queue.
//
// Threading: operations block for as long as liblxc or a helper process takes (a clean stop takes
// seconds), so the pool is sized for concurrency, not for cores. Operations on one container are
// serialized by the ContainerManager's per-container lock, not by the pool: a thread may wait on that
// lock while another thread finishes the same container's previous operation, which always
// progresses, so the pool cannot deadlock.
//
// A pool made `paused` takes tasks but runs none until Resume(): berthd accepts calls while it
// reconciles at start-up (a socket-activated first call must not fail), and runs them after.
class ThreadPoolExecutor final : public Executor {
 public:
  ThreadPoolExecutor(size_t threads, size_t max_queued, bool paused = false);
  ~ThreadPoolExecutor() override;  // Runs what is queued, then joins.

  absl::Status Post(Task task) override;
  // Starts running tasks (no-op unless made paused). Thread-safe.
  void Resume();
  // Stops taking tasks, runs the queued ones and joins the threads. Idempotent.
  void Shutdown();

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);  // Tasks not yet started.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // Written only by the constructor and Shutdown.
};

}  // namespace berth::core

#include "berth/core/executor.h"

#include <utility>

namespace berth::core {

ThreadPoolExecutor::ThreadPoolExecutor(size_t threads, size_t max_queued, bool paused)
    : max_queued_(max_queued), paused_(paused) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() { Shutdown(); }

absl::Status ThreadPoolExecutor::Post(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("berthd is shutting down");
  if (queue_.size() >= max_queued_) {
    return absl::ResourceExhaustedError("berthd has too many operations queued; retry later");
  }
  queue_.push_back(std::move(task));
  return absl::OkStatus();
}

void ThreadPoolExecutor::Resume() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

void ThreadPoolExecutor::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    paused_ = false;  // What was accepted still runs.
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void ThreadPoolExecutor::Run() {
  for (;;) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPoolExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || (!self->paused_ && !self->queue_.empty());
          },
          this));
      if (queue_.empty()) return;  // Stopping and drained.
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(task)();
  }
}

}  // namespace berth::core

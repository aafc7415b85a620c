#include "berth/core/timer.h"

#include "absl/time/clock.h"

namespace berth::core {

ThreadTimer::ThreadTimer() : thread_([this] { Run(); }) {}

ThreadTimer::~ThreadTimer() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

uint64_t ThreadTimer::After(absl::Duration delay, Task task) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  const absl::Time due = absl::Now() + delay;
  tasks_.emplace(std::make_pair(due, id), std::move(task));
  due_.emplace(id, due);
  changed_ = true;
  return id;
}

bool ThreadTimer::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = due_.find(id);
  if (it == due_.end()) return false;
  tasks_.erase({it->second, id});
  due_.erase(it);
  changed_ = true;
  return true;
}

void ThreadTimer::Run() {
  absl::MutexLock lock(&mu_);
  auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_ || changed_; };
  while (!stop_) {
    changed_ = false;
    if (tasks_.empty()) {
      mu_.Await(absl::Condition(&woken));
      continue;
    }
    auto first = tasks_.begin();
    if (absl::Now() < first->first.first) {
      mu_.AwaitWithDeadline(absl::Condition(&woken), first->first.first);
      continue;
    }
    Task task = std::move(first->second);
    due_.erase(first->first.second);
    tasks_.erase(first);
    mu_.Unlock();
    std::move(task)();
    mu_.Lock();
  }
}

uint64_t FakeTimer::After(absl::Duration delay, Task task) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  const absl::Time due = clock_->Now() + delay;
  tasks_.emplace(std::make_pair(due, id), std::move(task));
  due_.emplace(id, due);
  return id;
}

bool FakeTimer::Cancel(uint64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = due_.find(id);
  if (it == due_.end()) return false;
  tasks_.erase({it->second, id});
  due_.erase(it);
  return true;
}

void FakeTimer::Advance(absl::Duration d) {
  const absl::Time target = clock_->Now() + d;
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      if (tasks_.empty() || tasks_.begin()->first.first > target) break;
      auto first = tasks_.begin();
      const absl::Time due = first->first.first;
      if (due > clock_->Now()) clock_->Advance(due - clock_->Now());
      task = std::move(first->second);
      due_.erase(first->first.second);
      tasks_.erase(first);
    }
    std::move(task)();
  }
  if (target > clock_->Now()) clock_->Advance(target - clock_->Now());
}

size_t FakeTimer::Pending() {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

absl::Duration FakeTimer::NextDelay() {
  absl::MutexLock lock(&mu_);
  if (tasks_.empty()) return absl::InfiniteDuration();
  return tasks_.begin()->first.first - clock_->Now();
}

}  // namespace berth::core

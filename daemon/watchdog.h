#pragma once

// systemd's watchdog (WatchdogSec=) for berthd: the ping proves the executor still runs work.

#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/executor.h"

namespace berth {

// Every `interval` a thread posts a no-op probe to the executor; the probe, when an executor
// thread runs it, calls `ping` (sd_notify "WATCHDOG=1"). So pings stop when every executor thread
// is wedged or the queue is full, and systemd restarts berthd (containers keep running). At most
// one probe is queued at a time, so a busy pool is not flooded.
//
// Threading: one thread from construction to destruction; `ping` runs on executor threads. The
// destructor joins the thread; a probe still queued after that only touches shared state.
class ExecutorWatchdog {
 public:
  ExecutorWatchdog(core::Executor* executor, absl::Duration interval, std::function<void()> ping)
      : executor_(executor), interval_(interval), probe_(std::make_shared<Probe>()) {
    probe_->ping = std::move(ping);
    thread_ = std::thread([this] { Loop(); });
  }
  ~ExecutorWatchdog() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  ExecutorWatchdog(const ExecutorWatchdog&) = delete;
  ExecutorWatchdog& operator=(const ExecutorWatchdog&) = delete;

 private:
  struct Probe {
    std::function<void()> ping;
    std::atomic<bool> in_flight{false};  // A probe is queued or running.
  };

  void Loop() {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), interval_)) {
      if (probe_->in_flight.exchange(true)) continue;  // The last probe has not run yet.
      auto status = executor_->Post([probe = probe_] {
        probe->ping();
        probe->in_flight = false;
      });
      if (!status.ok()) probe_->in_flight = false;  // Full or shut down: no ping this round.
    }
  }

  core::Executor* const executor_;
  const absl::Duration interval_;
  const std::shared_ptr<Probe> probe_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;  // Set by the destructor.
  std::thread thread_;
};

}  // namespace berth

#pragma once

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace berth::core {

// Where the core reads the time. Tests use FakeClock so stored timestamps are predictable.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;  // Thread-safe.
};

class RealClock final : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::core

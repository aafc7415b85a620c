#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "berth/storage/event_log.h"

namespace berth::storage {

// The in-memory twin of SqliteEventLog for tests: the same contract suite runs against both, with
// the same errors and times truncated to whole nanoseconds. Nothing survives the object.
class InMemoryEventLog final : public EventLog {
 public:
  InMemoryEventLog() = default;
  InMemoryEventLog(const InMemoryEventLog&) = delete;
  InMemoryEventLog& operator=(const InMemoryEventLog&) = delete;

  absl::Status Append(const StoredEvent& event) override;
  absl::StatusOr<std::vector<StoredEvent>> ReadAfter(int64_t after_id, size_t limit) override;
  absl::StatusOr<int64_t> LastId() override;
  absl::StatusOr<int64_t> Prune(int64_t keep_count, absl::Duration max_age,
                                absl::Time now) override;

  // For tests: makes every later call fail with `status` (OK to heal).
  void FailWith(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Mutex mu_;
  std::map<int64_t, StoredEvent> events_ ABSL_GUARDED_BY(mu_);  // By id.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::storage

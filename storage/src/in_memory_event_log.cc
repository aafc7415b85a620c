#include "berth/storage/in_memory_event_log.h"

#include <utility>

#include "record_rules.h"

namespace berth::storage {

absl::Status InMemoryEventLog::Append(const StoredEvent& event) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  const int64_t last_id = events_.empty() ? 0 : events_.rbegin()->first;
  if (absl::Status status = CheckAppendable(event, last_id); !status.ok()) return status;
  StoredEvent stored = event;
  stored.time = FromStoredNanos(ToStoredNanos(event.time));
  events_.emplace(stored.id, std::move(stored));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredEvent>> InMemoryEventLog::ReadAfter(int64_t after_id,
                                                                     size_t limit) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  std::vector<StoredEvent> events;
  for (auto it = events_.upper_bound(after_id); it != events_.end() && events.size() < limit;
       ++it) {
    events.push_back(it->second);
  }
  return events;
}

absl::StatusOr<int64_t> InMemoryEventLog::LastId() {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  return events_.empty() ? 0 : events_.rbegin()->first;
}

absl::StatusOr<int64_t> InMemoryEventLog::Prune(int64_t keep_count, absl::Duration max_age,
                                                absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) return failure_;
  if (events_.empty()) return 0;
  const int64_t keep = EffectiveKeepCount(keep_count);
  const int64_t cutoff_ns = ToStoredNanos(now - max_age);
  const int64_t newest = events_.rbegin()->first;
  int64_t removed = 0;
  // As SqliteEventLog: first every event older than the cutoff but the newest, then the oldest
  // ids beyond `keep`.
  for (auto it = events_.begin(); it != events_.end() && it->first != newest;) {
    if (ToStoredNanos(it->second.time) < cutoff_ns) {
      it = events_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  while (static_cast<int64_t>(events_.size()) > keep) {
    events_.erase(events_.begin());
    ++removed;
  }
  return removed;
}

void InMemoryEventLog::FailWith(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

}  // namespace berth::storage

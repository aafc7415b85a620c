#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::storage {

// One event as stored. The log does not interpret `type` or `state`: they are the core's enum
// values, kept as numbers so that storage needs nothing of the core.
struct StoredEvent {
  int64_t id = 0;  // Given by the caller (the event bus); strictly increasing.
  absl::Time time = absl::UnixEpoch();
  int type = 0;
  std::string container;            // "" for daemon events.
  std::optional<int> state;         // The live state after the event, when it has one.
  std::string detail;
  std::optional<int> exit_code;

  friend bool operator==(const StoredEvent&, const StoredEvent&) = default;
};

// The durable event log: what `berth monitor --since` replays. Implementations: SqliteEventLog
// (the `events` table of berthd's database, see SqliteStore::events()) and InMemoryEventLog
// (tests), both held to one contract suite (tests/unit/storage/event_log_contract_test.cc).
//
// Every method is thread-safe and may block (disk I/O). Errors: INVALID_ARGUMENT (an id not above
// LastId(), a time SQLite cannot store), INTERNAL/DATA_LOSS (the database failed; the message says
// why).
class EventLog {
 public:
  virtual ~EventLog() = default;

  // Stores `event`. Its id must be greater than every id ever appended (also pruned ones), so
  // that ids are never reused; INVALID_ARGUMENT otherwise.
  virtual absl::Status Append(const StoredEvent& event) = 0;

  // At most `limit` stored events with id > `after_id`, in id order.
  virtual absl::StatusOr<std::vector<StoredEvent>> ReadAfter(int64_t after_id, size_t limit) = 0;

  // The greatest id ever appended (pruned events count), 0 for an empty log.
  virtual absl::StatusOr<int64_t> LastId() = 0;

  // Removes events older than `now - max_age` and then the oldest ones beyond the newest
  // `keep_count`. Returns how many went. The last id survives pruning (LastId does not go down).
  virtual absl::StatusOr<int64_t> Prune(int64_t keep_count, absl::Duration max_age,
                                        absl::Time now) = 0;
};

}  // namespace berth::storage

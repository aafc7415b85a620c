#pragma once

#include <cstdint>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/storage/event_log.h"

namespace berth::storage {

namespace sqlite {
class Database;
}  // namespace sqlite

// The `events` table of berthd's state database (schema migration 2). Obtained from
// SqliteStore::events(): it shares the store's one connection and its mutex, so the database keeps
// a single writer, and it lives as long as the store.
class SqliteEventLog final : public EventLog {
 public:
  SqliteEventLog(const SqliteEventLog&) = delete;
  SqliteEventLog& operator=(const SqliteEventLog&) = delete;

  absl::Status Append(const StoredEvent& event) override;
  absl::StatusOr<std::vector<StoredEvent>> ReadAfter(int64_t after_id, size_t limit) override;
  absl::StatusOr<int64_t> LastId() override;
  absl::StatusOr<int64_t> Prune(int64_t keep_count, absl::Duration max_age,
                                absl::Time now) override;

 private:
  friend class SqliteStore;
  // `mu` guards every use of `db`; both belong to the SqliteStore.
  SqliteEventLog(absl::Mutex* mu, sqlite::Database* db) : mu_(mu), db_(db) {}

  absl::Mutex* const mu_;
  sqlite::Database* const db_;  // Used only with *mu_ held.
};

}  // namespace berth::storage

#include "berth/storage/sqlite_event_log.h"

#include <string_view>
#include <utility>

#include "record_rules.h"
#include "sqlite.h"

namespace berth::storage {
namespace {

using sqlite::ScopedStatement;
using sqlite::Transaction;

#define BERTH_EVENT_COLUMNS "id, time_ns, type, container, state, detail, exit_code"
constexpr std::string_view kInsertEvent =
    "INSERT INTO events (" BERTH_EVENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kSelectAfter =
    "SELECT " BERTH_EVENT_COLUMNS " FROM events WHERE id > ?1 ORDER BY id LIMIT ?2";
#undef BERTH_EVENT_COLUMNS
constexpr std::string_view kAppendSynchronous = "PRAGMA synchronous = NORMAL";
constexpr std::string_view kStoreSynchronous = "PRAGMA synchronous = FULL";
constexpr std::string_view kLastId = "SELECT COALESCE(MAX(id), 0) FROM events";
// The newest event always stays (see EffectiveKeepCount).
constexpr std::string_view kPruneOlder =
    "DELETE FROM events WHERE time_ns < ?1 AND id < (SELECT MAX(id) FROM events)";
constexpr std::string_view kPruneBeyond =
    "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)";

absl::StatusOr<int64_t> QueryLastId(sqlite::Database& db) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kLastId);
  if (!select.ok()) return select.status();
  absl::StatusOr<bool> row = (*select)->Step();
  if (!row.ok()) return row.status();
  return *row ? (*select)->ColumnInt64(0) : 0;
}

std::optional<int64_t> Widen(std::optional<int> value) {
  if (!value.has_value()) return std::nullopt;
  return *value;
}

std::optional<int> Narrow(std::optional<int64_t> value) {
  if (!value.has_value()) return std::nullopt;
  return static_cast<int>(*value);
}

}  // namespace

absl::Status SqliteEventLog::Append(const StoredEvent& event) {
  absl::MutexLock lock(mu_);
  // An event is delivered right after this commit, so its fsync would be on every subscriber's
  // path. Appends commit with synchronous=NORMAL instead: in WAL mode that survives berthd being
  // killed (the frames are in the WAL file), and the next FULL commit of the store (any container
  // change) makes them durable; only a power loss can take the newest events with it. Container
  // definitions keep FULL: the connection goes back to it before the lock is released.
  if (absl::Status status = db_->Exec(kAppendSynchronous); !status.ok()) return status;
  absl::Status appended = sqlite::RetryWhileBusy([&]() -> absl::Status {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    absl::StatusOr<int64_t> last_id = QueryLastId(*db_);
    if (!last_id.ok()) return last_id.status();
    if (absl::Status status = CheckAppendable(event, *last_id); !status.ok()) return status;
    absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertEvent);
    if (!insert.ok()) return insert.status();
    if (absl::Status status = (*insert)
                                  ->Bind(1, event.id)
                                  .Bind(2, ToStoredNanos(event.time))
                                  .Bind(3, static_cast<int64_t>(event.type))
                                  .Bind(4, event.container)
                                  .Bind(5, Widen(event.state))
                                  .Bind(6, event.detail)
                                  .Bind(7, Widen(event.exit_code))
                                  .Run();
        !status.ok()) {
      return status;
    }
    return transaction.Commit();
  });
  if (absl::Status status = db_->Exec(kStoreSynchronous); !status.ok()) return status;
  return appended;
}

absl::StatusOr<std::vector<StoredEvent>> SqliteEventLog::ReadAfter(int64_t after_id,
                                                                   size_t limit) {
  absl::MutexLock lock(mu_);
  absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectAfter);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, after_id).Bind(2, static_cast<int64_t>(limit));
  std::vector<StoredEvent> events;
  while (true) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return events;
    const sqlite::Statement& r = **select;
    events.push_back(StoredEvent{.id = r.ColumnInt64(0),
                                 .time = FromStoredNanos(r.ColumnInt64(1)),
                                 .type = static_cast<int>(r.ColumnInt64(2)),
                                 .container = r.ColumnText(3),
                                 .state = Narrow(r.ColumnOptionalInt64(4)),
                                 .detail = r.ColumnText(5),
                                 .exit_code = Narrow(r.ColumnOptionalInt64(6))});
  }
}

absl::StatusOr<int64_t> SqliteEventLog::LastId() {
  absl::MutexLock lock(mu_);
  return QueryLastId(*db_);
}

absl::StatusOr<int64_t> SqliteEventLog::Prune(int64_t keep_count, absl::Duration max_age,
                                              absl::Time now) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::StatusOr<int64_t> {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    int64_t removed = 0;
    {
      absl::StatusOr<ScopedStatement> older = db_->Cached(kPruneOlder);
      if (!older.ok()) return older.status();
      if (absl::Status status = (*older)->Bind(1, ToStoredNanos(now - max_age)).Run();
          !status.ok()) {
        return status;
      }
      removed += (*older)->Changes();
    }
    {
      absl::StatusOr<ScopedStatement> beyond = db_->Cached(kPruneBeyond);
      if (!beyond.ok()) return beyond.status();
      if (absl::Status status = (*beyond)->Bind(1, EffectiveKeepCount(keep_count)).Run();
          !status.ok()) {
        return status;
      }
      removed += (*beyond)->Changes();
    }
    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
    return removed;
  });
}

}  // namespace berth::storage

#pragma once

// RAII wrappers for the SQLite C API, internal to storage/: Database (one connection), Statement
// (one compiled statement), ScopedStatement (a lease on a cached statement), Transaction (BEGIN in
// the constructor, ROLLBACK in the destructor unless committed) and RetryWhileBusy (reruns a whole
// transaction while another process holds the write lock).
//
// None of these classes is thread-safe: whoever owns a Database serializes every use of it and of
// its statements (SqliteStore holds a mutex). Never use a connection in a child after fork().

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "c_ptr.h"

namespace berth::storage::sqlite {

// The status for a failed SQLite call: DATA_LOSS for SQLITE_CORRUPT and SQLITE_NOTADB, INTERNAL
// for everything else. The message is "<context>: <sqlite's message>"; the extended result code
// rides along as a payload (see ResultCodeOf).
absl::Status ErrorStatus(int result_code, absl::string_view context, absl::string_view message);

// The extended SQLite result code a status was built from, if ErrorStatus built it.
std::optional<int> ResultCodeOf(const absl::Status& status);

// True when `status` says another connection held a lock for longer than the busy timeout
// (SQLITE_BUSY or SQLITE_LOCKED, any extended variant).
bool IsBusy(const absl::Status& status);

class Statement;
class ScopedStatement;

// One SQLite connection. Move-only; closes the connection when destroyed (statements it cached
// first).
class Database {
 public:
  // Opens `filename` with sqlite3_open_v2 and `flags` (SQLITE_OPEN_*; a URI when flags include
  // SQLITE_OPEN_URI). Adds SQLITE_OPEN_EXRESCODE and SQLITE_OPEN_NOMUTEX (the owner serializes).
  // Sets no pragma. Errors name `filename`.
  static absl::StatusOr<Database> Open(const std::string& filename, int flags);

  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  ~Database() = default;

  sqlite3* handle() const { return db_.get(); }

  // Runs `sql`: one or more statements separated by ';'. Rows are discarded.
  absl::Status Exec(std::string_view sql);

  // Compiles one statement.
  absl::StatusOr<Statement> Prepare(std::string_view sql);

  // Returns a lease on a statement compiled once per connection and kept for its life. The
  // statement comes with no bindings; it is reset when the lease goes. Do not hold two leases on
  // the same SQL at once.
  absl::StatusOr<ScopedStatement> Cached(std::string_view sql);

  // Runs a query and returns the first column of its first row (PRAGMA reads, counts).
  // INTERNAL when there is no row.
  absl::StatusOr<int64_t> QueryInt(std::string_view sql);
  absl::StatusOr<std::string> QueryText(std::string_view sql);

  // ErrorStatus for `result_code` with this connection's current error message.
  absl::Status Error(int result_code, absl::string_view context) const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  CPtr<sqlite3, sqlite3_close_v2> db_;
  // Declared after db_ so that it is destroyed (its statements finalized) before the connection.
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> cache_;
};

// One compiled statement. Binding errors are kept and reported by the next Step or Run, so binds
// chain: `stmt.Bind(1, name).Bind(2, revision).Run()`. Parameter indices start at 1, column
// indices at 0.
class Statement {
 public:
  Statement(sqlite3* db, CPtr<sqlite3_stmt, sqlite3_finalize> stmt)
      : db_(db), stmt_(std::move(stmt)) {}

  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view value);  // Copied by SQLite.
  // NULL when `value` is empty.
  Statement& Bind(int index, std::optional<int64_t> value);

  // Advances to the next row: true when a row is ready, false when the statement is done.
  absl::StatusOr<bool> Step();

  // Steps until done, ignoring any rows (INSERT, UPDATE, DELETE).
  absl::Status Run();

  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;  // Keeps embedded NULs; "" for NULL.
  std::optional<int64_t> ColumnOptionalInt64(int column) const;  // nullopt for NULL.

  // Rewinds the statement, clears its bindings and any kept binding error.
  void Reset();

  // The number of rows the last completed INSERT/UPDATE/DELETE on this connection changed.
  int64_t Changes() const;

 private:
  std::string_view Sql() const;

  sqlite3* db_;
  CPtr<sqlite3_stmt, sqlite3_finalize> stmt_;
  absl::Status bind_status_;
};

// A lease on one of a Database's cached statements; resets the statement when it goes, so a
// half-read query never keeps a read snapshot open.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement* statement) : statement_(statement) {}
  ScopedStatement(ScopedStatement&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)) {}
  ScopedStatement& operator=(ScopedStatement&&) = delete;
  ~ScopedStatement() {
    if (statement_ != nullptr) statement_->Reset();
  }

  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
};

// A transaction on `db`. The constructor runs BEGIN (IMMEDIATE by default: takes the write lock
// now, so a write inside cannot fail halfway with SQLITE_BUSY); check status() before using it.
// The destructor rolls back unless Commit() succeeded. Not copyable or movable; lives on the
// stack of one operation.
class Transaction {
 public:
  enum class Mode {
    kDeferred,   // BEGIN: a read snapshot from the first read.
    kImmediate,  // BEGIN IMMEDIATE: the write lock now.
  };

  explicit Transaction(Database& db, Mode mode = Mode::kImmediate);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // The outcome of BEGIN. When it is not OK the transaction is not open and Commit returns it.
  const absl::Status& status() const { return begin_status_; }

  // COMMIT. On failure the transaction is still rolled back by the destructor.
  absl::Status Commit();

 private:
  Database& db_;
  absl::Status begin_status_;
  bool open_ = false;
};

// How many times RetryWhileBusy runs a transaction. Each attempt already waits up to the busy
// timeout inside SQLite (the connection's busy handler), so no sleep is needed between attempts.
inline constexpr int kMaxBusyAttempts = 3;

inline const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

void LogBusyRetry(const absl::Status& status, int attempt);

// Runs `body` — one whole transaction: begin, work, commit — again while it fails because the
// database is busy, at most `max_attempts` times in all (as Nix does: a busy error can surface at
// BEGIN, at a statement or at COMMIT, and only rerunning the transaction from its start is safe).
// `body` returns absl::Status or absl::StatusOr<T>; the last result is returned.
template <typename Body>
auto RetryWhileBusy(Body&& body, int max_attempts = kMaxBusyAttempts) {
  for (int attempt = 1;; ++attempt) {
    auto result = body();
    if (attempt >= max_attempts || !IsBusy(StatusOf(result))) return result;
    LogBusyRetry(StatusOf(result), attempt);
  }
}

}  // namespace berth::storage::sqlite

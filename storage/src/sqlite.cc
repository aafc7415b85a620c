#include "sqlite.h"

#include <limits>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "logging.h"
#include "string_views.h"

namespace berth::storage::sqlite {
namespace {

// Payload key under which ErrorStatus keeps the extended SQLite result code.
constexpr absl::string_view kResultCodePayload = "type.berth.dev/sqlite.result_code";

// SQL in an error message: the first line, at most 80 characters.
absl::string_view Abbreviate(std::string_view sql) {
  sql = sql.substr(0, sql.find('\n'));
  return ToAbsl(sql.substr(0, 80));
}

}  // namespace

absl::Status ErrorStatus(int result_code, absl::string_view context, absl::string_view message) {
  const int primary = result_code & 0xff;
  std::string text = absl::StrCat(context, ": ", message);
  absl::Status status = (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB)
                            ? absl::DataLossError(text)
                            : absl::InternalError(text);
  status.SetPayload(kResultCodePayload, absl::Cord(absl::StrCat(result_code)));
  return status;
}

std::optional<int> ResultCodeOf(const absl::Status& status) {
  const auto payload = status.GetPayload(kResultCodePayload);
  int code = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &code)) return std::nullopt;
  return code;
}

bool IsBusy(const absl::Status& status) {
  std::optional<int> code = ResultCodeOf(status);
  if (!code.has_value()) return false;
  const int primary = *code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

void LogBusyRetry(const absl::Status& status, int attempt) {
  Logger()->warn("Database busy on attempt {}, running the transaction again: {}", attempt,
                 ToStd(status.message()));
}

// ---- Database ----

absl::StatusOr<Database> Database::Open(const std::string& filename, int flags) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(filename.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_NOMUTEX,
                      /*zVfs=*/nullptr);
  // sqlite3_open_v2 hands back a handle even on failure (for the message); it must be closed.
  Database db(raw);
  if (rc != SQLITE_OK) {
    const char* message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return ErrorStatus(rc, absl::StrCat("cannot open database ", filename), message);
  }
  return db;
}

absl::Status Database::Error(int result_code, absl::string_view context) const {
  return ErrorStatus(result_code, context, sqlite3_errmsg(db_.get()));
}

absl::Status Database::Exec(std::string_view sql) {
  // sqlite3_exec needs a NUL-terminated string.
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("executing \"", Abbreviate(sql), "\""));
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sql.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InternalError("SQL statement too long");
  }
  const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &raw, &tail);
  CPtr<sqlite3_stmt, sqlite3_finalize> stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("preparing \"", Abbreviate(sql), "\""));
  if (stmt == nullptr) {
    return absl::InternalError(absl::StrCat("preparing \"", Abbreviate(sql), "\": no statement"));
  }
  return Statement(db_.get(), std::move(stmt));
}

absl::StatusOr<ScopedStatement> Database::Cached(std::string_view sql) {
  auto it = cache_.find(ToAbsl(sql));
  if (it == cache_.end()) {
    absl::StatusOr<Statement> statement = Prepare(sql);
    if (!statement.ok()) return statement.status();
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(*std::move(statement))).first;
  }
  return ScopedStatement(it->second.get());
}

absl::StatusOr<int64_t> Database::QueryInt(std::string_view sql) {
  absl::StatusOr<Statement> statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> row = statement->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat("\"", Abbreviate(sql), "\" returned no row"));
  return statement->ColumnInt64(0);
}

absl::StatusOr<std::string> Database::QueryText(std::string_view sql) {
  absl::StatusOr<Statement> statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> row = statement->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::InternalError(absl::StrCat("\"", Abbreviate(sql), "\" returned no row"));
  return statement->ColumnText(0);
}

// ---- Statement ----

std::string_view Statement::Sql() const {
  const char* sql = sqlite3_sql(stmt_.get());
  return sql != nullptr ? std::string_view(sql) : std::string_view();
}

Statement& Statement::Bind(int index, int64_t value) {
  if (!bind_status_.ok()) return *this;
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) {
    bind_status_ = ErrorStatus(
        rc, absl::StrCat("binding parameter ", index, " of \"", Abbreviate(Sql()), "\""),
        sqlite3_errmsg(db_));
  }
  return *this;
}

Statement& Statement::Bind(int index, std::string_view value) {
  if (!bind_status_.ok()) return *this;
  // A non-null pointer even for "", so that SQLite binds an empty text and not NULL.
  const char* data = value.empty() ? "" : value.data();
  const int rc =
      sqlite3_bind_text64(stmt_.get(), index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) {
    bind_status_ = ErrorStatus(
        rc, absl::StrCat("binding parameter ", index, " of \"", Abbreviate(Sql()), "\""),
        sqlite3_errmsg(db_));
  }
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_status_.ok()) return bind_status_;
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ErrorStatus(rc, absl::StrCat("executing \"", Abbreviate(Sql()), "\""),
                     sqlite3_errmsg(db_));
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

Statement& Statement::Bind(int index, std::optional<int64_t> value) {
  if (value.has_value()) return Bind(index, *value);
  if (!bind_status_.ok()) return *this;
  const int rc = sqlite3_bind_null(stmt_.get(), index);
  if (rc != SQLITE_OK) {
    bind_status_ = ErrorStatus(
        rc, absl::StrCat("binding parameter ", index, " of \"", Abbreviate(Sql()), "\""),
        sqlite3_errmsg(db_));
  }
  return *this;
}

std::optional<int64_t> Statement::ColumnOptionalInt64(int column) const {
  if (sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_.get(), column);
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
  if (text == nullptr) return std::string();
  // After sqlite3_column_text, as the SQLite documentation prescribes.
  const int size = sqlite3_column_bytes(stmt_.get(), column);
  return std::string(text, static_cast<size_t>(size));
}

void Statement::Reset() {
  // sqlite3_reset repeats the last step's error, which Step already reported.
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
  bind_status_ = absl::OkStatus();
}

int64_t Statement::Changes() const { return sqlite3_changes64(db_); }

// ---- Transaction ----

Transaction::Transaction(Database& db, Mode mode) : db_(db) {
  absl::StatusOr<ScopedStatement> begin =
      db_.Cached(mode == Mode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN");
  begin_status_ = begin.ok() ? (*begin)->Run() : begin.status();
  open_ = begin_status_.ok();
}

absl::Status Transaction::Commit() {
  if (!begin_status_.ok()) return begin_status_;
  if (!open_) return absl::FailedPreconditionError("transaction already committed");
  absl::StatusOr<ScopedStatement> commit = db_.Cached("COMMIT");
  absl::Status status = commit.ok() ? (*commit)->Run() : commit.status();
  if (status.ok()) open_ = false;
  return status;
}

Transaction::~Transaction() {
  if (!open_) return;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM...) make SQLite roll back by itself;
  // then there is nothing left to roll back.
  if (sqlite3_get_autocommit(db_.handle()) != 0) return;
  absl::StatusOr<ScopedStatement> rollback = db_.Cached("ROLLBACK");
  absl::Status status = rollback.ok() ? (*rollback)->Run() : rollback.status();
  if (!status.ok()) {
    Logger()->error("Rolling back a transaction failed: {}", ToStd(status.message()));
  }
}

}  // namespace berth::storage::sqlite

// The SQLite RAII wrappers: Database, Statement, ScopedStatement, Transaction, RetryWhileBusy,
// CPtr.

#include "sqlite.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "c_ptr.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "status_testing.h"
#include "test_files.h"

namespace berth::storage::sqlite {
namespace {

using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::testing::HasSubstr;

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, OpenFile());
    ASSERT_OK(db_->Exec("PRAGMA journal_mode = WAL; CREATE TABLE t (a INTEGER, b TEXT)"));
  }

  absl::StatusOr<Database> OpenFile() {
    return Database::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  }

  int64_t Count() {
    absl::StatusOr<int64_t> count = db_->QueryInt("SELECT count(*) FROM t");
    EXPECT_OK(count);
    return count.value_or(-1);
  }

  TempDir dir_;
  std::string path_ = dir_.File("test.db");
  std::optional<Database> db_;
};

TEST_F(SqliteTest, TransactionRollsBackWhenDestroyedUncommitted) {
  {
    Transaction transaction(*db_);
    ASSERT_OK(transaction.status());
    ASSERT_OK(db_->Exec("INSERT INTO t VALUES (1, 'one')"));
    EXPECT_EQ(Count(), 1);
  }
  EXPECT_EQ(Count(), 0);
  EXPECT_NE(sqlite3_get_autocommit(db_->handle()), 0) << "a transaction is still open";
}

TEST_F(SqliteTest, CommittedTransactionIsSeenByAnotherConnection) {
  {
    Transaction transaction(*db_);
    ASSERT_OK(transaction.status());
    ASSERT_OK(db_->Exec("INSERT INTO t VALUES (1, 'one')"));
    ASSERT_OK(transaction.Commit());
    EXPECT_THAT(transaction.Commit(),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already committed")));
  }
  ASSERT_OK_AND_ASSIGN(Database other, OpenFile());
  ASSERT_OK_AND_ASSIGN(int64_t count, other.QueryInt("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 1);
}

TEST_F(SqliteTest, ImmediateTransactionHoldsTheWriteLock) {
  Transaction transaction(*db_);
  ASSERT_OK(transaction.status());
  ASSERT_OK_AND_ASSIGN(Database other, OpenFile());  // No busy timeout: fails at once.
  Transaction blocked(other);
  EXPECT_THAT(blocked.status(), StatusIs(absl::StatusCode::kInternal, HasSubstr("locked")));
  EXPECT_TRUE(IsBusy(blocked.status()));
  // A deferred transaction may still read: WAL.
  Transaction reader(other, Transaction::Mode::kDeferred);
  ASSERT_OK(reader.status());
  ASSERT_OK_AND_ASSIGN(int64_t count, other.QueryInt("SELECT count(*) FROM t"));
  EXPECT_EQ(count, 0);
}

TEST_F(SqliteTest, FailedBeginLeavesTheOuterTransactionAlone) {
  Transaction outer(*db_);
  ASSERT_OK(outer.status());
  ASSERT_OK(db_->Exec("INSERT INTO t VALUES (1, 'one')"));
  {
    Transaction inner(*db_);
    EXPECT_THAT(inner.status(), StatusIs(absl::StatusCode::kInternal,
                                         HasSubstr("cannot start a transaction within")));
    EXPECT_THAT(inner.Commit(), StatusIs(absl::StatusCode::kInternal, HasSubstr("within")));
  }  // Must not roll back `outer`.
  ASSERT_OK(outer.Commit());
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteTest, RollbackAfterSqliteAlreadyRolledBackIsHarmless) {
  {
    Transaction transaction(*db_);
    ASSERT_OK(transaction.status());
    ASSERT_OK(db_->Exec("INSERT INTO t VALUES (1, 'one')"));
    ASSERT_OK(db_->Exec("ROLLBACK"));  // As SQLite does itself after SQLITE_FULL and the like.
  }
  EXPECT_EQ(Count(), 0);
  Transaction next(*db_);
  EXPECT_OK(next.status());
}

TEST_F(SqliteTest, StatementBindsAndReadsTextWithNulsAndIntegers) {
  const std::string text("a\0b\nc", 5);
  ASSERT_OK_AND_ASSIGN(Statement insert, db_->Prepare("INSERT INTO t (a, b) VALUES (?1, ?2)"));
  ASSERT_OK(insert.Bind(1, int64_t{-9'000'000'000'000}).Bind(2, text).Run());
  EXPECT_EQ(insert.Changes(), 1);
  insert.Reset();
  ASSERT_OK(insert.Bind(1, 2).Bind(2, "").Run());

  ASSERT_OK_AND_ASSIGN(Statement select, db_->Prepare("SELECT a, b, typeof(b) FROM t ORDER BY a"));
  ASSERT_OK_AND_ASSIGN(bool row, select.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(select.ColumnInt64(0), -9'000'000'000'000);
  EXPECT_EQ(select.ColumnText(1), text);
  ASSERT_OK_AND_ASSIGN(row, select.Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(select.ColumnText(1), "");
  EXPECT_EQ(select.ColumnText(2), "text") << "an empty string must not be bound as NULL";
  ASSERT_OK_AND_ASSIGN(row, select.Step());
  EXPECT_FALSE(row);
}

TEST_F(SqliteTest, BindErrorIsReportedByStep) {
  ASSERT_OK_AND_ASSIGN(Statement insert, db_->Prepare("INSERT INTO t (a) VALUES (?1)"));
  EXPECT_THAT(insert.Bind(5, 1).Run(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("binding parameter 5")));
  insert.Reset();
  EXPECT_OK(insert.Bind(1, 1).Run());
}

TEST_F(SqliteTest, ErrorsCarryTheSqliteMessageAndCode) {
  absl::StatusOr<Statement> bad = db_->Prepare("SELECT * FROM missing");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInternal, HasSubstr("no such table: missing")));
  EXPECT_EQ(ResultCodeOf(bad.status()), SQLITE_ERROR);
  EXPECT_FALSE(IsBusy(bad.status()));
  EXPECT_FALSE(ResultCodeOf(absl::InternalError("not from sqlite")).has_value());

  EXPECT_THAT(ErrorStatus(SQLITE_CORRUPT, "reading", "database disk image is malformed"),
              StatusIs(absl::StatusCode::kDataLoss, "reading: database disk image is malformed"));
  EXPECT_THAT(ErrorStatus(SQLITE_NOTADB, "x", "y"), StatusIs(absl::StatusCode::kDataLoss, "x: y"));
  EXPECT_TRUE(IsBusy(ErrorStatus(SQLITE_BUSY_SNAPSHOT, "x", "y")));
  EXPECT_TRUE(IsBusy(ErrorStatus(SQLITE_LOCKED, "x", "y")));
}

TEST_F(SqliteTest, OpenFailureNamesTheFile) {
  const std::string missing = dir_.File("no/such/dir/x.db");
  EXPECT_THAT(Database::Open(missing, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE),
              StatusIs(absl::StatusCode::kInternal, HasSubstr(missing)));
}

TEST_F(SqliteTest, CachedStatementIsReusedAndResetWhenTheLeaseGoes) {
  ASSERT_OK(db_->Exec("INSERT INTO t VALUES (1, 'one'), (2, 'two')"));
  sqlite3_stmt* first = nullptr;
  {
    ASSERT_OK_AND_ASSIGN(ScopedStatement select, db_->Cached("SELECT a FROM t ORDER BY a"));
    ASSERT_OK_AND_ASSIGN(bool row, select->Step());  // Half read: one row of two.
    ASSERT_TRUE(row);
    EXPECT_EQ(select->ColumnInt64(0), 1);
    first = sqlite3_next_stmt(db_->handle(), nullptr);
    EXPECT_NE(sqlite3_stmt_busy(first), 0);
  }
  EXPECT_EQ(sqlite3_stmt_busy(first), 0) << "the lease did not reset the statement";
  ASSERT_OK_AND_ASSIGN(ScopedStatement again, db_->Cached("SELECT a FROM t ORDER BY a"));
  ASSERT_OK_AND_ASSIGN(bool row, again->Step());
  ASSERT_TRUE(row);
  EXPECT_EQ(again->ColumnInt64(0), 1) << "the statement restarted from the first row";
  EXPECT_EQ(sqlite3_next_stmt(db_->handle(), nullptr), first) << "compiled once";
}

TEST(RetryWhileBusyTest, RerunsTheWholeBodyWhileBusy) {
  int calls = 0;
  absl::Status result = RetryWhileBusy([&] {
    ++calls;
    return calls < 3 ? ErrorStatus(SQLITE_BUSY, "BEGIN IMMEDIATE", "database is locked")
                     : absl::OkStatus();
  });
  EXPECT_OK(result);
  EXPECT_EQ(calls, 3);
}

TEST(RetryWhileBusyTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  int calls = 0;
  absl::StatusOr<int> result = RetryWhileBusy(
      [&]() -> absl::StatusOr<int> {
        ++calls;
        return ErrorStatus(SQLITE_BUSY, "COMMIT", "database is locked");
      },
      /*max_attempts=*/4);
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kInternal, "COMMIT: database is locked"));
  EXPECT_EQ(calls, 4);
}

TEST(RetryWhileBusyTest, DoesNotRetryOtherErrorsOrSuccess) {
  int calls = 0;
  absl::StatusOr<int> result = RetryWhileBusy([&]() -> absl::StatusOr<int> {
    ++calls;
    return absl::NotFoundError("container \"web\" not found");
  });
  EXPECT_THAT(result, StatusIs(absl::StatusCode::kNotFound, HasSubstr("web")));
  EXPECT_EQ(calls, 1);
  absl::StatusOr<int> value = RetryWhileBusy([&]() -> absl::StatusOr<int> { return 7; });
  EXPECT_EQ(value.value_or(0), 7);
}

int released = 0;
int CountRelease(int* handle) {
  ++released;
  delete handle;
  return 0;
}

TEST(CPtrTest, ReleasesANonNullHandleOnce) {
  released = 0;
  {
    CPtr<int, CountRelease> owned(new int(5));
    CPtr<int, CountRelease> empty;
    CPtr<int, CountRelease> moved = std::move(owned);
    EXPECT_EQ(*moved, 5);
  }
  EXPECT_EQ(released, 1);
}

}  // namespace
}  // namespace berth::storage::sqlite

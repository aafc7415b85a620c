// What only SqliteStore promises: its pragmas, durability across reopening, the schema's
// cascades, and refusing a newer or corrupt database without touching the file.

#include "berth/storage/sqlite_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "schema.h"
#include "sqlite.h"
#include "state_database.h"
#include "status_testing.h"
#include "test_files.h"

namespace berth::storage {
namespace {

using ::berth::storage::testing::FileState;
using ::berth::storage::testing::IsOkAndHolds;
using ::berth::storage::testing::ReadFile;
using ::berth::storage::testing::SnapshotDir;
using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::berth::storage::testing::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Key;
using ::testing::UnorderedElementsAre;

ContainerRecord MakeRecord(std::string name) {
  ContainerRecord record;
  record.name = std::move(name);
  record.source_kind = "template";
  record.source_name = "busybox";
  record.source_args = {"--arch", "amd64"};
  record.config = {{"limits.memory", "256MiB"}};
  record.labels = {{"tier", "front"}};
  record.created_at = absl::FromUnixNanos(1'700'000'000'000'000'001);
  record.updated_at = record.created_at;
  return record;
}

// A second connection straight to the file, with none of OpenStateDatabase's rules.
sqlite::Database RawOpen(const std::string& path) {
  absl::StatusOr<sqlite::Database> db = sqlite::Database::Open(path, SQLITE_OPEN_READWRITE);
  EXPECT_TRUE(db.ok()) << db.status();
  return *std::move(db);
}

int64_t QueryInt(sqlite::Database& db, std::string_view sql) {
  absl::StatusOr<int64_t> value = db.QueryInt(sql);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.value_or(-1);
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // A closed database at the current schema version holding `count` containers.
  void MakeDatabase(int count) {
    std::unique_ptr<SqliteStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < count; ++i) {
      ContainerRecord record = MakeRecord(absl::StrCat("c", i));
      for (int j = 0; j < 20; ++j) record.config[absl::StrCat("key.", j)] = std::string(50, 'v');
      ASSERT_OK(store->Create(record));
    }
  }

  TempDir dir_;
  std::string path_ = dir_.File("berth.db");
};

// ---- Connection settings ----

TEST_F(SqliteStoreTest, PragmasAreInEffectOnTheStoresConnection) {
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->PragmaForTesting("journal_mode"), IsOkAndHolds(std::string("wal")));
  EXPECT_THAT(store->PragmaForTesting("synchronous"), IsOkAndHolds(std::string("2")))
      << "2 is FULL";
  EXPECT_THAT(store->PragmaForTesting("foreign_keys"), IsOkAndHolds(std::string("1")));
  EXPECT_THAT(store->PragmaForTesting("busy_timeout"), IsOkAndHolds(std::string("5000")));
  EXPECT_THAT(store->PragmaForTesting("user_version"),
              IsOkAndHolds(absl::StrCat(Migrations().size())));
  EXPECT_THAT(store->PragmaForTesting("application_id"),
              IsOkAndHolds(absl::StrCat(kApplicationId)));
}

TEST_F(SqliteStoreTest, EventAppendsLeaveTheConnectionAtSynchronousFull) {
  // Events commit with synchronous=NORMAL; container definitions must not.
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  StoredEvent event;
  event.id = 1;
  ASSERT_OK(store->events().Append(event));
  EXPECT_THAT(store->PragmaForTesting("synchronous"), IsOkAndHolds(std::string("2")));
  // A refused append (ids must increase) too.
  EXPECT_THAT(store->events().Append(event),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must only increase")));
  EXPECT_THAT(store->PragmaForTesting("synchronous"), IsOkAndHolds(std::string("2")));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> stored, store->events().ReadAfter(0, 10));
  EXPECT_EQ(stored.size(), 1u);
}

TEST_F(SqliteStoreTest, PragmaForTestingTakesOnlyNames) {
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_THAT(store->PragmaForTesting("user_version = 9"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a pragma name")));
  EXPECT_THAT(store->PragmaForTesting(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a pragma name")));
}

// ---- Files ----

TEST_F(SqliteStoreTest, OpenCreatesTheFileAndNothingElseThatOutlivesTheStore) {
  {
    std::unique_ptr<SqliteStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->path(), path_);
    ASSERT_OK(store->Create(MakeRecord("web")));
  }
  // The last connection to close checkpoints the WAL and removes -wal and -shm.
  EXPECT_THAT(SnapshotDir(dir_.path()), ElementsAre(Key("berth.db")));
}

TEST_F(SqliteStoreTest, OpenDoesNotCreateAMissingDirectory) {
  const std::string missing_dir = dir_.File("missing");
  EXPECT_THAT(SqliteStore::Open(missing_dir + "/berth.db"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr(missing_dir + "/berth.db")));
  EXPECT_NE(access(missing_dir.c_str(), F_OK), 0);
}

TEST_F(SqliteStoreTest, OpenAcceptsAnEmptyFileAsANewDatabase) {
  WriteFile(path_, "");
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->Create(MakeRecord("web")));
  EXPECT_THAT(store->PragmaForTesting("user_version"),
              IsOkAndHolds(absl::StrCat(Migrations().size())));
}

TEST_F(SqliteStoreTest, OpenRefusesADirectory) {
  ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);
  EXPECT_THAT(SqliteStore::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("database ", path_, " is not a regular file")));
}

// ---- Durability ----

TEST_F(SqliteStoreTest, EverythingSurvivesReopening) {
  ContainerRecord web;
  ContainerRecord renamed;
  {
    std::unique_ptr<SqliteStore> store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_OK_AND_ASSIGN(web, store->Create(MakeRecord("web")));
    ASSERT_OK_AND_ASSIGN(ContainerRecord db, store->Create(MakeRecord("db")));
    ContainerRecord change = db;
    change.name = "database";
    change.labels["renamed"] = "yes";
    ASSERT_OK_AND_ASSIGN(renamed, store->Update("db", change, 1));
    ASSERT_OK(store->Create(MakeRecord("gone")));
    ASSERT_OK(store->Delete("gone", 1));
  }
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, store->List());
  EXPECT_THAT(all, ElementsAre(renamed, web));
  // And a reopened store still counts revisions on.
  ASSERT_OK_AND_ASSIGN(ContainerRecord again, store->Update("web", web, 1));
  EXPECT_EQ(again.revision, 2);
}

TEST_F(SqliteStoreTest, CommitsLeftInTheWalAfterACrashAreRead) {
  MakeDatabase(1);
  {
    // Like a berthd killed with -9: the WAL holds a commit that never reached the main file.
    sqlite::Database raw = RawOpen(path_);
    sqlite3_db_config(raw.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    ASSERT_OK(raw.Exec("PRAGMA journal_mode = WAL"));
    ASSERT_OK(
        raw.Exec("INSERT INTO containers VALUES ('late', 'template', 'busybox', 0, '', 1, 5, 6)"));
  }
  struct stat st {};
  ASSERT_EQ(stat((path_ + "-wal").c_str(), &st), 0);
  ASSERT_GT(st.st_size, 0) << "the test needs a WAL with content";

  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(ContainerRecord late, store->Get("late"));
  EXPECT_EQ(late.created_at, absl::FromUnixNanos(5));
}

// ---- Schema ----

TEST_F(SqliteStoreTest, RenameCarriesAndDeleteRemovesEveryChildRow) {
  std::unique_ptr<SqliteStore> store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_OK_AND_ASSIGN(ContainerRecord web, store->Create(MakeRecord("web")));
  sqlite::Database raw = RawOpen(path_);
  auto rows_of = [&](std::string_view name) {
    const std::string quoted = absl::StrCat("'", std::string(name), "'");
    return QueryInt(
        raw, absl::StrCat(
                 "SELECT (SELECT count(*) FROM container_config WHERE container_name = ", quoted,
                 ") + (SELECT count(*) FROM container_labels WHERE "
                 "container_name = ",
                 quoted,
                 ") + (SELECT count(*) FROM container_source_args WHERE "
                 "container_name = ",
                 quoted, ")"));
  };
  EXPECT_EQ(rows_of("web"), 4);

  ContainerRecord renamed = web;
  renamed.name = "www";
  ASSERT_OK(store->Update("web", renamed, 1));
  EXPECT_EQ(rows_of("web"), 0);
  EXPECT_EQ(rows_of("www"), 4);

  ASSERT_OK(store->Delete("www", 2));
  EXPECT_EQ(rows_of("www"), 0);
  EXPECT_EQ(QueryInt(raw, "SELECT count(*) FROM containers"), 0);
}

// ---- Refusing a database ----

// The error and the proof that the directory is byte for byte and mtime for mtime as it was.
void ExpectRefusedUntouched(const std::string& dir, const std::string& path,
                            const ::testing::Matcher<absl::Status>& matcher) {
  const std::map<std::string, FileState> before = SnapshotDir(dir);
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_THAT(store.status(), matcher);
  EXPECT_EQ(SnapshotDir(dir), before) << "Open changed the directory";
  // And again: a refusal changes nothing a second attempt could see.
  EXPECT_THAT(SqliteStore::Open(path).status(), matcher);
  EXPECT_EQ(SnapshotDir(dir), before);
}

TEST_F(SqliteStoreTest, NewerSchemaIsRefusedWithoutTouchingTheFile) {
  MakeDatabase(3);
  {
    sqlite::Database raw = RawOpen(path_);
    ASSERT_OK(raw.Exec("PRAGMA user_version = 7"));
  }
  ASSERT_THAT(SnapshotDir(dir_.path()), ElementsAre(Key("berth.db")));
  ExpectRefusedUntouched(
      dir_.path(), path_,
      StatusIs(
          absl::StatusCode::kFailedPrecondition,
          absl::StrCat("database ", path_, " has schema version 7 but this berthd knows at most ",
                       Migrations().size(), "; upgrade berthd or restore a backup")));
}

TEST_F(SqliteStoreTest, NewerSchemaCommittedOnlyToTheWalIsRefusedWithoutTouchingTheFile) {
  MakeDatabase(3);
  {
    sqlite::Database raw = RawOpen(path_);
    sqlite3_db_config(raw.handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    ASSERT_OK(raw.Exec("PRAGMA journal_mode = WAL; PRAGMA user_version = 7"));
  }
  const std::map<std::string, FileState> before = SnapshotDir(dir_.path());
  ASSERT_TRUE(before.contains("berth.db-wal"));
  EXPECT_THAT(SqliteStore::Open(path_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has schema version 7")));
  const std::map<std::string, FileState> after = SnapshotDir(dir_.path());
  // The database and its WAL are untouched; the -shm index may be rebuilt (it is not data).
  EXPECT_EQ(after.at("berth.db"), before.at("berth.db"));
  EXPECT_EQ(after.at("berth.db-wal"), before.at("berth.db-wal"));
  for (const auto& [name, state] : after) {
    EXPECT_TRUE(before.contains(name) || name == "berth.db-shm") << "new file " << name;
  }
}

struct BadFile {
  std::string name;
  absl::StatusCode code;
  // Writes the bad file at `path`; `valid` holds the bytes of a good berth database.
  std::function<std::string(const std::string& valid)> bytes;
};

// Names the case in test listings (gtest would otherwise print the struct's raw bytes).
void PrintTo(const BadFile& file, std::ostream* os) { *os << file.name; }

class BadFileTest : public SqliteStoreTest, public ::testing::WithParamInterface<BadFile> {};

TEST_P(BadFileTest, IsRefusedAsNotAValidBerthDatabaseWithoutTouchingTheFile) {
  MakeDatabase(40);
  const std::string valid = ReadFile(path_);
  ASSERT_GT(valid.size(), 8u * 4096) << "the test needs a database of several pages";
  WriteFile(path_, GetParam().bytes(valid));
  ExpectRefusedUntouched(
      dir_.path(), path_,
      StatusIs(GetParam().code,
               AllOf(HasSubstr(absl::StrCat("database ", path_, " is not a valid berth database")),
                     HasSubstr("move it aside or restore a backup"))));
}

std::string RandomBytes(size_t size) {
  std::mt19937 random(42);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

// A valid SQLite file that another program made, at `user_version`.
std::string ForeignDatabase(int user_version) {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    absl::StatusOr<sqlite::Database> db =
        sqlite::Database::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    EXPECT_TRUE(db.ok());
    EXPECT_OK(db->Exec(
        absl::StrCat("CREATE TABLE songs (title TEXT); PRAGMA user_version = ", user_version)));
  }
  return ReadFile(path);
}

INSTANTIATE_TEST_SUITE_P(
    Files, BadFileTest,
    ::testing::Values(
        BadFile{"RandomBytes", absl::StatusCode::kDataLoss,
                [](const std::string&) { return RandomBytes(16384); }},
        BadFile{"Text", absl::StatusCode::kDataLoss,
                [](const std::string&) { return std::string("containers:\n  web: {}\n"); }},
        BadFile{"HeaderOnly", absl::StatusCode::kDataLoss,
                [](const std::string& valid) { return valid.substr(0, 100); }},
        BadFile{"ShorterThanAHeader", absl::StatusCode::kDataLoss,
                [](const std::string& valid) { return valid.substr(0, 50); }},
        BadFile{"TruncatedToHalf", absl::StatusCode::kDataLoss,
                [](const std::string& valid) { return valid.substr(0, valid.size() / 2); }},
        BadFile{"TruncatedToOnePage", absl::StatusCode::kDataLoss,
                [](const std::string& valid) { return valid.substr(0, 4096); }},
        BadFile{"GarbledPages", absl::StatusCode::kDataLoss,
                [](const std::string& valid) {
                  std::string bytes = valid;
                  const std::string noise = RandomBytes(4096 * 3);
                  bytes.replace(4096, noise.size(), noise);
                  return bytes;
                }},
        BadFile{"AnotherProgramsDatabase", absl::StatusCode::kFailedPrecondition,
                [](const std::string&) { return ForeignDatabase(0); }},
        BadFile{"AnotherProgramsVersionedDatabase", absl::StatusCode::kFailedPrecondition,
                [](const std::string&) { return ForeignDatabase(1); }}),
    [](const ::testing::TestParamInfo<BadFile>& info) { return info.param.name; });

}  // namespace
}  // namespace berth::storage

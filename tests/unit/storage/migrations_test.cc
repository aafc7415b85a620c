// The state database's migrations, and how OpenStateDatabase applies them: every migration has a
// test here that seeds a database at the version before it, runs it and checks the result.

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
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
using ::berth::storage::testing::SnapshotDir;
using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::berth::storage::testing::WriteFile;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Key;

// The number of migrations tested below. Adding a migration to schema.cc without its test fails
// EveryMigrationHasATest.
constexpr size_t kTestedMigrations = 6;

// ---- Helpers ----

// The database at `path` as a berthd that knew only the first `version` migrations left it.
// Version 0 is an empty file.
absl::StatusOr<sqlite::Database> SeedAtVersion(const std::string& path, int64_t version) {
  if (version == 0) {
    WriteFile(path, "");
    return sqlite::Database::Open(path, SQLITE_OPEN_READWRITE);
  }
  return OpenStateDatabase(path, Migrations().first(static_cast<size_t>(version)));
}

// Runs migration `version` (and any before it that the file lacks) the way berthd does.
absl::StatusOr<sqlite::Database> MigrateTo(const std::string& path, int64_t version) {
  return OpenStateDatabase(path, Migrations().first(static_cast<size_t>(version)));
}

int64_t QueryInt(sqlite::Database& db, std::string_view sql) {
  absl::StatusOr<int64_t> value = db.QueryInt(sql);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.value_or(-1);
}

// The columns of `table`: name -> declared type.
std::map<std::string, std::string> Columns(sqlite::Database& db, const std::string& table) {
  std::map<std::string, std::string> columns;
  absl::StatusOr<sqlite::Statement> info =
      db.Prepare(absl::StrCat("SELECT name, type FROM pragma_table_info('", table, "')"));
  EXPECT_TRUE(info.ok()) << info.status();
  if (!info.ok()) return columns;
  while (true) {
    absl::StatusOr<bool> row = info->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    if (!row.ok() || !*row) break;
    columns.emplace(info->ColumnText(0), info->ColumnText(1));
  }
  return columns;
}

// A database opened read-only and immutable: looking does not change it.
absl::StatusOr<sqlite::Database> Peek(const std::string& path) {
  return sqlite::Database::Open(absl::StrCat("file:", path, "?mode=ro&immutable=1"),
                                SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
}

class MigrationsTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string path_ = dir_.File("berth.db");
};

// ---- The list ----

TEST_F(MigrationsTest, EveryMigrationHasATest) {
  EXPECT_EQ(Migrations().size(), kTestedMigrations)
      << "a migration was added: write its test in migrations_test.cc, then bump "
         "kTestedMigrations";
}

TEST_F(MigrationsTest, VersionsCountFromOne) {
  for (size_t i = 0; i < Migrations().size(); ++i) {
    EXPECT_EQ(Migrations()[i].version, static_cast<int64_t>(i) + 1);
    EXPECT_FALSE(Migrations()[i].description.empty());
  }
}

TEST_F(MigrationsTest, AMalformedListIsRefusedBeforeTheFileIsCreated) {
  const Migration skipping[] = {Migrations()[0], {.version = 3, .description = "x", .sql = ""}};
  EXPECT_THAT(OpenStateDatabase(path_, skipping),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("versions must be 1, 2, 3")));
  EXPECT_TRUE(SnapshotDir(dir_.path()).empty());
}

// ---- Migration 1 ----

TEST_F(MigrationsTest, Migration1CreatesTheSchema) {
  { ASSERT_OK(SeedAtVersion(path_, 0)); }
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 1));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 1);
  EXPECT_EQ(QueryInt(db, "PRAGMA application_id"), kApplicationId);

  EXPECT_EQ(Columns(db, "containers"),
            (std::map<std::string, std::string>{{"name", "TEXT"},
                                                {"source_kind", "TEXT"},
                                                {"source_name", "TEXT"},
                                                {"phase", "INTEGER"},
                                                {"phase_detail", "TEXT"},
                                                {"revision", "INTEGER"},
                                                {"created_at_ns", "INTEGER"},
                                                {"updated_at_ns", "INTEGER"}}));
  for (const char* table : {"container_config", "container_labels"}) {
    EXPECT_EQ(Columns(db, table),
              (std::map<std::string, std::string>{
                  {"container_name", "TEXT"}, {"key", "TEXT"}, {"value", "TEXT"}}))
        << table;
  }
  EXPECT_EQ(Columns(db, "container_source_args"),
            (std::map<std::string, std::string>{
                {"container_name", "TEXT"}, {"position", "INTEGER"}, {"value", "TEXT"}}));

  // Children follow their container on rename and go with it on delete.
  ASSERT_OK(db.Exec(R"sql(
    INSERT INTO containers VALUES ('web', 'template', 'busybox', 0, '', 1, 10, 20);
    INSERT INTO container_config VALUES ('web', 'limits.memory', '1GiB');
    INSERT INTO container_labels VALUES ('web', 'tier', 'front');
    INSERT INTO container_source_args VALUES ('web', 0, '--arch');
    UPDATE containers SET name = 'www' WHERE name = 'web';
  )sql"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_config WHERE container_name = 'www'"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_labels WHERE container_name = 'www'"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_source_args WHERE container_name = 'www'"),
            1);
  ASSERT_OK(db.Exec("DELETE FROM containers WHERE name = 'www'"));
  EXPECT_EQ(QueryInt(db,
                     "SELECT (SELECT count(*) FROM container_config) + "
                     "(SELECT count(*) FROM container_labels) + "
                     "(SELECT count(*) FROM container_source_args)"),
            0);

  // Orphans, duplicate names and mistyped values are refused.
  EXPECT_THAT(db.Exec("INSERT INTO container_labels VALUES ('ghost', 'k', 'v')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY constraint failed")));
  ASSERT_OK(db.Exec("INSERT INTO containers VALUES ('a', 't', 's', 0, '', 1, 0, 0)"));
  EXPECT_THAT(db.Exec("INSERT INTO containers VALUES ('a', 't', 's', 0, '', 1, 0, 0)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO containers VALUES ('b', 't', 's', 0, '', 'one', 0, 0)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("cannot store TEXT value")));
  EXPECT_THAT(db.Exec("INSERT INTO containers VALUES ('c', 't', 's', 0, '', 0, 0, 0)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("CHECK constraint failed")));
}

TEST_F(MigrationsTest, Migration1RunsOnAMissingFile) {
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 1));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 1);
}

// ---- How migrations are applied (with a made-up second migration) ----

// The real migration 1 and a test-only migration 2.
const Migration kTwoSteps[] = {
    Migrations()[0],
    {.version = 2,
     .description = "test: add containers.note",
     .sql = "ALTER TABLE containers ADD COLUMN note TEXT NOT NULL DEFAULT 'none';"},
};

// A migration 2 that fails halfway: its first statement works, its second does not.
const Migration kFailingSecondStep[] = {
    Migrations()[0],
    {.version = 2,
     .description = "test: fails halfway",
     .sql = "CREATE TABLE extra (a INTEGER); INSERT INTO missing_table VALUES (1);"},
};

void SeedOneContainer(const std::string& path) {
  absl::StatusOr<sqlite::Database> db = OpenStateDatabase(path, Migrations().first(1));
  ASSERT_OK(db);
  ASSERT_OK(
      db->Exec("INSERT INTO containers VALUES ('web', 'template', 'busybox', 0, '', 3, 10, "
               "20); INSERT INTO container_labels VALUES ('web', 'tier', 'front');"));
}

// ---- Migration 2 ----

TEST_F(MigrationsTest, Migration2AddsTheEventLogAndKeepsContainers) {
  SeedOneContainer(path_);
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 2));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 2);
  EXPECT_EQ(Columns(db, "events"), (std::map<std::string, std::string>{{"id", "INTEGER"},
                                                                         {"time_ns", "INTEGER"},
                                                                         {"type", "INTEGER"},
                                                                         {"container", "TEXT"},
                                                                         {"state", "INTEGER"},
                                                                         {"detail", "TEXT"},
                                                                         {"exit_code", "INTEGER"}}));
  // The container from version 1 is untouched, and a copy at version 1 was kept.
  EXPECT_EQ(QueryInt(db, "SELECT revision FROM containers WHERE name = 'web'"), 3);
  struct stat st;
  EXPECT_EQ(stat((path_ + ".bak-v1").c_str(), &st), 0);
  // state and exit_code may be NULL, the rest may not; ids are unique; events need no container.
  ASSERT_OK(db.Exec("INSERT INTO events VALUES (1, 10, 13, '', NULL, 'up', NULL)"));
  ASSERT_OK(db.Exec("INSERT INTO events VALUES (2, 11, 4, 'gone', 1, '', 137)"));
  EXPECT_THAT(db.Exec("INSERT INTO events VALUES (2, 12, 1, 'web', 1, '', NULL)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO events VALUES (3, 12, 1, 'web', 1, NULL, NULL)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("NOT NULL constraint failed")));
  EXPECT_EQ(QueryInt(db, "SELECT exit_code FROM events WHERE id = 2"), 137);
}

// ---- Migration 3 ----

TEST_F(MigrationsTest, Migration3AddsSnapshotsThatFollowTheirContainer) {
  SeedOneContainer(path_);
  { ASSERT_OK(MigrateTo(path_, 2)); }
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 3));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 3);
  EXPECT_EQ(Columns(db, "container_snapshots"),
            (std::map<std::string, std::string>{{"container_name", "TEXT"},
                                                {"name", "TEXT"},
                                                {"created_at_ns", "INTEGER"},
                                                {"definition", "TEXT"}}));
  EXPECT_EQ(QueryInt(db, "SELECT revision FROM containers WHERE name = 'web'"), 3);
  ASSERT_OK(db.Exec("PRAGMA foreign_keys = ON"));
  ASSERT_OK(db.Exec("INSERT INTO container_snapshots VALUES ('web', 's1', 5, '0:0:')"));
  // One name per container; a snapshot needs its container.
  EXPECT_THAT(db.Exec("INSERT INTO container_snapshots VALUES ('web', 's1', 6, '0:0:')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO container_snapshots VALUES ('nope', 's1', 6, '0:0:')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY constraint failed")));
  // Renaming the container carries its snapshots; deleting it deletes them.
  ASSERT_OK(db.Exec("UPDATE containers SET name = 'web2' WHERE name = 'web'"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_snapshots WHERE container_name = 'web2'"),
            1);
  ASSERT_OK(db.Exec("DELETE FROM containers WHERE name = 'web2'"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_snapshots"), 0);
}

// ---- Migration 4 ----

TEST_F(MigrationsTest, Migration4AddsImagesAndKeepsContainers) {
  SeedOneContainer(path_);
  { ASSERT_OK(MigrateTo(path_, 3)); }
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 4));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 4);
  EXPECT_EQ(Columns(db, "images"), (std::map<std::string, std::string>{
                                       {"fingerprint", "TEXT"},
                                       {"file_size", "INTEGER"},
                                       {"unpacked_size", "INTEGER"},
                                       {"created_at_ns", "INTEGER"}}));
  EXPECT_EQ(Columns(db, "image_metadata"),
            (std::map<std::string, std::string>{
                {"fingerprint", "TEXT"}, {"key", "TEXT"}, {"value", "TEXT"}}));
  EXPECT_EQ(Columns(db, "image_aliases"),
            (std::map<std::string, std::string>{{"alias", "TEXT"}, {"fingerprint", "TEXT"}}));
  EXPECT_EQ(QueryInt(db, "SELECT revision FROM containers WHERE name = 'web'"), 3);

  const std::string fp(64, 'a');
  ASSERT_OK(db.Exec(absl::StrCat("INSERT INTO images VALUES ('", fp, "', 10, 20, 30);",
                                 "INSERT INTO image_metadata VALUES ('", fp, "', 'os', 'debian');",
                                 "INSERT INTO image_aliases VALUES ('debian/12', '", fp, "');")));
  // One alias names one image; aliases and metadata need their image and go with it.
  EXPECT_THAT(db.Exec(absl::StrCat("INSERT INTO image_aliases VALUES ('debian/12', '", fp, "')")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec(absl::StrCat("INSERT INTO image_aliases VALUES ('x', '", std::string(64, 'b'),
                                   "')")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO images VALUES ('short', 1, 1, 1)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("CHECK constraint failed")));
  ASSERT_OK(db.Exec(absl::StrCat("DELETE FROM images WHERE fingerprint = '", fp, "'")));
  EXPECT_EQ(QueryInt(db,
                     "SELECT (SELECT count(*) FROM image_metadata) + "
                     "(SELECT count(*) FROM image_aliases)"),
            0);
}

// ---- Migration 5 ----

TEST_F(MigrationsTest, Migration5AddsProfilesAndGivesEveryContainerTheDefaultProfile) {
  SeedOneContainer(path_);
  {
    ASSERT_OK_AND_ASSIGN(sqlite::Database v4, MigrateTo(path_, 4));
    ASSERT_OK(v4.Exec("INSERT INTO containers VALUES ('db', 'template', 'busybox', 0, '', 1, 0, 0)"));
  }
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 5));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 5);
  // The default profile exists, empty; both existing containers use it and nothing else.
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM profiles WHERE name = 'default' AND revision = 1"),
            1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM profile_config"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_profiles WHERE profile_name = 'default' "
                         "AND position = 0"),
            2);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_profiles"), 2);
  EXPECT_EQ(QueryInt(db, "SELECT revision FROM containers WHERE name = 'web'"), 3);
  // A profile in use cannot be deleted (RESTRICT); deleting a container takes its rows along.
  EXPECT_THAT(db.Exec("DELETE FROM profiles WHERE name = 'default'"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY constraint failed")));
  ASSERT_OK(db.Exec("INSERT INTO container_devices VALUES ('web', 'data', 'type', 'disk')"));
  ASSERT_OK(db.Exec("INSERT INTO profiles VALUES ('small', '', 1, 0, 0)"));
  ASSERT_OK(db.Exec("INSERT INTO profile_config VALUES ('small', 'limits.cpu', '1')"));
  ASSERT_OK(db.Exec("INSERT INTO profile_devices VALUES ('small', 'd', 'type', 'disk')"));
  EXPECT_THAT(db.Exec("INSERT INTO container_profiles VALUES ('web', 1, 'missing')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("FOREIGN KEY constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO container_profiles VALUES ('web', 1, 'default')"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec("INSERT INTO profiles VALUES ('x', '', 'one', 0, 0)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("cannot store TEXT value")));
  ASSERT_OK(db.Exec("DELETE FROM containers WHERE name = 'web'"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_devices"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM container_profiles"), 1);
  ASSERT_OK(db.Exec("DELETE FROM profiles WHERE name = 'small'"));
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM profile_config") +
                QueryInt(db, "SELECT count(*) FROM profile_devices"),
            0);
  struct stat st;
  EXPECT_EQ(stat((path_ + ".bak-v4").c_str(), &st), 0);
}

// ---- Migration 6 ----

TEST_F(MigrationsTest, Migration6AddsTheTrustStoreAndKeepsEverything) {
  SeedOneContainer(path_);
  {
    ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 5));
    ASSERT_OK(db.Exec("INSERT INTO events VALUES (1, 10, 13, '', NULL, 'up', NULL)"));
  }
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, MigrateTo(path_, 6));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 6);
  EXPECT_EQ(Columns(db, "trusted_clients"),
            (std::map<std::string, std::string>{{"fingerprint", "TEXT"},
                                                {"name", "TEXT"},
                                                {"role", "TEXT"},
                                                {"added_at_ns", "INTEGER"},
                                                {"last_seen_ns", "INTEGER"}}));
  EXPECT_EQ(Columns(db, "join_tokens"),
            (std::map<std::string, std::string>{{"secret_sha256", "TEXT"},
                                                {"name", "TEXT"},
                                                {"role", "TEXT"},
                                                {"created_at_ns", "INTEGER"},
                                                {"expires_at_ns", "INTEGER"},
                                                {"used_at_ns", "INTEGER"}}));
  // What versions 1 to 5 held is untouched, and a copy at version 5 was kept.
  EXPECT_EQ(QueryInt(db, "SELECT revision FROM containers WHERE name = 'web'"), 3);
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM events"), 1);
  struct stat st;
  EXPECT_EQ(stat((path_ + ".bak-v5").c_str(), &st), 0);
  const std::string fp(64, 'a');
  ASSERT_OK(db.Exec(absl::StrCat("INSERT INTO trusted_clients VALUES ('", fp,
                                 "', 'laptop', 'readonly', 1, NULL)")));
  // One row per fingerprint; only the two roles; only lowercase hex fingerprints.
  EXPECT_THAT(db.Exec(absl::StrCat("INSERT INTO trusted_clients VALUES ('", fp,
                                   "', 'again', 'admin', 2, NULL)")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
  EXPECT_THAT(db.Exec(absl::StrCat("INSERT INTO trusted_clients VALUES ('", std::string(64, 'b'),
                                   "', 'x', 'root', 2, NULL)")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("CHECK constraint failed")));
  EXPECT_THAT(db.Exec(absl::StrCat("INSERT INTO trusted_clients VALUES ('", std::string(64, 'G'),
                                   "', 'x', 'admin', 2, NULL)")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("CHECK constraint failed")));
  ASSERT_OK(db.Exec("INSERT INTO join_tokens VALUES ('h', 'laptop', 'admin', 1, 2, NULL)"));
  EXPECT_THAT(db.Exec("INSERT INTO join_tokens VALUES ('h', 'x', 'admin', 1, 2, NULL)"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("UNIQUE constraint failed")));
}

TEST_F(MigrationsTest, ACopyAtTheOldVersionIsTakenBeforeMigrating) {
  SeedOneContainer(path_);
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, OpenStateDatabase(path_, kTwoSteps));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 2);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM containers WHERE note = 'none'"), 1);

  const std::string backup = path_ + ".bak-v1";
  EXPECT_EQ(BackupPath(path_, 1), backup);
  ASSERT_OK_AND_ASSIGN(sqlite::Database copy, Peek(backup));
  EXPECT_EQ(QueryInt(copy, "PRAGMA user_version"), 1);
  EXPECT_EQ(QueryInt(copy, "SELECT revision FROM containers WHERE name = 'web'"), 3);
  EXPECT_EQ(QueryInt(copy, "SELECT count(*) FROM container_labels"), 1);
  EXPECT_FALSE(Columns(copy, "containers").contains("note"));
  ASSERT_OK_AND_ASSIGN(std::string check, copy.QueryText("PRAGMA integrity_check"));
  EXPECT_EQ(check, "ok");
  // And it passes the same inspection berthd would run on it, at version 1.
  ASSERT_OK_AND_ASSIGN(Inspection inspection, InspectStateDatabase(backup, 2));
  EXPECT_EQ(inspection.schema_version, 1);
}

TEST_F(MigrationsTest, AnOlderCopyOrALeftoverTemporaryIsReplaced) {
  SeedOneContainer(path_);
  WriteFile(path_ + ".bak-v1", "stale copy");
  WriteFile(path_ + ".bak-v1.tmp", "left by a crash");
  ASSERT_OK(OpenStateDatabase(path_, kTwoSteps));
  EXPECT_THAT(SnapshotDir(dir_.path()), ElementsAre(Key("berth.db"), Key("berth.db.bak-v1")));
  ASSERT_OK_AND_ASSIGN(sqlite::Database copy, Peek(path_ + ".bak-v1"));
  EXPECT_EQ(QueryInt(copy, "SELECT count(*) FROM containers"), 1);
}

TEST_F(MigrationsTest, NoCopyOfANewOrUpToDateDatabase) {
  { ASSERT_OK(OpenStateDatabase(path_, kTwoSteps)); }  // From nothing to version 2.
  { ASSERT_OK(OpenStateDatabase(path_, kTwoSteps)); }  // Already at version 2.
  EXPECT_THAT(SnapshotDir(dir_.path()), ElementsAre(Key("berth.db")));
}

TEST_F(MigrationsTest, AFailedMigrationRollsBackAndLeavesThePreviousVersion) {
  SeedOneContainer(path_);
  EXPECT_THAT(OpenStateDatabase(path_, kFailingSecondStep),
              StatusIs(absl::StatusCode::kInternal,
                       AllOf(HasSubstr(absl::StrCat("migrating database ", path_,
                                                    " to schema version 2 (test: fails halfway)")),
                             HasSubstr("no such table: missing_table"),
                             HasSubstr("it stays at version 1"))));
  ASSERT_OK_AND_ASSIGN(sqlite::Database db, OpenStateDatabase(path_, Migrations().first(1)));
  EXPECT_EQ(QueryInt(db, "PRAGMA user_version"), 1);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'extra'"), 0);
  EXPECT_EQ(QueryInt(db, "SELECT count(*) FROM containers"), 1);
  struct stat st {};
  EXPECT_EQ(stat((path_ + ".bak-v1").c_str(), &st), 0) << "the copy was taken first";
}

TEST_F(MigrationsTest, ADatabaseFromANewerBinaryIsRefusedUntouched) {
  SeedOneContainer(path_);
  { ASSERT_OK(OpenStateDatabase(path_, kTwoSteps)); }
  const std::map<std::string, FileState> before = SnapshotDir(dir_.path());
  EXPECT_THAT(OpenStateDatabase(path_, Migrations().first(1)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       absl::StrCat("database ", path_,
                                    " has schema version 2 but this berthd knows at most 1; "
                                    "upgrade berthd or restore a backup")));
  EXPECT_EQ(SnapshotDir(dir_.path()), before);
}

}  // namespace
}  // namespace berth::storage

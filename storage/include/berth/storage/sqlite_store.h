#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/storage/container_store.h"
#include "berth/storage/sqlite_event_log.h"
#include "berth/storage/sqlite_image_store.h"
#include "berth/storage/sqlite_trust_store.h"

namespace berth::storage {

namespace sqlite {
class Database;
}  // namespace sqlite

// The daemon's ContainerStore: one SQLite file in WAL mode, synchronous=FULL (a write that
// returned OK survives power loss), foreign keys on.
//
// Threading: one connection, used by one thread at a time under `mu_`. berthd is the database's
// only writer and its operations are short, so a single connection costs little, and it keeps
// reads and writes trivially consistent; WAL still lets outside readers (backup tools) in. Every
// write runs in a BEGIN IMMEDIATE transaction that is rerun whole if the database is busy.
// Not to be used in a child after fork().
//
// Beyond ContainerStore's codes: INVALID_ARGUMENT for a timestamp that cannot be stored as int64
// nanoseconds since the epoch (years 1677..2262); DATA_LOSS if SQLite finds the file corrupt.
// Stored timestamps keep whole nanoseconds (finer parts are dropped, toward the past).
class SqliteStore final : public ContainerStore {
 public:
  // Opens the database at `path`, creating the file (not its directory) when absent, and
  // migrates it to the newest schema this binary knows, after copying it to <path>.bak-v<N> when
  // it is at an older version N>0. Refuses, leaving the file untouched:
  //   FAILED_PRECONDITION: a schema version newer than this binary knows ("database /x/berth.db
  //     has schema version 7 but this berthd knows at most 1; upgrade berthd or restore a
  //     backup"); another program's SQLite database; not a regular file.
  //   DATA_LOSS: not an SQLite database, truncated or corrupt ("database /x/berth.db is not a
  //     valid berth database (...); move it aside or restore a backup").
  // INTERNAL when SQLite fails otherwise or a migration fails (the database then stays at the
  // last version that succeeded). Messages name the path. Call it once per path per process.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  ~SqliteStore() override;

  absl::StatusOr<ContainerRecord> Get(std::string_view name) override;
  absl::StatusOr<std::vector<ContainerRecord>> List() override;
  absl::StatusOr<ContainerRecord> Create(ContainerRecord record) override;
  absl::StatusOr<ContainerRecord> Update(std::string_view name, ContainerRecord record,
                                         int64_t expected_revision) override;
  absl::Status Delete(std::string_view name, int64_t expected_revision) override;
  absl::StatusOr<SnapshotRecord> CreateSnapshot(SnapshotRecord record) override;
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(std::string_view container) override;
  absl::StatusOr<SnapshotRecord> GetSnapshot(std::string_view container,
                                             std::string_view name) override;
  absl::Status DeleteSnapshot(std::string_view container, std::string_view name) override;
  absl::StatusOr<ProfileRecord> GetProfile(std::string_view name) override;
  absl::StatusOr<std::vector<ProfileRecord>> ListProfiles() override;
  absl::StatusOr<ProfileRecord> CreateProfile(ProfileRecord record) override;
  absl::StatusOr<ProfileRecord> UpdateProfile(ProfileRecord record,
                                              int64_t expected_revision) override;
  absl::Status DeleteProfile(std::string_view name, int64_t expected_revision) override;
  absl::StatusOr<std::vector<std::string>> ProfileUsers(std::string_view name) override;

  const std::string& path() const { return path_; }

  // The event log in the same database, on the same connection (so one writer). Lives as long as
  // the store.
  SqliteEventLog& events() { return events_; }
  // The image tables, likewise on the same connection.
  SqliteImageStore& images() { return images_; }
  // The trust store (remote control) in the same database, on the same connection.
  SqliteTrustStore& trust() { return trust_; }

  // For tests: the value of `PRAGMA <name>` on the store's own connection, e.g. "journal_mode"
  // -> "wal". INVALID_ARGUMENT unless `name` is lowercase letters and underscores.
  absl::StatusOr<std::string> PragmaForTesting(std::string_view name);

 private:
  SqliteStore(std::string path, std::unique_ptr<sqlite::Database> db);

  const std::string path_;
  absl::Mutex mu_;
  // The connection and the statements it caches. Every use holds mu_.
  const std::unique_ptr<sqlite::Database> db_ ABSL_GUARDED_BY(mu_);
  SqliteEventLog events_;  // Uses mu_ and db_.
  SqliteImageStore images_;  // Uses mu_ and db_.
  SqliteTrustStore trust_;  // Uses mu_ and db_.
};

}  // namespace berth::storage

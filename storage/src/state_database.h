#pragma once

// Opening berthd's state database: inspect without touching, open, configure, back up, migrate.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "schema.h"
#include "sqlite.h"

namespace berth::storage {

// How long one attempt at a statement waits for another connection's lock (PRAGMA busy_timeout).
inline constexpr absl::Duration kBusyTimeout = absl::Seconds(5);

// What InspectStateDatabase found.
struct Inspection {
  bool exists = false;         // False: nothing at the path yet; opening will create the file.
  int64_t schema_version = 0;  // PRAGMA user_version. 0 for an empty file.
};

// Looks at the file at `path` and changes nothing: no byte of it, its mtime, or its directory
// (no -wal, -shm or -journal file appears). Reads the header, PRAGMA user_version,
// application_id and quick_check through a read-only connection: an `immutable=1` one, or, when a
// -wal or -journal file is already there (berthd was killed), a plain read-only one that must read
// them to see the latest commit and does not checkpoint.
//   FAILED_PRECONDITION: schema version newer than `newest_known_version` ("database X has schema
//     version 7 but this berthd knows at most 1; upgrade berthd or restore a backup"); another
//     application's SQLite database; not a regular file; unreadable.
//   DATA_LOSS: not an SQLite database, truncated or corrupt ("... is not a valid berth database").
absl::StatusOr<Inspection> InspectStateDatabase(const std::string& path,
                                                int64_t newest_known_version);

// Where the copy of `path` taken before migrating it away from `version` goes: <path>.bak-v<N>.
std::string BackupPath(const std::string& path, int64_t version);

// Copies the database `db` is open on (at `path`) to BackupPath(path, version), replacing an
// older copy atomically: VACUUM INTO a temporary file, fsync it, rename it, fsync the directory.
// `db` must not be in a transaction. INTERNAL on failure.
absl::Status BackUpStateDatabase(sqlite::Database& db, const std::string& path, int64_t version);

// Opens the state database at `path`, creating the file (and nothing else) when absent, and brings
// it to the last version of `migrations` (the real list is Migrations(); tests pass others):
//   1. InspectStateDatabase refuses, without touching the file, a database that is newer than the
//      list, corrupt, or not berth's.
//   2. Opens read-write with busy_timeout, journal_mode=WAL, synchronous=FULL, foreign_keys=ON.
//   3. A database at version N>0 with migrations pending is first copied to <path>.bak-vN.
//   4. Each pending migration runs in its own transaction that also sets user_version; a failure
//   leaves the database at the last version that succeeded.
// INTERNAL for a malformed migration list (versions must be 1, 2, 3...) and for SQLite failures,
// with the path in the message.
absl::StatusOr<sqlite::Database> OpenStateDatabase(const std::string& path,
                                                   absl::Span<const Migration> migrations);

}  // namespace berth::storage

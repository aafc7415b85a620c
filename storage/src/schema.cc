#include "schema.h"

namespace berth::storage {

// The state database's migrations. Rules:
//
//  1. Append only. Never edit, reorder, renumber or remove a migration that has been released:
//     databases in the field were built by exactly that text. Fix a mistake with a new migration.
//  2. Version N is at index N-1. OpenStateDatabase checks this and refuses to start otherwise.
//  3. Each migration runs in its own transaction, which also sets PRAGMA user_version to N; if
//     the migration fails, the transaction rolls back and the database stays at N-1.
//  4. Before migrating a database at version N>0, OpenStateDatabase copies it to
//     <path>.bak-v<N>; say in the release notes that a downgrade means restoring that copy.
//  5. Only statements that are allowed in a transaction (no VACUUM, no journal_mode).
//  6. Every migration has a test in tests/unit/storage/migrations_test.cc that seeds a database
//     at version N-1, runs migration N and checks the result; the test also counts the list.
//
// Tables are STRICT (column types enforced). Timestamps are int64 nanoseconds since the Unix
// epoch. Child tables name their container with ON DELETE/ON UPDATE CASCADE, so deleting or
// renaming a container carries its config, labels and source arguments along.
constexpr Migration kMigrations[] = {
    {
        .version = 1,
        .description = "create containers, container_config, container_labels, "
                       "container_source_args",
        .sql = R"sql(
PRAGMA application_id = 1112691784;

CREATE TABLE containers (
  name          TEXT    NOT NULL PRIMARY KEY,
  source_kind   TEXT    NOT NULL,
  source_name   TEXT    NOT NULL,
  phase         INTEGER NOT NULL,
  phase_detail  TEXT    NOT NULL,
  revision      INTEGER NOT NULL CHECK (revision >= 1),
  created_at_ns INTEGER NOT NULL,
  updated_at_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE container_config (
  container_name TEXT NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  key            TEXT NOT NULL,
  value          TEXT NOT NULL,
  PRIMARY KEY (container_name, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE container_labels (
  container_name TEXT NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  key            TEXT NOT NULL,
  value          TEXT NOT NULL,
  PRIMARY KEY (container_name, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE container_source_args (
  container_name TEXT    NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  position       INTEGER NOT NULL CHECK (position >= 0),
  value          TEXT    NOT NULL,
  PRIMARY KEY (container_name, position)
) STRICT, WITHOUT ROWID;
)sql",
    },
    {
        .version = 2,
        .description = "create events",
        // The durable event log. No foreign key to containers: events outlive the containers
        // they are about (kDeleted is the last word on one). `id` is the event bus's number, not
        // a rowid SQLite picks, so replay by id is replay in publish order. `type` and `state` are
        // the core's enum values.
        .sql = R"sql(
CREATE TABLE events (
  id        INTEGER NOT NULL PRIMARY KEY,
  time_ns   INTEGER NOT NULL,
  type      INTEGER NOT NULL,
  container TEXT    NOT NULL,
  state     INTEGER,
  detail    TEXT    NOT NULL,
  exit_code INTEGER
) STRICT;

CREATE INDEX events_by_time ON events (time_ns);
)sql",
    },
    {
        .version = 3,
        .description = "create trusted_clients, join_tokens",
        // Remote control (berth config trust, berth remote add). A client is its certificate's
        // SHA-256 fingerprint; its certificate itself is not kept. A join token is kept only as
        // the SHA-256 of its secret, so a copy of the database does not let anyone enrol;
        // used_at_ns makes it single-use, and a used or expired row is kept until pruned so that
        // reuse gets a clear "already used" instead of "unknown".
        .sql = R"sql(
CREATE TABLE trusted_clients (
  fingerprint  TEXT    NOT NULL PRIMARY KEY
    CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
  name         TEXT    NOT NULL,
  role         TEXT    NOT NULL CHECK (role IN ('admin', 'readonly')),
  added_at_ns  INTEGER NOT NULL,
  last_seen_ns INTEGER
) STRICT;

CREATE TABLE join_tokens (
  secret_sha256 TEXT    NOT NULL PRIMARY KEY,
  name          TEXT    NOT NULL,
  role          TEXT    NOT NULL CHECK (role IN ('admin', 'readonly')),
  created_at_ns INTEGER NOT NULL,
  expires_at_ns INTEGER NOT NULL,
  used_at_ns    INTEGER
) STRICT;
)sql",
    },
};

static_assert(kApplicationId == 1112691784, "migration 1 writes kApplicationId literally");

absl::Span<const Migration> Migrations() { return kMigrations; }

}  // namespace berth::storage

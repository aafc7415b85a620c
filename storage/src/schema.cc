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
        .description = "create container_snapshots",
        // A snapshot belongs to its container: renaming or deleting the container carries or
        // removes it. `definition` is the container's config and labels when the snapshot was
        // taken, encoded by EncodeDefinition (record_rules.h), put back on restore.
        .sql = R"sql(
CREATE TABLE container_snapshots (
  container_name TEXT    NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  name           TEXT    NOT NULL,
  created_at_ns  INTEGER NOT NULL,
  definition     TEXT    NOT NULL,
  PRIMARY KEY (container_name, name)
) STRICT, WITHOUT ROWID;
)sql",
    },
    {
        .version = 4,
        .description = "create images, image_metadata, image_aliases",
        // Root filesystem images (see ImageStore). The fingerprint is the SHA-256 of the image
        // file in lowercase hex. Which containers use an image is not stored here: a container's
        // source_kind 'image' and source_name <fingerprint> say it, so the two cannot disagree.
        .sql = R"sql(
CREATE TABLE images (
  fingerprint   TEXT    NOT NULL PRIMARY KEY CHECK (length(fingerprint) = 64),
  file_size     INTEGER NOT NULL CHECK (file_size >= 0),
  unpacked_size INTEGER NOT NULL CHECK (unpacked_size >= 0),
  created_at_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE image_metadata (
  fingerprint TEXT NOT NULL REFERENCES images (fingerprint) ON DELETE CASCADE,
  key         TEXT NOT NULL,
  value       TEXT NOT NULL,
  PRIMARY KEY (fingerprint, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE image_aliases (
  alias       TEXT NOT NULL PRIMARY KEY,
  fingerprint TEXT NOT NULL REFERENCES images (fingerprint) ON DELETE CASCADE
) STRICT;

CREATE INDEX image_aliases_by_fingerprint ON image_aliases (fingerprint);
)sql",
    },
    {
        .version = 5,
        .description = "create profiles, profile_config, profile_devices, container_profiles, "
                       "container_devices; every container gets the default profile",
        // A device is rows of (owner, device, key, value) with its type under the key "type", so
        // one table holds every type's options. container_profiles refers to profiles with ON
        // DELETE RESTRICT: a profile in use cannot go (the store says which containers use it);
        // renaming a profile would carry along (ON UPDATE CASCADE). The default profile is empty.
        .sql = R"sql(
CREATE TABLE profiles (
  name          TEXT    NOT NULL PRIMARY KEY,
  description   TEXT    NOT NULL,
  revision      INTEGER NOT NULL CHECK (revision >= 1),
  created_at_ns INTEGER NOT NULL,
  updated_at_ns INTEGER NOT NULL
) STRICT;

CREATE TABLE profile_config (
  profile_name TEXT NOT NULL
    REFERENCES profiles (name) ON DELETE CASCADE ON UPDATE CASCADE,
  key          TEXT NOT NULL,
  value        TEXT NOT NULL,
  PRIMARY KEY (profile_name, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE profile_devices (
  profile_name TEXT NOT NULL
    REFERENCES profiles (name) ON DELETE CASCADE ON UPDATE CASCADE,
  device       TEXT NOT NULL,
  key          TEXT NOT NULL,
  value        TEXT NOT NULL,
  PRIMARY KEY (profile_name, device, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE container_profiles (
  container_name TEXT    NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  position       INTEGER NOT NULL CHECK (position >= 0),
  profile_name   TEXT    NOT NULL
    REFERENCES profiles (name) ON DELETE RESTRICT ON UPDATE CASCADE,
  PRIMARY KEY (container_name, position),
  UNIQUE (container_name, profile_name)
) STRICT, WITHOUT ROWID;

CREATE INDEX container_profiles_by_profile ON container_profiles (profile_name);

CREATE TABLE container_devices (
  container_name TEXT NOT NULL
    REFERENCES containers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  device         TEXT NOT NULL,
  key            TEXT NOT NULL,
  value          TEXT NOT NULL,
  PRIMARY KEY (container_name, device, key)
) STRICT, WITHOUT ROWID;

INSERT INTO profiles (name, description, revision, created_at_ns, updated_at_ns)
  VALUES ('default', 'The profile new containers get unless others are given', 1,
          CAST(unixepoch() AS INTEGER) * 1000000000, CAST(unixepoch() AS INTEGER) * 1000000000);

INSERT INTO container_profiles (container_name, position, profile_name)
  SELECT name, 0, 'default' FROM containers;
)sql",
    },
    {
        .version = 6,
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

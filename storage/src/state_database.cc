#include "state_database.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "c_ptr.h"
#include "logging.h"
#include "string_views.h"

namespace berth::storage {
namespace {

// The first 16 bytes of every SQLite 3 database file.
constexpr std::string_view kSqliteMagic{"SQLite format 3\0", 16};
constexpr size_t kSqliteHeaderSize = 100;

std::string ErrnoText(int error) { return std::strerror(error); }

absl::Status NotValid(const std::string& path, absl::string_view reason,
                      absl::StatusCode code = absl::StatusCode::kDataLoss) {
  return absl::Status(code, absl::StrCat("database ", path, " is not a valid berth database (",
                                         reason, "); move it aside or restore a backup"));
}

absl::Status TooNew(const std::string& path, int64_t version, int64_t newest_known_version) {
  return absl::FailedPreconditionError(absl::StrCat(
      "database ", path, " has schema version ", version, " but this berthd knows at most ",
      newest_known_version, "; upgrade berthd or restore a backup"));
}

// A `file:` URI for `path` that opens it read-only and immutable: SQLite takes no lock and
// creates no -wal, -shm or -journal file.
std::string ImmutableUri(const std::string& path) {
  std::string uri = "file:";
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || std::string_view("/-._~").find(c) != std::string_view::npos) {
      uri.push_back(c);
    } else {
      absl::StrAppend(&uri, "%", absl::Hex(byte, absl::kZeroPad2));
    }
  }
  return absl::StrCat(uri, "?mode=ro&immutable=1");
}

// True when `path` names a non-empty file. Errors other than "not there" count as present, so
// that the careful (non-immutable) inspection runs.
bool NonEmptyFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return errno != ENOENT;
  return st.st_size > 0;
}

// Reads the 100-byte header and checks the SQLite magic.
absl::Status CheckHeader(const std::string& path) {
  // "e": O_CLOEXEC, so that no child process inherits the descriptor.
  CPtr<FILE, fclose> file(fopen(path.c_str(), "rbe"));
  if (file == nullptr) {
    const int error = errno;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read database ", path, ": ", ErrnoText(error)));
  }
  std::array<char, kSqliteHeaderSize> header{};
  const size_t got = fread(header.data(), 1, header.size(), file.get());
  if (got < header.size() && ferror(file.get()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read database ", path));
  }
  if (got < header.size()) return NotValid(path, "file too short for an SQLite header");
  if (std::string_view(header.data(), kSqliteMagic.size()) != kSqliteMagic) {
    return NotValid(path, "not an SQLite database");
  }
  return absl::OkStatus();
}

// Maps an SQLite failure during inspection: corruption means "not valid", anything else is a
// failure to inspect.
absl::Status InspectionError(const std::string& path, const absl::Status& status) {
  const std::optional<int> code = sqlite::ResultCodeOf(status);
  if (code.has_value() && ((*code & 0xff) == SQLITE_CORRUPT || (*code & 0xff) == SQLITE_NOTADB)) {
    return NotValid(path, status.message());
  }
  if (code.has_value() && *code == SQLITE_READONLY_ROLLBACK) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database ", path, " has an unfinished transaction in ", path,
        "-journal that a read-only inspection cannot roll back; open it once with sqlite3 to "
        "roll it back"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot inspect database ", path, ": ", status.message()));
}

absl::StatusOr<sqlite::Database> OpenForInspection(const std::string& path, bool sidecar_files) {
  if (!sidecar_files) {
    return sqlite::Database::Open(ImmutableUri(path), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  }
  // The -wal (or -journal) may hold the latest commits, so it has to be read; a read-only
  // connection reads it and, with checkpoint-on-close off, never writes the database file.
  absl::StatusOr<sqlite::Database> db = sqlite::Database::Open(path, SQLITE_OPEN_READONLY);
  if (!db.ok()) return db;
  sqlite3_db_config(db->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return db;
}

absl::Status SyncPath(const std::string& path, int flags) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", path, ": ", ErrnoText(errno)));
  }
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot fsync ", path, ": ", ErrnoText(error)));
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status CheckMigrationList(absl::Span<const Migration> migrations) {
  for (size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int64_t>(i) + 1) {
      return absl::InternalError(absl::StrCat("migration at position ", i + 1, " has version ",
                                              migrations[i].version,
                                              "; versions must be 1, 2, 3..."));
    }
  }
  return absl::OkStatus();
}

// Sets the pragmas berthd's connection runs with and checks that they took.
absl::Status Configure(sqlite::Database& db, const std::string& path) {
  sqlite3_busy_timeout(db.handle(), static_cast<int>(absl::ToInt64Milliseconds(kBusyTimeout)));
  // Defensive: no writable_schema tricks. Untrusted schema: no SQL functions with side effects in
  // views or triggers of a file someone else may have written.
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.handle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);

  absl::StatusOr<std::string> journal_mode = db.QueryText("PRAGMA journal_mode = WAL");
  if (!journal_mode.ok()) return journal_mode.status();
  if (absl::AsciiStrToLower(*journal_mode) != "wal") {
    return absl::InternalError(absl::StrCat("cannot put database ", path,
                                            " in WAL mode; it stays in mode ", *journal_mode));
  }
  // FULL: an acknowledged write survives power loss (in WAL mode NORMAL would not).
  if (absl::Status status = db.Exec("PRAGMA synchronous = FULL"); !status.ok()) return status;
  if (absl::Status status = db.Exec("PRAGMA foreign_keys = ON"); !status.ok()) return status;
  absl::StatusOr<int64_t> foreign_keys = db.QueryInt("PRAGMA foreign_keys");
  if (!foreign_keys.ok()) return foreign_keys.status();
  if (*foreign_keys != 1) {
    return absl::InternalError("this SQLite cannot enforce foreign keys");
  }
  return absl::OkStatus();
}

// Runs one migration in its own transaction.
absl::Status ApplyMigration(sqlite::Database& db, const Migration& migration) {
  sqlite::Transaction transaction(db);
  if (!transaction.status().ok()) return transaction.status();
  absl::StatusOr<int64_t> version = db.QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version != migration.version - 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("schema version changed to ", *version, " by another process"));
  }
  if (absl::Status status = db.Exec(migration.sql); !status.ok()) return status;
  if (absl::Status status = db.Exec(absl::StrCat("PRAGMA user_version = ", migration.version));
      !status.ok()) {
    return status;
  }
  return transaction.Commit();
}

}  // namespace

absl::StatusOr<Inspection> InspectStateDatabase(const std::string& path,
                                                int64_t newest_known_version) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT) return Inspection{.exists = false, .schema_version = 0};
    return absl::FailedPreconditionError(
        absl::StrCat("cannot inspect database ", path, ": ", ErrnoText(error)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("database ", path, " is not a regular file"));
  }
  const bool sidecar_files =
      NonEmptyFile(absl::StrCat(path, "-wal")) || NonEmptyFile(absl::StrCat(path, "-journal"));
  // SQLite writes nothing into a new database file before its first transaction.
  if (st.st_size == 0 && !sidecar_files) return Inspection{.exists = true, .schema_version = 0};
  if (st.st_size > 0) {
    if (absl::Status status = CheckHeader(path); !status.ok()) return status;
  }

  absl::StatusOr<sqlite::Database> db = OpenForInspection(path, sidecar_files);
  if (!db.ok()) return InspectionError(path, db.status());

  absl::StatusOr<int64_t> version = db->QueryInt("PRAGMA user_version");
  if (!version.ok()) return InspectionError(path, version.status());
  if (*version > newest_known_version) return TooNew(path, *version, newest_known_version);
  if (*version < 0) return NotValid(path, absl::StrCat("negative schema version ", *version));

  if (*version > 0) {
    absl::StatusOr<int64_t> application_id = db->QueryInt("PRAGMA application_id");
    if (!application_id.ok()) return InspectionError(path, application_id.status());
    if (*application_id != kApplicationId) {
      return NotValid(path,
                      absl::StrCat("application id 0x", absl::Hex(*application_id),
                                   ": another program's SQLite database"),
                      absl::StatusCode::kFailedPrecondition);
    }
  } else {
    absl::StatusOr<int64_t> objects = db->QueryInt("SELECT count(*) FROM sqlite_schema");
    if (!objects.ok()) return InspectionError(path, objects.status());
    if (*objects > 0) {
      return NotValid(path, "it holds tables but no berth schema version",
                      absl::StatusCode::kFailedPrecondition);
    }
  }

  absl::StatusOr<sqlite::Statement> quick_check = db->Prepare("PRAGMA quick_check");
  if (!quick_check.ok()) return InspectionError(path, quick_check.status());
  std::vector<std::string> problems;
  while (true) {
    absl::StatusOr<bool> row = quick_check->Step();
    if (!row.ok()) return InspectionError(path, row.status());
    if (!*row) break;
    std::string line = quick_check->ColumnText(0);
    if (line != "ok" && problems.size() < 3) problems.push_back(std::move(line));
  }
  if (!problems.empty()) {
    return NotValid(path, absl::StrCat("quick_check: ", absl::StrJoin(problems, "; ")));
  }
  return Inspection{.exists = true, .schema_version = *version};
}

std::string BackupPath(const std::string& path, int64_t version) {
  return absl::StrCat(path, ".bak-v", version);
}

absl::Status BackUpStateDatabase(sqlite::Database& db, const std::string& path, int64_t version) {
  const std::string backup = BackupPath(path, version);
  const std::string temporary = absl::StrCat(backup, ".tmp");
  auto failed = [&](absl::string_view why) {
    return absl::InternalError(
        absl::StrCat("cannot back up database ", path, " to ", backup, ": ", why));
  };
  // VACUUM INTO refuses an existing non-empty file: remove what a failed attempt left.
  if (unlink(temporary.c_str()) != 0 && errno != ENOENT) return failed(ErrnoText(errno));
  absl::StatusOr<sqlite::Statement> vacuum = db.Prepare("VACUUM INTO ?");
  if (!vacuum.ok()) return failed(vacuum.status().message());
  if (absl::Status status = vacuum->Bind(1, temporary).Run(); !status.ok()) {
    unlink(temporary.c_str());
    return failed(status.message());
  }
  // VACUUM INTO does not sync its output; the copy must be on disk before it replaces the last.
  if (absl::Status status = SyncPath(temporary, O_RDONLY); !status.ok()) {
    unlink(temporary.c_str());
    return failed(status.message());
  }
  if (rename(temporary.c_str(), backup.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    return failed(ErrnoText(error));
  }
  if (absl::Status status = SyncPath(DirectoryOf(path), O_RDONLY | O_DIRECTORY); !status.ok()) {
    return failed(status.message());
  }
  Logger()->info("Copied database \"{}\" at schema version {} to \"{}\"", path, version, backup);
  return absl::OkStatus();
}

absl::StatusOr<sqlite::Database> OpenStateDatabase(const std::string& path,
                                                   absl::Span<const Migration> migrations) {
  if (absl::Status status = CheckMigrationList(migrations); !status.ok()) return status;
  const auto newest = static_cast<int64_t>(migrations.size());

  absl::StatusOr<Inspection> inspection = InspectStateDatabase(path, newest);
  if (!inspection.ok()) return inspection.status();

  const int flags = SQLITE_OPEN_READWRITE | (inspection->exists ? 0 : SQLITE_OPEN_CREATE);
  absl::StatusOr<sqlite::Database> db = sqlite::Database::Open(path, flags);
  if (!db.ok()) return db.status();
  if (absl::Status status = Configure(*db, path); !status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("configuring database ", path, ": ", status.message()));
  }

  absl::StatusOr<int64_t> version = db->QueryInt("PRAGMA user_version");
  if (!version.ok()) return version.status();
  // Another process may have migrated the file since the inspection.
  if (*version > newest) return TooNew(path, *version, newest);
  if (*version == newest) return db;

  if (*version > 0) {
    if (absl::Status status = BackUpStateDatabase(*db, path, *version); !status.ok()) {
      return status;
    }
  }
  for (const Migration& migration : migrations.subspan(static_cast<size_t>(*version))) {
    absl::Status status = sqlite::RetryWhileBusy([&] { return ApplyMigration(*db, migration); });
    if (!status.ok()) {
      return absl::Status(
          status.code(),
          absl::StrCat("migrating database ", path, " to schema version ", migration.version, " (",
                       ToAbsl(migration.description), ") failed: ", status.message(),
                       "; it stays at version ", migration.version - 1));
    }
    Logger()->info("Migrated database \"{}\" to schema version {}: {}", path, migration.version,
                   migration.description);
  }
  return db;
}

}  // namespace berth::storage

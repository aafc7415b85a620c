#include "berth/storage/sqlite_image_store.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "record_rules.h"
#include "sqlite.h"

namespace berth::storage {
namespace {

using sqlite::ScopedStatement;
using sqlite::Transaction;

constexpr std::string_view kInsertImage =
    "INSERT INTO images (fingerprint, file_size, unpacked_size, created_at_ns) "
    "VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kInsertMetadata =
    "INSERT INTO image_metadata (fingerprint, key, value) VALUES (?1, ?2, ?3)";
constexpr std::string_view kInsertAlias =
    "INSERT INTO image_aliases (alias, fingerprint) VALUES (?1, ?2)";
constexpr std::string_view kSelectImage =
    "SELECT fingerprint, file_size, unpacked_size, created_at_ns FROM images "
    "WHERE fingerprint = ?1";
constexpr std::string_view kSelectImages =
    "SELECT fingerprint, file_size, unpacked_size, created_at_ns FROM images "
    "ORDER BY fingerprint";
constexpr std::string_view kSelectMetadata =
    "SELECT key, value FROM image_metadata WHERE fingerprint = ?1";
constexpr std::string_view kSelectAliases =
    "SELECT alias FROM image_aliases WHERE fingerprint = ?1 ORDER BY alias";
constexpr std::string_view kSelectAlias = "SELECT fingerprint FROM image_aliases WHERE alias = ?1";
constexpr std::string_view kDeleteAlias = "DELETE FROM image_aliases WHERE alias = ?1";
constexpr std::string_view kDeleteImage = "DELETE FROM images WHERE fingerprint = ?1";

std::string Q(std::string_view s) { return absl::StrCat("\"", std::string(s), "\""); }

// True when `alias` names an image. Caller holds the store's mutex.
absl::StatusOr<bool> AliasTaken(sqlite::Database& db, std::string_view alias) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectAlias);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, alias);
  return (*select)->Step();
}

absl::StatusOr<bool> ImageExists(sqlite::Database& db, std::string_view fingerprint) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectImage);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, fingerprint);
  return (*select)->Step();
}

ImageRecord ReadImageRow(const sqlite::Statement& row) {
  ImageRecord record;
  record.fingerprint = row.ColumnText(0);
  record.file_size = static_cast<uint64_t>(row.ColumnInt64(1));
  record.unpacked_size = static_cast<uint64_t>(row.ColumnInt64(2));
  record.created_at = FromStoredNanos(row.ColumnInt64(3));
  return record;
}

}  // namespace

absl::Status SqliteImageStore::FillDetails(ImageRecord& record) {
  {
    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectMetadata);
    if (!select.ok()) return select.status();
    (*select)->Bind(1, record.fingerprint);
    for (;;) {
      absl::StatusOr<bool> row = (*select)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      record.metadata.emplace((*select)->ColumnText(0), (*select)->ColumnText(1));
    }
  }
  absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectAliases);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, record.fingerprint);
  for (;;) {
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    record.aliases.push_back((*select)->ColumnText(0));
  }
  return absl::OkStatus();
}

absl::Status SqliteImageStore::Create(const ImageRecord& record) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::Status {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    absl::StatusOr<bool> exists = ImageExists(*db_, record.fingerprint);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      return absl::AlreadyExistsError(absl::StrCat("image ", record.fingerprint, " exists"));
    }
    for (const std::string& alias : record.aliases) {
      absl::StatusOr<bool> taken = AliasTaken(*db_, alias);
      if (!taken.ok()) return taken.status();
      if (*taken) return absl::AlreadyExistsError(absl::StrCat("alias ", Q(alias), " is taken"));
    }
    {
      absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertImage);
      if (!insert.ok()) return insert.status();
      if (absl::Status s = (*insert)
                               ->Bind(1, record.fingerprint)
                               .Bind(2, static_cast<int64_t>(record.file_size))
                               .Bind(3, static_cast<int64_t>(record.unpacked_size))
                               .Bind(4, ToStoredNanos(record.created_at))
                               .Run();
          !s.ok()) {
        return s;
      }
    }
    for (const auto& [key, value] : record.metadata) {
      absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertMetadata);
      if (!insert.ok()) return insert.status();
      if (absl::Status s = (*insert)->Bind(1, record.fingerprint).Bind(2, key).Bind(3, value).Run();
          !s.ok()) {
        return s;
      }
    }
    for (const std::string& alias : record.aliases) {
      absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertAlias);
      if (!insert.ok()) return insert.status();
      if (absl::Status s = (*insert)->Bind(1, alias).Bind(2, record.fingerprint).Run(); !s.ok()) {
        return s;
      }
    }
    return transaction.Commit();
  });
}

absl::StatusOr<ImageRecord> SqliteImageStore::Get(std::string_view fingerprint) {
  absl::MutexLock lock(mu_);
  ImageRecord record;
  {
    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectImage);
    if (!select.ok()) return select.status();
    (*select)->Bind(1, fingerprint);
    absl::StatusOr<bool> row = (*select)->Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::NotFoundError(absl::StrCat("no image ", std::string(fingerprint)));
    record = ReadImageRow(**select);
  }
  if (absl::Status s = FillDetails(record); !s.ok()) return s;
  return record;
}

absl::StatusOr<std::vector<ImageRecord>> SqliteImageStore::List() {
  absl::MutexLock lock(mu_);
  std::vector<ImageRecord> records;
  {
    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectImages);
    if (!select.ok()) return select.status();
    for (;;) {
      absl::StatusOr<bool> row = (*select)->Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      records.push_back(ReadImageRow(**select));
    }
  }
  for (ImageRecord& record : records) {
    if (absl::Status s = FillDetails(record); !s.ok()) return s;
  }
  return records;
}

absl::StatusOr<std::string> SqliteImageStore::ResolveAlias(std::string_view alias) {
  absl::MutexLock lock(mu_);
  absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectAlias);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, alias);
  absl::StatusOr<bool> row = (*select)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("no image has the alias ", Q(alias)));
  return (*select)->ColumnText(0);
}

absl::Status SqliteImageStore::AddAlias(std::string_view fingerprint, std::string_view alias) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::Status {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    absl::StatusOr<bool> exists = ImageExists(*db_, fingerprint);
    if (!exists.ok()) return exists.status();
    if (!*exists) return absl::NotFoundError(absl::StrCat("no image ", std::string(fingerprint)));
    absl::StatusOr<bool> taken = AliasTaken(*db_, alias);
    if (!taken.ok()) return taken.status();
    if (*taken) return absl::AlreadyExistsError(absl::StrCat("alias ", Q(alias), " is taken"));
    absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertAlias);
    if (!insert.ok()) return insert.status();
    if (absl::Status s = (*insert)->Bind(1, alias).Bind(2, fingerprint).Run(); !s.ok()) return s;
    return transaction.Commit();
  });
}

absl::Status SqliteImageStore::RemoveAlias(std::string_view alias) {
  absl::MutexLock lock(mu_);
  absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteAlias);
  if (!remove.ok()) return remove.status();
  if (absl::Status s = (*remove)->Bind(1, alias).Run(); !s.ok()) return s;
  if ((*remove)->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("no image has the alias ", Q(alias)));
  }
  return absl::OkStatus();
}

absl::Status SqliteImageStore::Delete(std::string_view fingerprint) {
  absl::MutexLock lock(mu_);
  absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteImage);
  if (!remove.ok()) return remove.status();
  if (absl::Status s = (*remove)->Bind(1, fingerprint).Run(); !s.ok()) return s;
  if ((*remove)->Changes() == 0) {
    return absl::NotFoundError(absl::StrCat("no image ", std::string(fingerprint)));
  }
  return absl::OkStatus();
}

}  // namespace berth::storage

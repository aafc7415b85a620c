#pragma once

#include "absl/synchronization/mutex.h"
#include "berth/storage/image_store.h"

namespace berth::storage {
namespace sqlite {
class Database;
}  // namespace sqlite

// The image tables of berthd's state database (schema migration 3). Obtained from
// SqliteStore::images(): it shares the store's one connection and its mutex, so the database keeps
// a single writer, and it lives as long as the store.
class SqliteImageStore final : public ImageStore {
 public:
  SqliteImageStore(const SqliteImageStore&) = delete;
  SqliteImageStore& operator=(const SqliteImageStore&) = delete;

  absl::Status Create(const ImageRecord& record) override;
  absl::StatusOr<ImageRecord> Get(std::string_view fingerprint) override;
  absl::StatusOr<std::vector<ImageRecord>> List() override;
  absl::StatusOr<std::string> ResolveAlias(std::string_view alias) override;
  absl::Status AddAlias(std::string_view fingerprint, std::string_view alias) override;
  absl::Status RemoveAlias(std::string_view alias) override;
  absl::Status Delete(std::string_view fingerprint) override;

 private:
  friend class SqliteStore;
  // `mu` guards every use of `db`; both belong to the SqliteStore.
  SqliteImageStore(absl::Mutex* mu, sqlite::Database* db) : mu_(mu), db_(db) {}

  // Reads one image's metadata and aliases into `record`. Caller holds *mu_.
  absl::Status FillDetails(ImageRecord& record);

  absl::Mutex* const mu_;
  sqlite::Database* const db_;  // Used only with *mu_ held.
};

}  // namespace berth::storage

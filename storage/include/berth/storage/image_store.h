#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::storage {

// A stored root filesystem image. Its files live under berthd's image directory; this is what the
// database knows of it.
struct ImageRecord {
  std::string fingerprint;  // SHA-256 of the image file, 64 lowercase hex digits
  uint64_t file_size = 0;
  uint64_t unpacked_size = 0;
  absl::Time created_at = absl::UnixEpoch();
  std::map<std::string, std::string> metadata;
  std::vector<std::string> aliases;  // sorted

  friend bool operator==(const ImageRecord&, const ImageRecord&) = default;
};

// Stores images and their aliases (schema migration 3). The daemon's is SqliteImageStore, from
// SqliteStore::images(). Thread-safe; every method may block (disk I/O). Callers validate names
// and values; the store only keeps them. Errors: NOT_FOUND, ALREADY_EXISTS, INTERNAL.
class ImageStore {
 public:
  virtual ~ImageStore() = default;

  // Stores `record` with its metadata and aliases in one transaction. ALREADY_EXISTS when the
  // fingerprint or one of the aliases is taken (the message names which); nothing is stored then.
  virtual absl::Status Create(const ImageRecord& record) = 0;
  // NOT_FOUND when there is no image with exactly this fingerprint.
  virtual absl::StatusOr<ImageRecord> Get(std::string_view fingerprint) = 0;
  // Every image, ordered by fingerprint.
  virtual absl::StatusOr<std::vector<ImageRecord>> List() = 0;
  // The fingerprint an alias names; NOT_FOUND when it names none.
  virtual absl::StatusOr<std::string> ResolveAlias(std::string_view alias) = 0;
  // NOT_FOUND (no such image), ALREADY_EXISTS (the alias names an image already).
  virtual absl::Status AddAlias(std::string_view fingerprint, std::string_view alias) = 0;
  // NOT_FOUND when the alias names no image.
  virtual absl::Status RemoveAlias(std::string_view alias) = 0;
  // Removes the image with its metadata and aliases. NOT_FOUND.
  virtual absl::Status Delete(std::string_view fingerprint) = 0;
};

}  // namespace berth::storage

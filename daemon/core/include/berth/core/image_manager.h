#pragma once

// Root filesystem images: import (content-addressed by the SHA-256 of the image file), build from
// what the host has, export, aliases, and the lease a container creation takes on an image.
//
// On disk, under the image directory (<state>/images):
//   <fingerprint>/image          the image file exactly as imported (export sends it back)
//   <fingerprint>/rootfs/        the unpacked root filesystem, shared read-only by containers
//                                (each gets an overlayfs layer of its own)
//   <fingerprint>/metadata.yaml  the metadata, for people looking at the directory
//   .tmp-XXXXXX/                 an import under way; renamed to <fingerprint> when complete,
//                                removed on failure and at start-up
// The database (storage::ImageStore) holds what berth knows of each image; a directory without
// a row is never used, and start-up removes it.
//
// Threading: every method blocks (disk I/O, SQLite) and runs on executor or session threads.
// `lease_mu_` keeps an image from being deleted while a container is being created from it:
// creations hold it shared, Delete and the commit of an import exclusively.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/archive/tree.h"
#include "berth/core/clock.h"
#include "berth/storage/container_store.h"
#include "berth/storage/image_store.h"

namespace berth::core {

// The source_kind of a container made from an image; its source_name is the fingerprint.
inline constexpr char kImageSourceKind[] = "image";

struct ImageView {
  storage::ImageRecord record;
  std::vector<std::string> used_by;  // containers created from it, sorted
};

// One progress report of a long operation. `stage`: "receive", "verify", "unpack", "build",
// "store". `total` 0 and `percent` -1 when unknown.
struct ImageProgress {
  std::string stage;
  uint64_t done = 0;
  uint64_t total = 0;
  int percent = -1;
};
using ImageProgressFn = std::function<void(const ImageProgress&)>;

struct ImportParams {
  std::vector<std::string> aliases;
  std::map<std::string, std::string> metadata;
  uint64_t expected_size = 0;  // for percentages while receiving; 0: unknown
};

struct ImageLimits {
  // The most an image may unpack to, whatever its ratio.
  uint64_t max_unpacked_bytes = uint64_t{32} << 30;
  // Above `ratio_floor_bytes`, an image may unpack to at most `max_ratio` times its file size:
  // real root filesystems compress 3-10 times; a bomb compresses thousands of times.
  uint64_t max_ratio = 100;
  uint64_t ratio_floor_bytes = uint64_t{256} << 20;
  // Free space left over after unpacking, so an import never fills the disk to the last byte.
  uint64_t reserve_bytes = uint64_t{16} << 20;
};

// The image that a container creation holds (see ImageManager::WithImage).
struct ImageLease {
  std::string fingerprint;
  std::string rootfs;  // absolute path of the shared, read-only root filesystem
  // LXC entries the image asks for (metadata keys lxc.signal.*, lxc.init.cmd), in key order.
  std::vector<std::pair<std::string, std::string>> lxc_entries;
};

class ImageManager {
 public:
  // `image_dir` is absolute; the stores outlive the manager.
  ImageManager(std::string image_dir, storage::ImageStore* images,
               storage::ContainerStore* containers, Clock* clock, ImageLimits limits = {});

  // Creates the image directory (0700) if needed and removes what interrupted imports and
  // deletions left (temporary directories, directories without a row). INTERNAL on I/O errors.
  absl::Status Init();

  // Reads the image file from `source` (chunks until an empty one), stores it, checks and unpacks
  // it, and records it with its aliases and metadata. INVALID_ARGUMENT (bad alias or metadata, a
  // refused archive entry, a corrupt or truncated archive, a decompression bomb), ALREADY_EXISTS
  // (an alias is taken, or the same image is already there), RESOURCE_EXHAUSTED (not enough
  // disk space), INTERNAL, or the source's status. A failure leaves no row and no file.
  absl::StatusOr<ImageView> Import(const ImportParams& params, const archive::ChunkSource& source,
                                   const ImageProgressFn& progress);

  // Builds an image from the host ("busybox": the host's static busybox and its applets) and
  // imports it. INVALID_ARGUMENT for an unknown distribution; FAILED_PRECONDITION when the host
  // lacks what the build needs.
  absl::StatusOr<ImageView> Build(const std::string& distribution,
                                  const std::vector<std::string>& aliases,
                                  const ImageProgressFn& progress);

  absl::StatusOr<std::vector<ImageView>> List();
  // `ref`: an alias or a fingerprint prefix of at least 12 hex digits. NOT_FOUND; INVALID_ARGUMENT
  // for a prefix that names several images.
  absl::StatusOr<ImageView> Get(const std::string& ref);
  // FAILED_PRECONDITION naming the containers created from it.
  absl::Status Delete(const std::string& ref);
  absl::StatusOr<ImageView> AddAlias(const std::string& ref, const std::string& alias);
  absl::StatusOr<ImageView> RemoveAlias(const std::string& alias);

  // Calls `info` with the image, then `sink` with the image file's bytes as imported.
  absl::Status Export(const std::string& ref, const std::function<absl::Status(const ImageView&)>& info,
                      const archive::ChunkSink& sink);

  // Resolves `ref` and runs `create` with the image, which cannot be deleted meanwhile (create
  // stores the container that then keeps it). Returns `create`'s status.
  absl::Status WithImage(const std::string& ref,
                         absl::FunctionRef<absl::Status(const ImageLease&)> create);

  const std::string& image_dir() const { return image_dir_; }

 private:
  absl::StatusOr<std::string> Resolve(const std::string& ref);
  absl::StatusOr<ImageView> ViewOf(storage::ImageRecord record);
  // Import from an image file already in `tmp`/image, whose fingerprint and size are known.
  absl::StatusOr<ImageView> Unpack(const ImportParams& params, const std::string& tmp,
                                   const std::string& fingerprint, uint64_t file_size,
                                   const ImageProgressFn& progress);
  absl::StatusOr<std::string> MakeTempDir();
  std::string ImagePath(const std::string& fingerprint) const;

  const std::string image_dir_;
  storage::ImageStore* const images_;
  storage::ContainerStore* const containers_;
  Clock* const clock_;
  const ImageLimits limits_;
  // Shared: a creation from an image. Exclusive: deleting an image, committing an import.
  absl::Mutex lease_mu_;
};

// Alias rules: 1-128 characters of letters, digits and "._-/", starting with a letter or digit,
// no "//", not ending with "/", not all hex digits (those read as fingerprints).
absl::Status ValidateImageAlias(const std::string& alias);

}  // namespace berth::core

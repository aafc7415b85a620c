#pragma once

// berth file push/pull: single files read and written inside a container's root. Every path is
// resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) against a directory fd of the
// container's root (ContainerManager::OpenRoot), so "..", absolute paths and absolute symlinks
// stay inside the container. All functions block (file I/O): call them on an executor thread.

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "berth/archive/file_fd.h"

namespace berth::core {

inline constexpr size_t kFileChunkBytes = 1024 * 1024;  // the most one data frame carries

using archive::FileFd;

struct PulledFile {
  FileFd fd;
  uint32_t mode = 0;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
};

// Opens the regular file `path` under `root` for reading. NOT_FOUND (missing), INVALID_ARGUMENT
// (bad path; a directory: that is PullTree's; not a regular file), INTERNAL.
absl::StatusOr<PulledFile> OpenForPull(int root, const std::string& path);

// Recursive copies (berth/archive/tree.h does the tar stream; these open its directory).
//
// The directory `path` under `root`, as the destination of a recursive push: created (0755,
// root-owned) when missing, used as it is when it is a directory. NOT_FOUND (the parent is
// missing: create it first), FAILED_PRECONDITION (`path` or a parent is not a directory),
// INVALID_ARGUMENT (bad path), INTERNAL.
absl::StatusOr<FileFd> OpenTreeDestination(int root, const std::string& path);
// The directory `path` under `root`, opened for reading, as the source of a recursive pull.
// NOT_FOUND (missing), INVALID_ARGUMENT (bad path; not a directory), INTERNAL.
absl::StatusOr<FileFd> OpenTreeSource(int root, const std::string& path);

// Reads up to kFileChunkBytes; an empty string at EOF. INTERNAL on a read error.
absl::StatusOr<std::string> ReadChunk(int fd);

// A file being pushed: a temporary file in the target's directory, renamed over the target by
// Commit. Destroyed without Commit, it removes the temporary file.
class PushedFile {
 public:
  // Validates (path, mode <= 07777, ids < 2^31), opens the parent directory under `root` and
  // creates the temporary file. NOT_FOUND (the parent is missing: create it first),
  // FAILED_PRECONDITION (a parent is not a directory), INVALID_ARGUMENT (bad path, mode or ids;
  // the target is an existing directory), INTERNAL.
  static absl::StatusOr<PushedFile> Begin(int root, const std::string& path, uint32_t mode,
                                          uint32_t uid, uint32_t gid);
  PushedFile(PushedFile&&) = default;
  PushedFile& operator=(PushedFile&&) = delete;
  ~PushedFile();

  absl::Status Write(absl::string_view data);  // INTERNAL (e.g. ENOSPC)
  // fchmod/fchown, fsync, then renameat over the target. INVALID_ARGUMENT when the target became
  // a directory meanwhile; INTERNAL.
  absl::Status Commit();
  uint64_t size() const { return size_; }

 private:
  PushedFile() = default;

  std::string path_;  // as given, for messages
  FileFd parent_;
  FileFd file_;
  std::string temp_name_;
  std::string base_name_;
  uint32_t mode_ = 0;
  uint32_t uid_ = 0;
  uint32_t gid_ = 0;
  uint64_t size_ = 0;
  bool done_ = false;  // committed or moved from: nothing to remove
};

}  // namespace berth::core

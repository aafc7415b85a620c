#pragma once

// Small owners and file helpers for the runtime: an fd owner, bounded reads, atomic writes and a
// recursive removal that stays on one filesystem.

#include <unistd.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace berth::runtime::lxc {

// Move-only owner of a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// "<what>: <strerror(err)>" as INTERNAL (or NOT_FOUND for ENOENT when `enoent_is_not_found`).
absl::Status ErrnoError(int err, std::string_view what, bool enoent_is_not_found = false);

// Reads a whole file of at most `max_bytes`: NOT_FOUND when missing, INTERNAL when larger or
// unreadable.
absl::StatusOr<std::string> ReadFileToString(const std::string& path, size_t max_bytes);

// The last (at most) `max_bytes` of the file open as `fd`, read with pread from the file's start
// (the fd's offset is ignored); empty when `fd` is -1 or the file is empty or unreadable. Sets
// `*file_size` (when given) to the file's size.
std::string ReadTail(int fd, size_t max_bytes, uint64_t* file_size = nullptr);

// Writes `contents` to `path` through a temporary file in the same directory, fsync, rename, so a
// reader sees the old or the new file, never a mix. Mode `mode`.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents, mode_t mode);

// Removes `path` and everything below it without following symlinks or crossing into other
// mounts (a bind mount left in a rootfs stays untouched and makes this fail). OK when `path`
// does not exist.
absl::Status RemoveTree(const std::string& path);

bool PathExists(const std::string& path);

}  // namespace berth::runtime::lxc

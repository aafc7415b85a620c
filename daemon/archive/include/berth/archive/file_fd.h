#pragma once

#include <utility>

namespace berth::archive {

// Move-only owner of a file descriptor (closed on destruction). Used by core's file transfers
// too (berth::core::FileFd), so there is one such class.
class FileFd {
 public:
  FileFd() = default;
  explicit FileFd(int fd) : fd_(fd) {}
  FileFd(FileFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileFd& operator=(FileFd&& other) noexcept;
  FileFd(const FileFd&) = delete;
  FileFd& operator=(const FileFd&) = delete;
  ~FileFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace berth::archive

#pragma once

// File helpers for storage tests: a temporary directory per test, and a snapshot of a directory
// (names, bytes, mtimes) to prove that an operation left it exactly as it was.

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>

namespace berth::storage::testing {

// A fresh directory under the test's temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct FileState {
  std::string bytes;
  int64_t mtime_ns = 0;
  int64_t size = 0;
  friend bool operator==(const FileState&, const FileState&) = default;
};

// Every regular file directly in `dir`, by name.
std::map<std::string, FileState> SnapshotDir(const std::string& dir);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& bytes);

}  // namespace berth::storage::testing

#include "test_files.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "gtest/gtest.h"

namespace berth::storage::testing {

TempDir::TempDir() {
  std::string pattern = ::testing::TempDir() + "berth-storage-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
}

std::map<std::string, FileState> SnapshotDir(const std::string& dir) {
  std::map<std::string, FileState> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    const std::string path = entry.path().string();
    if (lstat(path.c_str(), &st) != 0) {
      ADD_FAILURE() << "lstat(" << path << ") failed";
      continue;
    }
    FileState state;
    state.size = st.st_size;
    state.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (S_ISREG(st.st_mode)) state.bytes = ReadFile(path);
    files.emplace(entry.path().filename().string(), std::move(state));
  }
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "writing " << path;
}

}  // namespace berth::storage::testing

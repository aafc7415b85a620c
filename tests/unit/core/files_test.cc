// berth/core/files.h against a real temporary directory standing in for a container's root.

#include "berth/core/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace berth::core {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-files-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    root_path_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(root_path_ / "etc");
    fs::create_directories(outside_);
    root_ = FileFd(::open(root_path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
  }
  void TearDown() override { fs::remove_all(base_); }

  absl::Status Push(const std::string& path, const std::string& data, uint32_t mode = 0644) {
    auto file = PushedFile::Begin(root_.get(), path, mode, ::getuid(), ::getgid());
    if (!file.ok()) return file.status();
    if (auto s = file->Write(data); !s.ok()) return s;
    return file->Commit();
  }

  fs::path base_, root_path_, outside_;
  FileFd root_;
};

TEST_F(FilesTest, PushAppearsOnlyOnCommitWithItsMode) {
  auto file = PushedFile::Begin(root_.get(), "/etc/motd", 0640, ::getuid(), ::getgid());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->Write("hello\n").ok());
  EXPECT_FALSE(fs::exists(root_path_ / "etc/motd"));
  ASSERT_TRUE(file->Commit().ok());
  EXPECT_EQ(ReadAll(root_path_ / "etc/motd"), "hello\n");
  struct stat st;
  ASSERT_EQ(::stat((root_path_ / "etc/motd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(file->size(), 6u);
  EXPECT_EQ(std::distance(fs::directory_iterator(root_path_ / "etc"), fs::directory_iterator()), 1);
}

TEST_F(FilesTest, AbandonedPushLeavesNothing) {
  {
    auto file = PushedFile::Begin(root_.get(), "/etc/partial", 0644, ::getuid(), ::getgid());
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE(file->Write("half").ok());
  }
  EXPECT_TRUE(fs::is_empty(root_path_ / "etc"));
}

TEST_F(FilesTest, DotDotAndAbsoluteSymlinksStayInsideTheRoot) {
  // An absolute symlink to a host directory that exists only outside the root.
  fs::create_directory_symlink(outside_, root_path_ / "escape");
  absl::Status s = Push("/escape/f", "x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_TRUE(fs::is_empty(outside_));
  // "/etc" through a symlink and through ".." means the root's etc.
  fs::create_directory_symlink("/etc", root_path_ / "etc-link");
  ASSERT_TRUE(Push("/etc-link/a", "1").ok());
  ASSERT_TRUE(Push("../../../../etc/b", "2").ok());
  EXPECT_EQ(ReadAll(root_path_ / "etc/a"), "1");
  EXPECT_EQ(ReadAll(root_path_ / "etc/b"), "2");
  EXPECT_FALSE(fs::exists("/etc/a") && ReadAll("/etc/a") == "1");
  // Pull follows a symlink to an absolute path within the root.
  fs::create_symlink("/etc/a", root_path_ / "link-to-a");
  auto pulled = OpenForPull(root_.get(), "/link-to-a");
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  auto chunk = ReadChunk(pulled->fd.get());
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(*chunk, "1");
  EXPECT_EQ(pulled->size, 1u);
  EXPECT_EQ(pulled->mode, 0644u);
}

TEST_F(FilesTest, Errors) {
  absl::Status s = Push("/no/such/f", "x");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(std::string(s.message()).find("create it first"), std::string::npos) << s;
  s = Push("/etc", "x");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(fs::is_directory(root_path_ / "etc"));
  EXPECT_TRUE(absl::IsInvalidArgument(Push("/etc/", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(Push("/etc/f", "x", 010000)));
  EXPECT_TRUE(absl::IsInvalidArgument(Push("", "x")));
  EXPECT_TRUE(absl::IsNotFound(OpenForPull(root_.get(), "/missing").status()));
  auto dir = OpenForPull(root_.get(), "/etc");
  EXPECT_TRUE(absl::IsInvalidArgument(dir.status()));
  EXPECT_NE(std::string(dir.status().message()).find("pull it with -r"), std::string::npos);
}

TEST_F(FilesTest, TreeDestinationIsCreatedInsideTheRoot) {
  auto made = OpenTreeDestination(root_.get(), "/srv");
  EXPECT_TRUE(absl::IsNotFound(OpenTreeDestination(root_.get(), "/srv/a/b").status()));
  ASSERT_TRUE(made.ok()) << made.status();
  struct stat st;
  ASSERT_EQ(::stat((root_path_ / "srv").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  // Existing directories are opened as they are, also through an absolute symlink (which means
  // the root's directory, not the host's).
  fs::create_directory_symlink("/etc", root_path_ / "etc-link");
  auto through = OpenTreeDestination(root_.get(), "/etc-link/new");
  ASSERT_TRUE(through.ok()) << through.status();
  EXPECT_TRUE(fs::is_directory(root_path_ / "etc/new"));
  EXPECT_FALSE(fs::exists("/etc/new"));
  ASSERT_TRUE(Push("/etc/file", "x").ok());
  auto over_file = OpenTreeDestination(root_.get(), "/etc/file");
  EXPECT_TRUE(absl::IsFailedPrecondition(over_file.status())) << over_file.status();
  EXPECT_TRUE(absl::IsInvalidArgument(OpenTreeSource(root_.get(), "/etc/file").status()));
  EXPECT_TRUE(absl::IsNotFound(OpenTreeSource(root_.get(), "/nope").status()));
  EXPECT_TRUE(OpenTreeSource(root_.get(), "/../etc").ok());
}

}  // namespace
}  // namespace berth::core

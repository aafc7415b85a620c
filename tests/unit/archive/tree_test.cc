// berth/archive/tree.h: round trips of real trees, and crafted tar streams that try to write
// outside the destination (which must stay untouched) or to make what is not allowed.

#include "berth/archive/tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "berth/archive/file_fd.h"
#include "gtest/gtest.h"

namespace berth::archive {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

// One entry of a crafted stream.
struct Spec {
  std::string name = "";
  mode_t type = AE_IFREG;
  std::string data = "";  // regular files
  std::string link = "";  // symlink target (AE_IFLNK) or hard link target (hardlink = true)
  bool hardlink = false;
  mode_t perm = 0644;
};

la_ssize_t AppendCallback(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string MakeTar(const std::vector<Spec>& specs) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);
  archive_write_open(a, &out, nullptr, AppendCallback, nullptr);
  for (const Spec& spec : specs) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, spec.name.c_str());
    archive_entry_set_filetype(e, spec.type);
    archive_entry_set_perm(e, spec.perm);
    archive_entry_set_uid(e, ::getuid());
    archive_entry_set_gid(e, ::getgid());
    archive_entry_set_mtime(e, 1700000000, 0);
    if (spec.type == AE_IFCHR) archive_entry_set_rdev(e, makedev(1, 3));
    if (spec.hardlink) {
      archive_entry_set_hardlink(e, spec.link.c_str());
    } else if (spec.type == AE_IFLNK) {
      archive_entry_set_symlink(e, spec.link.c_str());
    }
    archive_entry_set_size(e, spec.type == AE_IFREG && !spec.hardlink ? spec.data.size() : 0);
    EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (!spec.data.empty()) archive_write_data(a, spec.data.data(), spec.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A source handing out `tar` in pieces of `piece` bytes; `between(i)` runs before piece i.
ChunkSource SourceOf(const std::string& tar, size_t piece = kTreeChunkBytes,
                     std::function<void(size_t)> between = nullptr) {
  auto offset = std::make_shared<size_t>(0);
  auto index = std::make_shared<size_t>(0);
  return [tar, piece, between, offset, index]() -> absl::StatusOr<std::string> {
    if (between) between((*index)++);
    const size_t n = std::min(piece, tar.size() - *offset);
    std::string chunk = tar.substr(*offset, n);
    *offset += n;
    return chunk;
  };
}

class TreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-tree-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    src_ = base_ / "src";
    dest_ = base_ / "dest";
    outside_ = base_ / "outside";
    fs::create_directories(src_);
    fs::create_directories(dest_);
    fs::create_directories(outside_);
    dest_fd_ = FileFd(::open(dest_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dest_fd_.valid());
  }
  void TearDown() override { fs::remove_all(base_); }

  absl::Status Extract(const std::string& tar) { return Extract(SourceOf(tar)); }
  absl::Status Extract(const ChunkSource& source) {
    TreeStats stats;
    return ExtractTree(dest_fd_.get(), source, ExtractOptions{.preserve_owner = ::getuid() == 0},
                       &stats);
  }

  // The tree under src_ as a tar stream, chunk by chunk.
  std::vector<std::string> Walk(TreeStats* stats) {
    FileFd dir(::open(src_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::vector<std::string> chunks;
    absl::Status s = WriteTree(
        dir.get(),
        [&](std::string chunk) {
          chunks.push_back(std::move(chunk));
          return absl::OkStatus();
        },
        stats);
    EXPECT_TRUE(s.ok()) << s;
    return chunks;
  }

  bool OutsideEmpty() const { return fs::is_empty(outside_); }

  fs::path base_, src_, dest_, outside_;
  FileFd dest_fd_;
};

TEST_F(TreeTest, RoundTripKeepsContentsModesTimesAndLinks) {
  fs::create_directories(src_ / "a/b/c");
  fs::create_directories(src_ / "empty");
  std::string binary(3 * 1024 * 1024 + 17, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7919 % 251);
  WriteAll(src_ / "a/b/c/blob", binary);
  WriteAll(src_ / "a/script", "#!/bin/sh\n");
  ::chmod((src_ / "a/script").c_str(), 04755);
  ::chmod((src_ / "a/b").c_str(), 0750);
  ::chmod((src_ / "empty").c_str(), 0555);
  fs::create_symlink("b/c/blob", src_ / "a/rel-link");
  fs::create_symlink("/etc/passwd", src_ / "abs-link");
  fs::create_hard_link(src_ / "a/script", src_ / "script-again");
  const timespec times[2] = {{1600000000, 0}, {1600000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ / "a/b").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ / "a/script").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ / "a/rel-link").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);

  TreeStats walked;
  std::vector<std::string> chunks = Walk(&walked);
  EXPECT_EQ(walked.entries,
            10u);  // ., a, a/b, a/b/c, blob, script, rel-link, empty, abs-link, script-again
  EXPECT_EQ(walked.skipped, 0u);
  ASSERT_GE(chunks.size(), 4u);
  for (const std::string& chunk : chunks) EXPECT_LE(chunk.size(), kTreeChunkBytes);

  size_t next = 0;
  TreeStats extracted;
  absl::Status s = ExtractTree(
      dest_fd_.get(),
      [&]() -> absl::StatusOr<std::string> {
        return next < chunks.size() ? chunks[next++] : std::string();
      },
      ExtractOptions{}, &extracted);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(extracted.entries, walked.entries);
  EXPECT_EQ(extracted.bytes, binary.size() + 10);

  EXPECT_EQ(ReadAll(dest_ / "a/b/c/blob"), binary);
  EXPECT_EQ(ReadAll(dest_ / "a/script"), "#!/bin/sh\n");
  struct stat st;
  ASSERT_EQ(::stat((dest_ / "a/script").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  struct stat again;
  ASSERT_EQ(::stat((dest_ / "script-again").c_str(), &again), 0);
  EXPECT_EQ(again.st_ino, st.st_ino);  // still one file with two names
  ASSERT_EQ(::stat((dest_ / "a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);  // set after its contents were written
  ASSERT_EQ(::stat((dest_ / "empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_TRUE(fs::is_empty(dest_ / "empty"));
  EXPECT_EQ(fs::read_symlink(dest_ / "a/rel-link"), "b/c/blob");
  EXPECT_EQ(fs::read_symlink(dest_ / "abs-link"), "/etc/passwd");
  ASSERT_EQ(::lstat((dest_ / "a/rel-link").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  // No temporary names are left.
  for (const auto& e : fs::recursive_directory_iterator(dest_)) {
    EXPECT_EQ(e.path().filename().string().find(".berth-tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(TreeTest, ExistingFilesAndLinksAreReplacedDirectoriesMerged) {
  fs::create_directories(dest_ / "keep");
  WriteAll(dest_ / "keep/old", "old");
  WriteAll(dest_ / "f", "previous");
  fs::create_symlink(outside_ / "target", dest_ / "was-link");
  ASSERT_TRUE(Extract(MakeTar({{.name = "keep", .type = AE_IFDIR, .perm = 0755},
                               {.name = "keep/new", .data = "new"},
                               {.name = "f", .data = "replaced"},
                               {.name = "was-link", .data = "a file now"}}))
                  .ok());
  EXPECT_EQ(ReadAll(dest_ / "keep/old"), "old");
  EXPECT_EQ(ReadAll(dest_ / "keep/new"), "new");
  EXPECT_EQ(ReadAll(dest_ / "f"), "replaced");
  EXPECT_FALSE(fs::is_symlink(dest_ / "was-link"));
  EXPECT_EQ(ReadAll(dest_ / "was-link"), "a file now");
  EXPECT_TRUE(OutsideEmpty());  // the old link's target was never written
}

TEST_F(TreeTest, DirectoriesAreCreatedAsNeeded) {
  ASSERT_TRUE(Extract(MakeTar({{.name = "x/y/z/f", .data = "deep"}})).ok());
  EXPECT_EQ(ReadAll(dest_ / "x/y/z/f"), "deep");
  struct stat st;
  ASSERT_EQ(::stat((dest_ / "x/y").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(TreeTest, AbsoluteAndDotDotNamesAreRefused) {
  for (const std::string& name :
       {(outside_ / "abs").string(), std::string("../outside/up"), std::string("a/../../outside/x"),
        std::string("./../outside/y")}) {
    absl::Status s = Extract(MakeTar({{.name = "ok", .data = "1"}, {.name = name, .data = "x"}}));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << name << ": " << s;
    EXPECT_NE(std::string(s.message()).find("1 entries were written"), std::string::npos) << s;
    EXPECT_TRUE(OutsideEmpty()) << name;
  }
}

TEST_F(TreeTest, NothingIsWrittenThroughASymlinkFromTheStream) {
  // The classic: a symlink entry, then an entry through it.
  absl::Status s = Extract(MakeTar({{.name = "esc", .type = AE_IFLNK, .link = outside_.string()},
                                    {.name = "esc/pwned", .data = "x"}}));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(std::string(s.message()).find("symbolic link"), std::string::npos) << s;
  EXPECT_TRUE(OutsideEmpty());
  // Relative, and as a directory entry, and for a hard link's target.
  s = Extract(MakeTar({{.name = "up", .type = AE_IFLNK, .link = "../outside"},
                       {.name = "up/d", .type = AE_IFDIR}}));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_TRUE(OutsideEmpty());
  WriteAll(outside_ / "secret", "s");
  s = Extract(MakeTar({{.name = "up2", .type = AE_IFLNK, .link = "../outside"},
                       {.name = "stolen", .link = "up2/secret", .hardlink = true}}));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_FALSE(fs::exists(dest_ / "stolen"));
}

TEST_F(TreeTest, NothingIsWrittenThroughASymlinkAlreadyThere) {
  fs::create_directory_symlink(outside_, dest_ / "link");
  absl::Status s = Extract(MakeTar({{.name = "link/f", .data = "x"}}));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(std::string(s.message()).find("nothing was written"), std::string::npos) << s;
  EXPECT_TRUE(OutsideEmpty());
  // A directory entry where the link is: the link is not a directory.
  s = Extract(MakeTar({{.name = "link", .type = AE_IFDIR}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(fs::is_symlink(dest_ / "link"));
}

TEST_F(TreeTest, HardLinksOutsideTheTreeAreRefused) {
  WriteAll(outside_ / "secret", "s");
  for (const std::string& target :
       {(outside_ / "secret").string(), std::string("../outside/secret"), std::string("missing"),
        std::string(".")}) {
    absl::Status s = Extract(MakeTar({{.name = "l", .link = target, .hardlink = true}}));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << target << ": " << s;
    EXPECT_FALSE(fs::exists(dest_ / "l")) << target;
  }
  // Inside the tree they are fine.
  ASSERT_TRUE(
      Extract(MakeTar({{.name = "f", .data = "d"}, {.name = "l", .link = "f", .hardlink = true}}))
          .ok());
  EXPECT_EQ(fs::hard_link_count(dest_ / "f"), 2u);
}

TEST_F(TreeTest, DevicesAndFifosAreRefused) {
  for (mode_t type : {AE_IFCHR, AE_IFBLK, AE_IFIFO}) {
    absl::Status s = Extract(MakeTar({{.name = "dev", .type = type}}));
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(std::string(s.message()).find("\"dev\""), std::string::npos) << s;
    EXPECT_FALSE(fs::exists(fs::symlink_status(dest_ / "dev")));
  }
}

TEST_F(TreeTest, NonDirectoryWhereADirectoryIsNeeded) {
  WriteAll(dest_ / "file", "x");
  absl::Status s = Extract(MakeTar({{.name = "file/inner", .data = "y"}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(std::string(s.message()).find("not a directory"), std::string::npos) << s;
  s = Extract(MakeTar({{.name = "file", .type = AE_IFDIR}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  fs::create_directories(dest_ / "dir/sub");
  s = Extract(MakeTar({{.name = "dir", .data = "a file over a directory"}}));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_TRUE(fs::is_directory(dest_ / "dir/sub"));
  EXPECT_EQ(ReadAll(dest_ / "file"), "x");
}

TEST_F(TreeTest, ASymlinkSwappedInMidTransferIsNotFollowed) {
  // "d" is made, then (between two chunks of the stream) replaced by a link to outside_; the
  // entry "d/f" that comes next must not land there.
  const std::string tar = MakeTar({{.name = "d", .type = AE_IFDIR},
                                   {.name = "pad", .data = std::string(4096, 'p')},
                                   {.name = "d/f", .data = "x"}});
  bool swapped = false;
  absl::Status s = Extract(SourceOf(tar, 512, [&](size_t i) {
    if (!swapped && fs::is_directory(fs::symlink_status(dest_ / "d")) && i > 2) {
      fs::rename(dest_ / "d", dest_ / "d-moved");
      fs::create_directory_symlink(outside_, dest_ / "d");
      swapped = true;
    }
  }));
  ASSERT_TRUE(swapped);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(OutsideEmpty());
}

TEST_F(TreeTest, MalformedAndFailingStreams) {
  std::string tar = MakeTar({{.name = "f", .data = std::string(10000, 'x')}});
  absl::Status s = Extract(tar.substr(0, 3000));  // cut inside the file's data
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_FALSE(fs::exists(dest_ / "f"));  // a file appears whole or not at all
  EXPECT_TRUE(fs::is_empty(dest_));
  s = Extract(std::string(2048, 'z'));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  // The source's own error comes back as it is.
  s = Extract([]() -> absl::StatusOr<std::string> { return absl::CancelledError("gone"); });
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
}

TEST_F(TreeTest, WalkSkipsSpecialFilesAndNeverFollowsLinks) {
  ASSERT_EQ(::mkfifo((src_ / "fifo").c_str(), 0644), 0);
  WriteAll(outside_ / "secret", "s");
  fs::create_directory_symlink(outside_, src_ / "out");
  WriteAll(src_ / "f", "f");
  TreeStats stats;
  std::vector<std::string> chunks = Walk(&stats);
  EXPECT_EQ(stats.skipped, 1u);
  ASSERT_EQ(stats.skipped_names.size(), 1u);
  EXPECT_EQ(stats.skipped_names[0], "fifo");
  EXPECT_EQ(stats.entries, 3u);  // ., out (as a link), f
  std::string all;
  for (const auto& c : chunks) all += c;
  EXPECT_EQ(all.find("secret"), std::string::npos);
  ASSERT_TRUE(Extract(all).ok());
  EXPECT_TRUE(fs::is_symlink(dest_ / "out"));
  EXPECT_FALSE(fs::exists(dest_ / "fifo"));
}

// ---- Image options: compressed streams, a cap on unpacked bytes, measuring ----

// `tar` compressed with gzip by libarchive.
std::string Gzip(const std::string& tar) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* o, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(o)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, tar.data(), tar.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

TEST_F(TreeTest, CompressedStreamsNeedTheOption) {
  const std::string gz = Gzip(MakeTar({{.name = "f", .data = "zipped"}}));
  TreeStats stats;
  EXPECT_FALSE(ExtractTree(dest_fd_.get(), SourceOf(gz), ExtractOptions{}, &stats).ok());
  ASSERT_TRUE(ExtractTree(dest_fd_.get(), SourceOf(gz), ExtractOptions{.decompress = true}, &stats)
                  .ok());
  std::ifstream in(dest_ / "f");
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "zipped");
}

TEST_F(TreeTest, MeasureCountsFileBytesAndRefusesWhatExtractWould) {
  const std::string tar = MakeTar({{.name = "d", .type = AE_IFDIR},
                                   {.name = "d/a", .data = std::string(1000, 'a')},
                                   {.name = "b", .data = std::string(24, 'b')}});
  auto measured = MeasureTree(SourceOf(Gzip(tar)), ExtractOptions{.decompress = true});
  ASSERT_TRUE(measured.ok()) << measured.status();
  EXPECT_EQ(*measured, 1024u);
  EXPECT_TRUE(fs::is_empty(dest_));

  auto capped = MeasureTree(SourceOf(tar), ExtractOptions{.max_bytes = 1000});
  EXPECT_EQ(capped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(capped.status().message().find("decompression bomb"), std::string::npos);
  EXPECT_EQ(MeasureTree(SourceOf(MakeTar({{.name = "../x", .data = "x"}})), ExtractOptions{})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeasureTree(SourceOf(MakeTar({{.name = "dev", .type = AE_IFCHR}})), ExtractOptions{})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeasureTree(SourceOf(tar.substr(0, 700)), ExtractOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TreeTest, ExtractStopsAtTheCap) {
  const std::string tar = MakeTar({{.name = "a", .data = std::string(600, 'a')},
                                   {.name = "b", .data = std::string(600, 'b')}});
  TreeStats stats;
  absl::Status s =
      ExtractTree(dest_fd_.get(), SourceOf(tar), ExtractOptions{.max_bytes = 1000}, &stats);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dest_ / "b"));
}

}  // namespace
}  // namespace berth::archive

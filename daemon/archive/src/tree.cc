// Tar streams of directory trees: extraction under a directory fd that nothing in the stream can
// leave, and a walk that never follows a symbolic link. See berth/archive/tree.h for the rules.

#include "berth/archive/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "berth/archive/file_fd.h"
#include "libarchive.h"

namespace berth::archive {

FileFd& FileFd::operator=(FileFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileFd::~FileFd() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

constexpr size_t kMaxName = 4096;
constexpr int64_t kMaxId = (int64_t{1} << 31) - 1;

std::string Q(absl::string_view s) { return absl::StrCat("\"", absl::CEscape(s), "\""); }

std::string Errno(int err) { return std::strerror(err); }

// openat2 below `dir`: no "..", no absolute path, no symbolic link anywhere (also not one a
// process swaps in while we resolve), no magic links. Sets errno on failure.
int OpenBeneath(int dir, const std::string& path, uint64_t flags) {
  open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dir, path.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return static_cast<int>(fd);
}

using ArchivePtr = std::unique_ptr<struct archive, int (*)(struct archive*)>;
using EntryPtr = std::unique_ptr<archive_entry, void (*)(archive_entry*)>;

// ---- Extraction -----------------------------------------------------------------------------

struct ReadContext {
  const ChunkSource* source = nullptr;
  std::string chunk;    // what libarchive reads from until the next callback
  absl::Status status;  // the source's error, reported as it is
  bool eof = false;
};

la_ssize_t ReadCallback(struct archive* a, void* opaque, const void** buffer) {
  auto* ctx = static_cast<ReadContext*>(opaque);
  if (ctx->eof) return 0;
  auto next = (*ctx->source)();
  if (!next.ok()) {
    ctx->status = next.status();
    Lib().archive_set_error(a, EIO, "the stream failed");
    return -1;
  }
  ctx->chunk = *std::move(next);
  ctx->eof = ctx->chunk.empty();
  *buffer = ctx->chunk.data();
  return static_cast<la_ssize_t>(ctx->chunk.size());
}

// Makes `a` read tar formats only, and, when asked, the compressions image files come in. Not
// archive_read_support_filter_all: that includes filters that run external programs.
void SupportFormats(struct archive* a, const ExtractOptions& options) {
  Lib().archive_read_support_format_tar(a);
  if (options.decompress) {
    Lib().archive_read_support_filter_gzip(a);
    Lib().archive_read_support_filter_xz(a);
    Lib().archive_read_support_filter_zstd(a);
    Lib().archive_read_support_filter_bzip2(a);
  }
}

absl::Status TooBig(uint64_t max_bytes) {
  return absl::InvalidArgumentError(
      absl::StrCat("the archive unpacks to more than ", max_bytes,
                   " bytes, the most accepted for it; refused as a possible decompression bomb"));
}

// The components of an entry's name ("a/./b/" -> {a, b}; "." -> {}), or why it is refused.
absl::StatusOr<std::vector<std::string>> SplitEntryName(const char* raw) {
  if (raw == nullptr || raw[0] == '\0') {
    return absl::InvalidArgumentError("a tar entry has an empty name; refused");
  }
  const absl::string_view name(raw);
  if (name.size() > kMaxName) {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry ", Q(name.substr(0, 64)), "... has a name longer than 4096 bytes"));
  }
  if (name.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "tar entry ", Q(name), " has an absolute name; entries must be relative to the tree"));
  }
  std::vector<std::string> components;
  for (absl::string_view part : absl::StrSplit(name, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry ", Q(name), " has a \"..\" component; refused"));
    }
    components.emplace_back(part);
  }
  return components;
}

class Extractor {
 public:
  Extractor(int dest, const ExtractOptions& options, TreeStats* stats)
      : dest_(dest), options_(options), stats_(stats) {}

  absl::Status Run(const ChunkSource& source);

 private:
  struct DirMeta {
    std::string path;  // relative to dest_, "" for dest_ itself
    uint32_t mode;
    int64_t uid, gid;
    timespec times[2];
  };

  // `status` plus what was already written, so a user knows what a failed push left behind.
  absl::Status WithProgress(const absl::Status& status) const;
  absl::Status Entry(archive_entry* entry);
  absl::Status Directory(int parent, const std::string& base, const std::string& path,
                         const std::string& name, DirMeta meta);
  absl::Status RegularFile(int parent, const std::string& base, const std::string& name,
                           archive_entry* entry, const DirMeta& meta);
  absl::Status Symlink(int parent, const std::string& base, const std::string& name,
                       archive_entry* entry, const DirMeta& meta);
  absl::Status HardLink(int parent, const std::string& base, const std::string& name,
                        const char* target);
  absl::Status FinishDirectories();
  // Opens the directory made of components[0, n) beneath dest_; with `create`, missing ones are
  // made (0755, the caller's owner). Not cached: the caller owns the fd.
  absl::StatusOr<FileFd> Walk(const std::vector<std::string>& components, size_t n, bool create,
                              const std::string& name);
  // Walk, cached for the last directory asked for (entries of one directory come together).
  absl::StatusOr<int> Parent(const std::vector<std::string>& components, const std::string& name);
  // Renames the temporary `temp` over `base` in `parent`.
  absl::Status Replace(int parent, const std::string& temp, const std::string& base,
                       const std::string& name);
  absl::Status NotReplaceable(int parent, const std::string& base, const std::string& name);
  std::string TempName();

  const int dest_;
  const ExtractOptions options_;
  TreeStats* const stats_;
  struct archive* archive_ = nullptr;
  ReadContext read_;
  std::string current_;  // the entry being written, normalized
  std::string last_;     // the last entry written, for WithProgress
  std::string cached_path_;
  FileFd cached_;
  std::vector<DirMeta> dirs_;
  std::string temp_prefix_;
  uint64_t temp_counter_ = 0;
};

absl::Status Extractor::WithProgress(const absl::Status& status) const {
  const std::string written =
      stats_->entries == 0 ? std::string("; nothing was written")
                           : absl::StrCat("; ", stats_->entries,
                                          " entries were written before it (the last: ", Q(last_),
                                          "), they are left in place");
  return absl::Status(status.code(), absl::StrCat(status.message(), written));
}

std::string Extractor::TempName() {
  if (temp_prefix_.empty()) {
    unsigned char rnd[8] = {};
    if (::getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
      // Only for uniqueness against names already there; O_EXCL catches a collision.
      std::memcpy(rnd, &dest_, sizeof(dest_));
    }
    temp_prefix_ = absl::StrCat(
        ".berth-tmp-",
        absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(rnd), sizeof(rnd))), "-");
  }
  return absl::StrCat(temp_prefix_, temp_counter_++);
}

absl::StatusOr<FileFd> Extractor::Walk(const std::vector<std::string>& components, size_t n,
                                       bool create, const std::string& name) {
  FileFd current;
  std::string so_far;
  for (size_t i = 0; i < n; ++i) {
    const int at = i == 0 ? dest_ : current.get();
    const std::string& component = components[i];
    so_far = so_far.empty() ? component : absl::StrCat(so_far, "/", component);
    FileFd next(OpenBeneath(at, component, O_PATH | O_DIRECTORY));
    if (!next.valid() && errno == ENOENT && create) {
      if (::mkdirat(at, component.c_str(), 0700) != 0 && errno != EEXIST) {
        return absl::InternalError(
            absl::StrCat("creating directory ", Q(so_far), " for ", Q(name), ": ", Errno(errno)));
      }
      // mode 0755 whatever the umask, set on the fd: a name is never followed.
      FileFd made(OpenBeneath(at, component, O_RDONLY | O_DIRECTORY));
      if (made.valid() && ::fchmod(made.get(), 0755) != 0) {
        return absl::InternalError(absl::StrCat("chmod ", Q(so_far), ": ", Errno(errno)));
      }
      next = FileFd(OpenBeneath(at, component, O_PATH | O_DIRECTORY));
    }
    if (!next.valid()) {
      const int err = errno;
      if (err == ELOOP) {
        return absl::InvalidArgumentError(
            absl::StrCat("tar entry ", Q(name), " goes through ", Q(so_far),
                         ", a symbolic link; entries are never written through symbolic links"));
      }
      if (err == ENOTDIR) {
        return absl::FailedPreconditionError(
            absl::StrCat(Q(so_far), " exists and is not a directory, but tar entry ", Q(name),
                         " needs it to be one; remove it first"));
      }
      if (err == ENOENT) {
        return absl::InvalidArgumentError(absl::StrCat("tar entry ", Q(name), " refers to ",
                                                       Q(so_far), ", which is not in the tree"));
      }
      return absl::InternalError(absl::StrCat("opening ", Q(so_far), ": ", Errno(err)));
    }
    current = std::move(next);
  }
  if (n == 0) {
    current = FileFd(OpenBeneath(dest_, ".", O_PATH | O_DIRECTORY));
    if (!current.valid()) {
      return absl::InternalError(absl::StrCat("opening the destination: ", Errno(errno)));
    }
  }
  return current;
}

absl::StatusOr<int> Extractor::Parent(const std::vector<std::string>& components,
                                      const std::string& name) {
  const size_t n = components.size() - 1;
  std::string path = absl::StrJoin(components.begin(), components.begin() + n, "/");
  if (cached_.valid() && path == cached_path_) return cached_.get();
  auto fd = Walk(components, n, /*create=*/true, name);
  if (!fd.ok()) return fd.status();
  cached_ = *std::move(fd);
  cached_path_ = std::move(path);
  return cached_.get();
}

absl::Status Extractor::NotReplaceable(int parent, const std::string& base,
                                       const std::string& name) {
  struct stat st;
  if (::fstatat(parent, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Q(name), " is an existing directory; tar entry ", Q(name),
                     " is not a directory and cannot replace it"));
  }
  return absl::OkStatus();
}

absl::Status Extractor::Replace(int parent, const std::string& temp, const std::string& base,
                                const std::string& name) {
  if (::renameat(parent, temp.c_str(), parent, base.c_str()) != 0) {
    const int err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat(Q(name), " is an existing directory; tar entry ", Q(name),
                       " is not a directory and cannot replace it"));
    }
    return absl::InternalError(absl::StrCat("renaming into ", Q(name), ": ", Errno(err)));
  }
  return absl::OkStatus();
}

absl::Status Extractor::Entry(archive_entry* entry) {
  const char* raw = Lib().archive_entry_pathname(entry);
  auto components = SplitEntryName(raw);
  if (!components.ok()) return components.status();
  // Messages name the entry as normalized ("d", not the "d/" or "./d" a tar writer may store).
  const std::string name = components->empty() ? "." : absl::StrJoin(*components, "/");
  current_ = name;
  const char* hardlink = Lib().archive_entry_hardlink(entry);
  const mode_t type = Lib().archive_entry_filetype(entry);

  DirMeta meta{};
  meta.mode = Lib().archive_entry_perm(entry) & 07777;
  meta.uid = Lib().archive_entry_uid(entry);
  meta.gid = Lib().archive_entry_gid(entry);
  if (meta.uid < 0 || meta.uid > kMaxId || meta.gid < 0 || meta.gid > kMaxId) {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry ", Q(name), " has a uid or gid outside 0..2^31-1; refused"));
  }
  meta.times[0].tv_nsec = UTIME_OMIT;
  meta.times[1].tv_nsec = UTIME_OMIT;
  if (Lib().archive_entry_atime_is_set(entry)) {
    meta.times[0] = {Lib().archive_entry_atime(entry), Lib().archive_entry_atime_nsec(entry)};
  }
  if (Lib().archive_entry_mtime_is_set(entry)) {
    meta.times[1] = {Lib().archive_entry_mtime(entry), Lib().archive_entry_mtime_nsec(entry)};
  }

  if (components->empty()) {  // "." is the destination itself
    if (hardlink != nullptr || type != AE_IFDIR) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry ", Q(name), " names the tree's root but is not a directory"));
    }
    meta.path.clear();
    dirs_.push_back(std::move(meta));
    return absl::OkStatus();
  }
  auto parent = Parent(*components, name);
  if (!parent.ok()) return parent.status();
  const std::string& base = components->back();
  if (hardlink != nullptr) return HardLink(*parent, base, name, hardlink);
  switch (type) {
    case AE_IFDIR:
      return Directory(*parent, base, absl::StrJoin(*components, "/"), name, std::move(meta));
    case AE_IFREG:
      return RegularFile(*parent, base, name, entry, meta);
    case AE_IFLNK:
      return Symlink(*parent, base, name, entry, meta);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tar entry ", Q(name),
          " is a device node, FIFO or socket; only regular files, directories, symbolic links "
          "and hard links are copied"));
  }
}

absl::Status Extractor::Directory(int parent, const std::string& base, const std::string& path,
                                  const std::string& name, DirMeta meta) {
  struct stat st;
  if (::fstatat(parent, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Q(name), " exists and is not a directory, but tar entry ", Q(name),
                       " is one; remove it first"));
    }
  } else if (errno != ENOENT) {
    return absl::InternalError(absl::StrCat("stat ", Q(name), ": ", Errno(errno)));
  } else if (::mkdirat(parent, base.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("creating directory ", Q(name), ": ", Errno(errno)));
  }
  // Its owner, mode and times come last (FinishDirectories): writing its contents would change
  // its mtime, and a read-only mode could stop an unprivileged caller from writing them.
  meta.path = path;
  dirs_.push_back(std::move(meta));
  return absl::OkStatus();
}

absl::Status Extractor::RegularFile(int parent, const std::string& base, const std::string& name,
                                    archive_entry* entry, const DirMeta& meta) {
  if (auto s = NotReplaceable(parent, base, name); !s.ok()) return s;
  const std::string temp = TempName();
  FileFd file(
      ::openat(parent, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!file.valid()) {
    return absl::InternalError(absl::StrCat("creating ", Q(name), ": ", Errno(errno)));
  }
  bool keep = false;
  absl::Cleanup remove_temp = [&] {
    if (!keep) (void)::unlinkat(parent, temp.c_str(), 0);
  };
  for (;;) {
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    const int r = Lib().archive_read_data_block(archive_, &block, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!read_.status.ok()) return read_.status;
      return absl::InvalidArgumentError(absl::StrCat("the tar stream is malformed in entry ",
                                                     Q(name), ": ",
                                                     Lib().archive_error_string(archive_)));
    }
    const char* data = static_cast<const char*>(block);
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pwrite(file.get(), data + done, size - done,
                                 static_cast<off_t>(offset) + static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return absl::InternalError(absl::StrCat("writing ", Q(name), ": ", Errno(errno)));
      done += static_cast<size_t>(n);
    }
    stats_->bytes += size;
    if (options_.max_bytes != 0 && stats_->bytes > options_.max_bytes) {
      return TooBig(options_.max_bytes);
    }
  }
  const int64_t size =
      Lib().archive_entry_size_is_set(entry) ? Lib().archive_entry_size(entry) : -1;
  if ((size >= 0 && ::ftruncate(file.get(), size) != 0) ||
      (options_.preserve_owner &&
       ::fchown(file.get(), static_cast<uid_t>(meta.uid), static_cast<gid_t>(meta.gid)) != 0) ||
      // After chown, which clears set-id bits.
      ::fchmod(file.get(), meta.mode) != 0 || ::futimens(file.get(), meta.times) != 0) {
    return absl::InternalError(absl::StrCat("finishing ", Q(name), ": ", Errno(errno)));
  }
  if (auto s = Replace(parent, temp, base, name); !s.ok()) return s;
  keep = true;
  return absl::OkStatus();
}

absl::Status Extractor::Symlink(int parent, const std::string& base, const std::string& name,
                                archive_entry* entry, const DirMeta& meta) {
  const char* target = Lib().archive_entry_symlink(entry);
  if (target == nullptr || target[0] == '\0') {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry ", Q(name), " is a symbolic link without a target"));
  }
  if (auto s = NotReplaceable(parent, base, name); !s.ok()) return s;
  // The target is stored as given: it is only text here, and nothing below ever follows a link.
  const std::string temp = TempName();
  if (::symlinkat(target, parent, temp.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("creating symbolic link ", Q(name), ": ", Errno(errno)));
  }
  bool keep = false;
  absl::Cleanup remove_temp = [&] {
    if (!keep) (void)::unlinkat(parent, temp.c_str(), 0);
  };
  if ((options_.preserve_owner &&
       ::fchownat(parent, temp.c_str(), static_cast<uid_t>(meta.uid), static_cast<gid_t>(meta.gid),
                  AT_SYMLINK_NOFOLLOW) != 0) ||
      ::utimensat(parent, temp.c_str(), meta.times, AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::InternalError(absl::StrCat("finishing ", Q(name), ": ", Errno(errno)));
  }
  if (auto s = Replace(parent, temp, base, name); !s.ok()) return s;
  keep = true;
  return absl::OkStatus();
}

absl::Status Extractor::HardLink(int parent, const std::string& base, const std::string& name,
                                 const char* target) {
  auto components = SplitEntryName(target);
  if (!components.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("tar entry ", Q(name), " is a hard link to ",
                                                   Q(target ? target : ""),
                                                   ", which is not in the tree; refused"));
  }
  if (components->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tar entry ", Q(name), " is a hard link to the tree's root; refused"));
  }
  auto target_parent = Walk(*components, components->size() - 1, /*create=*/false, name);
  if (!target_parent.ok()) return target_parent.status();
  const std::string& target_base = components->back();
  struct stat st;
  if (::fstatat(target_parent->get(), target_base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("tar entry ", Q(name), " is a hard link to ",
                                                   Q(target),
                                                   ", which is not a file in the tree; refused"));
  }
  if (auto s = NotReplaceable(parent, base, name); !s.ok()) return s;
  const std::string temp = TempName();
  // Flags 0: a symbolic link as target is linked itself, never followed.
  if (::linkat(target_parent->get(), target_base.c_str(), parent, temp.c_str(), 0) != 0) {
    return absl::InternalError(absl::StrCat("creating hard link ", Q(name), ": ", Errno(errno)));
  }
  absl::Status replaced = Replace(parent, temp, base, name);
  // When `base` already was this inode, rename did nothing and `temp` is still there.
  (void)::unlinkat(parent, temp.c_str(), 0);
  return replaced;
}

absl::Status Extractor::FinishDirectories() {
  // Deepest last-created first does not matter for correctness (a child's metadata does not
  // change its parent's mtime); reverse order keeps parents writable longest.
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    const std::string shown = it->path.empty() ? std::string(".") : it->path;
    FileFd dir(
        OpenBeneath(dest_, it->path.empty() ? std::string(".") : it->path, O_RDONLY | O_DIRECTORY));
    if (!dir.valid()) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR) {
        return absl::FailedPreconditionError(
            absl::StrCat("directory ", Q(shown),
                         " was replaced while the tree was written; its mode, owner "
                         "and times were not set"));
      }
      return absl::InternalError(absl::StrCat("opening ", Q(shown), ": ", Errno(err)));
    }
    if ((options_.preserve_owner &&
         ::fchown(dir.get(), static_cast<uid_t>(it->uid), static_cast<gid_t>(it->gid)) != 0) ||
        ::fchmod(dir.get(), it->mode) != 0 || ::futimens(dir.get(), it->times) != 0) {
      return absl::InternalError(
          absl::StrCat("finishing directory ", Q(shown), ": ", Errno(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status Extractor::Run(const ChunkSource& source) {
  ArchivePtr a(Lib().archive_read_new(), Lib().archive_read_free);
  if (!a) return absl::InternalError("archive_read_new failed");
  archive_ = a.get();
  read_.source = &source;
  // Tar only (ustar, pax, GNU), compressed only when the caller accepts it.
  SupportFormats(archive_, options_);
  if (Lib().archive_read_open(archive_, &read_, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    if (!read_.status.ok()) return read_.status;
    return absl::InvalidArgumentError(
        absl::StrCat("the stream is not a tar stream: ", Lib().archive_error_string(archive_)));
  }
  for (;;) {
    archive_entry* entry = nullptr;
    const int r = Lib().archive_read_next_header(archive_, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!read_.status.ok()) return read_.status;
      return WithProgress(absl::InvalidArgumentError(
          absl::StrCat("the tar stream is malformed: ", Lib().archive_error_string(archive_))));
    }
    absl::Status s = Entry(entry);
    if (!s.ok()) {
      if (!read_.status.ok()) return read_.status;
      return WithProgress(s);
    }
    ++stats_->entries;
    last_ = current_;
  }
  // Whatever follows the end-of-archive blocks is read and dropped, so the sender's stream ends.
  while (!read_.eof) {
    auto rest = source();
    if (!rest.ok()) return rest.status();
    read_.eof = rest->empty();
  }
  if (absl::Status s = FinishDirectories(); !s.ok()) return WithProgress(s);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> MeasureTree(const ChunkSource& source, const ExtractOptions& options) {
  ArchivePtr a(Lib().archive_read_new(), Lib().archive_read_free);
  if (!a) return absl::InternalError("archive_read_new failed");
  ReadContext read;
  read.source = &source;
  SupportFormats(a.get(), options);
  if (Lib().archive_read_open(a.get(), &read, nullptr, ReadCallback, nullptr) != ARCHIVE_OK) {
    if (!read.status.ok()) return read.status;
    return absl::InvalidArgumentError(
        absl::StrCat("the stream is not a tar archive: ", Lib().archive_error_string(a.get())));
  }
  uint64_t total = 0;
  for (;;) {
    archive_entry* entry = nullptr;
    int r = Lib().archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (!read.status.ok()) return read.status;
      return absl::InvalidArgumentError(
          absl::StrCat("the archive is malformed or truncated: ", Lib().archive_error_string(a.get())));
    }
    auto components = SplitEntryName(Lib().archive_entry_pathname(entry));
    if (!components.ok()) return components.status();
    const mode_t type = Lib().archive_entry_filetype(entry);
    if (Lib().archive_entry_hardlink(entry) == nullptr && type != AE_IFDIR && type != AE_IFREG &&
        type != AE_IFLNK) {
      return absl::InvalidArgumentError(
          absl::StrCat("tar entry ", Q(Lib().archive_entry_pathname(entry)),
                       " is a device node, FIFO or socket; an image holds regular files, "
                       "directories, symbolic links and hard links only (liblxc makes /dev)"));
    }
    if (type == AE_IFREG && Lib().archive_entry_hardlink(entry) == nullptr &&
        Lib().archive_entry_size(entry) > 0) {
      total += static_cast<uint64_t>(Lib().archive_entry_size(entry));
      if (options.max_bytes != 0 && total > options.max_bytes) return TooBig(options.max_bytes);
    }
    // Reading the data (not skipping it) also finds a truncated or corrupt compressed stream.
    r = Lib().archive_read_data_skip(a.get());
    if (r < ARCHIVE_WARN) {
      if (!read.status.ok()) return read.status;
      return absl::InvalidArgumentError(
          absl::StrCat("the archive is malformed or truncated in entry ",
                       Q(Lib().archive_entry_pathname(entry)), ": ", Lib().archive_error_string(a.get())));
    }
  }
  while (!read.eof) {
    auto rest = source();
    if (!rest.ok()) return rest.status();
    read.eof = rest->empty();
  }
  return total;
}

namespace {

// ---- Walking a tree ---------------------------------------------------------------------------

struct WriteContext {
  const ChunkSink* sink = nullptr;
  std::string pending;  // less than kTreeChunkBytes between callbacks
  absl::Status status;  // the sink's error, reported as it is
};

la_ssize_t WriteCallback(struct archive* a, void* opaque, const void* buffer, size_t length) {
  auto* ctx = static_cast<WriteContext*>(opaque);
  ctx->pending.append(static_cast<const char*>(buffer), length);
  while (ctx->pending.size() >= kTreeChunkBytes) {
    std::string chunk = ctx->pending.substr(0, kTreeChunkBytes);
    ctx->pending.erase(0, kTreeChunkBytes);
    ctx->status = (*ctx->sink)(std::move(chunk));
    if (!ctx->status.ok()) {
      Lib().archive_set_error(a, EIO, "the stream failed");
      return -1;
    }
  }
  return static_cast<la_ssize_t>(length);
}

class Walker {
 public:
  Walker(struct archive* a, WriteContext* ctx, TreeStats* stats)
      : archive_(a), ctx_(ctx), stats_(stats), buffer_(kTreeChunkBytes, '\0') {}

  absl::Status Root(int dir);

 private:
  absl::Status Directory(int dir, const std::string& prefix, int depth);
  // Writes the header; `st` gives type, mode, owner, times and size.
  absl::Status Header(const std::string& path, const struct stat& st, const char* symlink,
                      const char* hardlink);
  absl::Status Data(int fd, const std::string& path, uint64_t size);
  absl::Status ArchiveError(const std::string& what);
  void Skip(const std::string& path);

  struct archive* const archive_;
  WriteContext* const ctx_;
  TreeStats* const stats_;
  std::string buffer_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // files with several names: the first
};

absl::Status Walker::ArchiveError(const std::string& what) {
  if (!ctx_->status.ok()) return ctx_->status;
  return absl::InternalError(absl::StrCat(what, ": ", Lib().archive_error_string(archive_)));
}

void Walker::Skip(const std::string& path) {
  ++stats_->skipped;
  if (stats_->skipped_names.size() < kMaxSkippedNames) stats_->skipped_names.push_back(path);
}

absl::Status Walker::Header(const std::string& path, const struct stat& st, const char* symlink,
                            const char* hardlink) {
  EntryPtr entry(Lib().archive_entry_new2(archive_), Lib().archive_entry_free);
  Lib().archive_entry_set_pathname(entry.get(), path.c_str());
  Lib().archive_entry_set_filetype(entry.get(), st.st_mode & S_IFMT);
  Lib().archive_entry_set_perm(entry.get(), st.st_mode & 07777);
  Lib().archive_entry_set_uid(entry.get(), st.st_uid);
  Lib().archive_entry_set_gid(entry.get(), st.st_gid);
  Lib().archive_entry_set_mtime(entry.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  Lib().archive_entry_set_size(entry.get(), S_ISREG(st.st_mode) && !hardlink ? st.st_size : 0);
  if (symlink != nullptr) Lib().archive_entry_set_symlink(entry.get(), symlink);
  if (hardlink != nullptr) Lib().archive_entry_set_hardlink(entry.get(), hardlink);
  if (Lib().archive_write_header(archive_, entry.get()) < ARCHIVE_WARN) {
    return ArchiveError(absl::StrCat("writing the header of ", Q(path)));
  }
  ++stats_->entries;
  return absl::OkStatus();
}

absl::Status Walker::Data(int fd, const std::string& path, uint64_t size) {
  uint64_t done = 0;
  while (done < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), size - done));
    ssize_t n = ::read(fd, buffer_.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("reading ", Q(path), ": ", Errno(errno)));
    if (n == 0) {
      // The file shrank since its header was written: the header's size is binding, pad.
      std::memset(buffer_.data(), 0, want);
      n = static_cast<ssize_t>(want);
    }
    if (Lib().archive_write_data(archive_, buffer_.data(), static_cast<size_t>(n)) < 0) {
      return ArchiveError(absl::StrCat("writing ", Q(path)));
    }
    done += static_cast<uint64_t>(n);
  }
  stats_->bytes += size;
  return absl::OkStatus();
}

absl::Status Walker::Root(int dir) {
  struct stat st;
  if (::fstat(dir, &st) != 0) return absl::InternalError(absl::StrCat("stat: ", Errno(errno)));
  if (auto s = Header(".", st, nullptr, nullptr); !s.ok()) return s;
  return Directory(dir, "", 0);
}

absl::Status Walker::Directory(int dir, const std::string& prefix, int depth) {
  if (depth >= kMaxTreeDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("the tree is deeper than ", kMaxTreeDepth, " levels at ", Q(prefix)));
  }
  const int listing_fd = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (listing_fd < 0) {
    return absl::InternalError(absl::StrCat("listing ", Q(prefix), ": ", Errno(errno)));
  }
  std::unique_ptr<DIR, int (*)(DIR*)> listing(::fdopendir(listing_fd), ::closedir);
  if (!listing) {
    ::close(listing_fd);
    return absl::InternalError(absl::StrCat("listing ", Q(prefix), ": ", Errno(errno)));
  }
  for (;;) {
    errno = 0;
    const dirent* d = ::readdir(listing.get());
    if (d == nullptr) {
      if (errno != 0) {
        return absl::InternalError(absl::StrCat("listing ", Q(prefix), ": ", Errno(errno)));
      }
      return absl::OkStatus();
    }
    const std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = prefix.empty() ? name : absl::StrCat(prefix, "/", name);
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed since it was listed
      return absl::InternalError(absl::StrCat("stat ", Q(path), ": ", Errno(errno)));
    }
    if (S_ISLNK(st.st_mode)) {
      char target[kMaxName + 1];
      const ssize_t n = ::readlinkat(dir, name.c_str(), target, kMaxName);
      if (n < 0) {
        if (errno == ENOENT || errno == EINVAL) continue;  // removed or replaced meanwhile
        return absl::InternalError(absl::StrCat("readlink ", Q(path), ": ", Errno(errno)));
      }
      target[n] = '\0';
      if (auto s = Header(path, st, target, nullptr); !s.ok()) return s;
    } else if (S_ISDIR(st.st_mode)) {
      // O_NOFOLLOW: if a symbolic link was swapped in since fstatat, this fails; it is skipped.
      FileFd sub(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid()) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;
        return absl::InternalError(absl::StrCat("opening ", Q(path), ": ", Errno(errno)));
      }
      if (::fstat(sub.get(), &st) != 0) {
        return absl::InternalError(absl::StrCat("stat ", Q(path), ": ", Errno(errno)));
      }
      if (auto s = Header(path, st, nullptr, nullptr); !s.ok()) return s;
      if (auto s = Directory(sub.get(), path, depth + 1); !s.ok()) return s;
    } else if (S_ISREG(st.st_mode)) {
      // O_NONBLOCK: a FIFO swapped in meanwhile must not block the walk; fstat then skips it.
      FileFd file(
          ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
      if (!file.valid()) {
        if (errno == ENOENT || errno == ELOOP) continue;
        return absl::InternalError(absl::StrCat("opening ", Q(path), ": ", Errno(errno)));
      }
      if (::fstat(file.get(), &st) != 0) {
        return absl::InternalError(absl::StrCat("stat ", Q(path), ": ", Errno(errno)));
      }
      if (!S_ISREG(st.st_mode)) {
        Skip(path);
        continue;
      }
      if (st.st_nlink > 1) {
        auto [it, first] = links_.try_emplace({st.st_dev, st.st_ino}, path);
        if (!first) {
          if (auto s = Header(path, st, nullptr, it->second.c_str()); !s.ok()) return s;
          continue;
        }
      }
      if (auto s = Header(path, st, nullptr, nullptr); !s.ok()) return s;
      if (auto s = Data(file.get(), path, static_cast<uint64_t>(st.st_size)); !s.ok()) return s;
    } else {
      Skip(path);
    }
  }
}

}  // namespace

absl::Status ExtractTree(int dest, const ChunkSource& source, const ExtractOptions& options,
                         TreeStats* stats) {
  if (absl::Status loaded = LoadLibarchive(); !loaded.ok()) return loaded;
  Extractor extractor(dest, options, stats);
  return extractor.Run(source);
}

absl::Status WriteTree(int dir, const ChunkSink& sink, TreeStats* stats) {
  if (absl::Status loaded = LoadLibarchive(); !loaded.ok()) return loaded;
  WriteContext ctx;  // before `a`: freeing `a` may still call WriteCallback
  ctx.sink = &sink;
  ArchivePtr a(Lib().archive_write_new(), Lib().archive_write_free);
  if (!a) return absl::InternalError("archive_write_new failed");
  // pax keeps long names, big files, large ids and nanosecond mtimes (pax_restricted would drop
  // the nanoseconds unless an entry needs a pax header anyway); names are kept as bytes
  // (hdrcharset=BINARY), whatever the locale. No blocking: chunks are cut by WriteCallback.
  if (Lib().archive_write_set_format_pax(a.get()) != ARCHIVE_OK ||
      Lib().archive_write_set_options(a.get(), "hdrcharset=BINARY") < ARCHIVE_WARN ||
      Lib().archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||
      Lib().archive_write_open(a.get(), &ctx, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
    return absl::InternalError(
        absl::StrCat("setting up the tar stream: ", Lib().archive_error_string(a.get())));
  }
  Walker walker(a.get(), &ctx, stats);
  if (absl::Status s = walker.Root(dir); !s.ok()) {
    Lib().archive_write_fail(a.get());  // no end-of-archive blocks after a failure
    return s;
  }
  if (Lib().archive_write_close(a.get()) != ARCHIVE_OK) {
    if (!ctx.status.ok()) return ctx.status;
    return absl::InternalError(
        absl::StrCat("finishing the tar stream: ", Lib().archive_error_string(a.get())));
  }
  if (!ctx.pending.empty()) return sink(std::move(ctx.pending));
  return absl::OkStatus();
}

}  // namespace berth::archive

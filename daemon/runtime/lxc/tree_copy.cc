#include "lxc/tree_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lxc/fs_util.h"

namespace berth::runtime::lxc {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

std::string Quoted(const std::string& s) { return absl::StrCat("\"", s, "\""); }

absl::Status EntryError(int err, const std::string& what, const std::string& rel) {
  if (err == ENOSPC || err == EDQUOT) {
    return absl::ResourceExhaustedError(absl::StrCat("no space left on the device while copying ",
                                                     Quoted(rel.empty() ? "." : rel),
                                                     "; free some space and retry"));
  }
  return ErrnoError(err, absl::StrCat("Cannot ", what, " ", Quoted(rel.empty() ? "." : rel)));
}

std::string Join(const std::string& rel, const char* name) {
  return rel.empty() ? std::string(name) : absl::StrCat(rel, "/", name);
}

// Names in the directory open as `fd` (not "." and ".."). Consumes a dup of `fd`.
absl::StatusOr<std::vector<std::string>> ListDir(int fd, const std::string& rel) {
  const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return EntryError(errno, "read directory", rel);
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dup);
    return EntryError(err, "read directory", rel);
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(dir)) {
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return EntryError(err, "read directory", rel);
  return names;
}

absl::Status Measure(int dir_fd, dev_t dev, const std::string& rel, TreeUsage& usage) {
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir_fd, rel);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    const std::string child = Join(rel, name.c_str());
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return EntryError(errno, "stat", child);
    }
    ++usage.entries;
    if (S_ISREG(st.st_mode)) usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      UniqueFd sub(::openat(dir_fd, name.c_str(), kDirFlags));
      if (!sub.valid()) return EntryError(errno, "open", child);
      if (absl::Status s = Measure(sub.get(), dev, child, usage); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

// Copies the extended attributes of `from` to `to` (both open fds of regular files or
// directories).
absl::Status CopyXattrs(int from, int to, const std::string& rel) {
  ssize_t size = ::flistxattr(from, nullptr, 0);
  if (size < 0) {
    if (errno == ENOTSUP) return absl::OkStatus();
    return EntryError(errno, "list the extended attributes of", rel);
  }
  if (size == 0) return absl::OkStatus();
  std::string names(static_cast<size_t>(size), '\0');
  size = ::flistxattr(from, names.data(), names.size());
  if (size < 0) return EntryError(errno, "list the extended attributes of", rel);
  names.resize(static_cast<size_t>(size));
  for (size_t pos = 0; pos < names.size();) {
    const std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    ssize_t len = ::fgetxattr(from, name.c_str(), nullptr, 0);
    if (len < 0) return EntryError(errno, absl::StrCat("read xattr ", name, " of"), rel);
    std::string value(static_cast<size_t>(len), '\0');
    len = ::fgetxattr(from, name.c_str(), value.data(), value.size());
    if (len < 0) return EntryError(errno, absl::StrCat("read xattr ", name, " of"), rel);
    if (::fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(len), 0) != 0) {
      return EntryError(errno, absl::StrCat("write xattr ", name, " of"), rel);
    }
  }
  return absl::OkStatus();
}

absl::Status CopyData(int from, int to, off_t size, const std::string& rel) {
  if (size == 0) return absl::OkStatus();
  if (::ioctl(to, FICLONE, from) == 0) return absl::OkStatus();
  off_t done = 0;
  while (done < size) {
    const ssize_t n =
        ::copy_file_range(from, nullptr, to, nullptr, static_cast<size_t>(size - done), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) &&
        done == 0) {
      break;  // fall back to read/write below
    }
    if (n < 0) return EntryError(errno, "copy", rel);
    if (n == 0) return absl::OkStatus();  // the file shrank meanwhile
    done += n;
  }
  if (done >= size) return absl::OkStatus();
  std::string buffer(1 << 20, '\0');
  while (true) {
    const ssize_t n = ::read(from, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return EntryError(errno, "read", rel);
    if (n == 0) return absl::OkStatus();
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::write(to, buffer.data() + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return EntryError(errno, "write", rel);
      off += w;
    }
  }
}

// Owner, mode and times of the entry `name` in `dir` from `st` (mode and xattrs not on symlinks).
absl::Status SetMetadata(int dir, const char* name, const struct stat& st, const std::string& rel) {
  if (::fchownat(dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryError(errno, "set the owner of", rel);
  }
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dir, name, st.st_mode & 07777, 0) != 0) {
    return EntryError(errno, "set the mode of", rel);
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryError(errno, "set the times of", rel);
  }
  return absl::OkStatus();
}

class Copier {
 public:
  // `root` is the copy's top directory (an fd the caller keeps open).
  Copier(dev_t dev, int root) : dev_(dev), root_(root) {}

  // Copies the contents of directory `from` into the (new, empty) directory `to`.
  absl::Status CopyDir(int from, int to, const std::string& rel) {
    absl::StatusOr<std::vector<std::string>> names = ListDir(from, rel);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (absl::Status s = CopyEntry(from, to, name.c_str(), Join(rel, name.c_str())); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CopyEntry(int from, int to, const char* name, const std::string& rel) {
    struct stat st;
    if (::fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return EntryError(errno, "stat", rel);
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        // The first copy's path is relative to the copy's root, which berth made and nothing
        // else writes to. A refusal (e.g. the link count limit) falls through to a plain copy.
        if (::linkat(root_, it->second.c_str(), to, name, 0) == 0) return absl::OkStatus();
      }
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to, name, 0700) != 0) return EntryError(errno, "create directory", rel);
      UniqueFd dst(::openat(to, name, kDirFlags));
      if (!dst.valid()) return EntryError(errno, "open", rel);
      if (st.st_dev == dev_) {
        UniqueFd src(::openat(from, name, kDirFlags));
        if (!src.valid()) return EntryError(errno, "open", rel);
        if (absl::Status s = CopyDir(src.get(), dst.get(), rel); !s.ok()) return s;
        if (absl::Status s = CopyXattrs(src.get(), dst.get(), rel); !s.ok()) return s;
      }
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd src(::openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
      if (!src.valid()) return EntryError(errno, "open", rel);
      UniqueFd dst(::openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!dst.valid()) return EntryError(errno, "create", rel);
      if (absl::Status s = CopyData(src.get(), dst.get(), st.st_size, rel); !s.ok()) return s;
      if (absl::Status s = CopyXattrs(src.get(), dst.get(), rel); !s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(from, name, target.data(), target.size());
      if (n < 0) return EntryError(errno, "read link", rel);
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), to, name) != 0) return EntryError(errno, "create link", rel);
    } else {
      // Device nodes (overlay whiteouts are 0/0 character devices), FIFOs and sockets.
      if (::mknodat(to, name, st.st_mode, st.st_rdev) != 0) return EntryError(errno, "create", rel);
    }
    if (absl::Status s = SetMetadata(to, name, st, rel); !s.ok()) return s;
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
      links_.emplace(std::pair(st.st_dev, st.st_ino), rel);
    return absl::OkStatus();
  }

  const dev_t dev_;
  const int root_;
  // The first copy of each multiply-linked inode, by its path relative to the copy's root.
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

}  // namespace

absl::StatusOr<TreeUsage> MeasureTree(const std::string& path) {
  UniqueFd root(::open(path.c_str(), kDirFlags));
  if (!root.valid()) return ErrnoError(errno, absl::StrCat("Cannot open ", Quoted(path)));
  struct stat st;
  if (::fstat(root.get(), &st) != 0) return ErrnoError(errno, absl::StrCat("Cannot stat ", path));
  TreeUsage usage;
  if (absl::Status s = Measure(root.get(), st.st_dev, "", usage); !s.ok()) return s;
  return usage;
}

absl::Status CheckFreeSpace(const std::string& dir, uint64_t needed) {
  struct statvfs vfs;
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return ErrnoError(errno, absl::StrCat("Cannot read the free space of ", Quoted(dir)));
  }
  const uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bfree) * vfs.f_frsize;
  const uint64_t margin = std::min<uint64_t>(needed / 100, 16u << 20);
  if (free_bytes < needed + margin) {
    return absl::FailedPreconditionError(absl::StrCat(
        "not enough free space in ", Quoted(dir), ": the copy needs about ", needed / 1024,
        " KiB and ", free_bytes / 1024, " KiB are free; free some space and retry"));
  }
  return absl::OkStatus();
}

absl::Status CopyTree(const std::string& from, const std::string& to) {
  UniqueFd src(::open(from.c_str(), kDirFlags));
  if (!src.valid()) return ErrnoError(errno, absl::StrCat("Cannot open ", Quoted(from)));
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return ErrnoError(errno, absl::StrCat("Cannot stat ", from));
  if (::mkdir(to.c_str(), 0700) != 0) {
    return ErrnoError(errno, absl::StrCat("Cannot create ", Quoted(to)));
  }
  absl::Status status = [&]() -> absl::Status {
    UniqueFd dst(::open(to.c_str(), kDirFlags));
    if (!dst.valid()) return ErrnoError(errno, absl::StrCat("Cannot open ", Quoted(to)));
    Copier copier(st.st_dev, dst.get());
    if (absl::Status s = copier.CopyDir(src.get(), dst.get(), ""); !s.ok()) return s;
    if (absl::Status s = CopyXattrs(src.get(), dst.get(), ""); !s.ok()) return s;
    if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0 ||
        ::fchmod(dst.get(), st.st_mode & 07777) != 0) {
      return EntryError(errno, "set the owner and mode of", "");
    }
    const struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(dst.get(), times) != 0) return EntryError(errno, "set the times of", "");
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    if (absl::Status removed = RemoveTree(to); !removed.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(status.message(),
                                       "; removing the partial copy failed: ", removed.message()));
    }
  }
  return status;
}

}  // namespace berth::runtime::lxc

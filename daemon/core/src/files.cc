// berth file push/pull: resolution inside a container's root (openat2 RESOLVE_IN_ROOT) and
// ContainerManager::OpenRoot.

#include "berth/core/files.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "berth/core/container_manager.h"
#include "berth/core/validation.h"

namespace berth::core {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr uint32_t kMaxId = (1u << 31) - 1;

std::string Q(const std::string& path) { return absl::StrCat("\"", absl::CEscape(path), "\""); }

int OpenInRoot(int root, const std::string& path, uint64_t flags, uint64_t mode = 0) {
  open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = flags;
  how.mode = mode;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root, path.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return static_cast<int>(fd);
}

absl::Status ValidatePath(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("a path inside the container is needed");
  if (path.size() > kMaxPath || path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("path ", Q(path), " is invalid (NUL byte or longer than 4096 bytes)"));
  }
  return absl::OkStatus();
}

// The status for a failed resolution of `what` (a description naming the path).
absl::Status ResolveError(int err, const std::string& what) {
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(absl::StrCat(what, " does not exist in the container"));
    case ENOTDIR:
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": a component of the path is not a directory"));
    case ELOOP:
      return absl::InvalidArgumentError(absl::StrCat(what, ": too many levels of symbolic links"));
    case ENAMETOOLONG:
      return absl::InvalidArgumentError(absl::StrCat(what, ": name too long"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(absl::StrCat(what, ": ", std::strerror(err)));
    default:
      return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
  }
}

}  // namespace

absl::StatusOr<PulledFile> OpenForPull(int root, const std::string& path) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  FileFd fd(OpenInRoot(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return ResolveError(errno, absl::StrCat("file ", Q(path)));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return absl::InternalError(absl::StrCat("stat ", Q(path), ": ", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(Q(path), " is a directory; pull it with -r"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Q(path), " is not a regular file; only regular files can be pulled"));
  }
  PulledFile file;
  file.fd = std::move(fd);
  file.mode = st.st_mode & 07777;
  file.uid = st.st_uid;
  file.gid = st.st_gid;
  file.size = static_cast<uint64_t>(st.st_size);
  return file;
}

absl::StatusOr<FileFd> OpenTreeDestination(int root, const std::string& path) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  FileFd dir(OpenInRoot(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) return dir;
  int err = errno;
  if (err == ENOENT) {
    // Missing: create it in its parent, which must exist (as for a single file).
    std::string trimmed = path;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    const size_t slash = trimmed.rfind('/');
    const std::string parent_path =
        (slash == std::string::npos || slash == 0) ? std::string("/") : trimmed.substr(0, slash);
    const std::string base = slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
    FileFd parent(OpenInRoot(root, parent_path, O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!parent.valid()) {
      if (errno == ENOENT) {
        return absl::NotFoundError(
            absl::StrCat("parent directory ", Q(parent_path),
                         " does not exist in the container; create it first"));
      }
      return ResolveError(errno, absl::StrCat("parent directory ", Q(parent_path)));
    }
    if (base == "." || base == "..")
      return ResolveError(ENOENT, absl::StrCat("directory ", Q(path)));
    if (::mkdirat(parent.get(), base.c_str(), 0755) != 0 && errno != EEXIST) {
      return ResolveError(errno, absl::StrCat("creating directory ", Q(path)));
    }
    // Its mode whatever berthd's umask; on the fd, never by name.
    dir = FileFd(
        ::openat(parent.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.valid() && ::fchmod(dir.get(), 0755) == 0) return dir;
    err = errno;
  }
  if (err == ENOTDIR || err == ELOOP) {
    return absl::FailedPreconditionError(
        absl::StrCat(Q(path),
                     " exists in the container and is not a directory; a tree is "
                     "pushed into a directory (without -r, a single file is pushed)"));
  }
  return ResolveError(err, absl::StrCat("directory ", Q(path)));
}

absl::StatusOr<FileFd> OpenTreeSource(int root, const std::string& path) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  FileFd dir(OpenInRoot(root, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) return dir;
  const int err = errno;
  if (err == ENOTDIR) {
    return absl::InvalidArgumentError(
        absl::StrCat(Q(path), " is not a directory; pull a single file without -r"));
  }
  return ResolveError(err, absl::StrCat("directory ", Q(path)));
}

absl::StatusOr<std::string> ReadChunk(int fd) {
  std::string buf(kFileChunkBytes, '\0');
  ssize_t n;
  do {
    n = ::read(fd, buf.data(), buf.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return absl::InternalError(absl::StrCat("read: ", std::strerror(errno)));
  buf.resize(static_cast<size_t>(n));
  return buf;
}

absl::StatusOr<PushedFile> PushedFile::Begin(int root, const std::string& path, uint32_t mode,
                                             uint32_t uid, uint32_t gid) {
  if (absl::Status s = ValidatePath(path); !s.ok()) return s;
  if (mode > 07777) {
    return absl::InvalidArgumentError("mode must be permission bits (at most 07777)");
  }
  if (uid > kMaxId || gid > kMaxId) {
    return absl::InvalidArgumentError("uid and gid must be below 2^31");
  }
  if (path.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(Q(path), " names a directory; give the file's full path"));
  }
  const size_t slash = path.rfind('/');
  // "a" and "/a" have "/" as parent; "x/a" and "/x/a" have "x" and "/x" (both under the root).
  const std::string parent =
      (slash == std::string::npos || slash == 0) ? std::string("/") : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base == "." || base == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(Q(path), " names a directory; give the file's full path"));
  }

  PushedFile file;
  file.path_ = path;
  file.parent_ = FileFd(OpenInRoot(root, parent, O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!file.parent_.valid()) {
    const int err = errno;
    if (err == ENOENT) {
      return absl::NotFoundError(absl::StrCat("parent directory ", Q(parent),
                                              " does not exist in the container; create it first"));
    }
    return ResolveError(err, absl::StrCat("parent directory ", Q(parent)));
  }
  struct stat st;
  if (::fstatat(file.parent_.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Q(path), " is an existing directory; push to a file path inside it instead"));
  }
  for (int attempt = 0; attempt < 16 && !file.file_.valid(); ++attempt) {
    unsigned char rnd[8];
    if (::getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
      return absl::InternalError("getrandom failed");
    }
    file.temp_name_ = absl::StrCat(".berth-push-", absl::BytesToHexString(absl::string_view(
                                                       reinterpret_cast<char*>(rnd), sizeof(rnd))));
    file.file_ = FileFd(::openat(file.parent_.get(), file.temp_name_.c_str(),
                                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file.file_.valid() && errno != EEXIST) {
      return ResolveError(errno, absl::StrCat("creating a file in ", Q(parent)));
    }
  }
  if (!file.file_.valid()) return absl::InternalError("could not pick a temporary file name");
  file.base_name_ = std::move(base);
  file.mode_ = mode;
  file.uid_ = uid;
  file.gid_ = gid;
  return file;
}

PushedFile::~PushedFile() {
  if (!done_ && parent_.valid() && !temp_name_.empty()) {
    (void)::unlinkat(parent_.get(), temp_name_.c_str(), 0);
  }
}

absl::Status PushedFile::Write(absl::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(file_.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(absl::StrCat("writing ", Q(path_), ": ", std::strerror(errno)));
    }
    done += static_cast<size_t>(n);
  }
  size_ += data.size();
  return absl::OkStatus();
}

absl::Status PushedFile::Commit() {
  // chown first: it clears set-id bits that chmod then sets.
  if (::fchown(file_.get(), uid_, gid_) != 0 || ::fchmod(file_.get(), mode_) != 0 ||
      ::fsync(file_.get()) != 0) {
    return absl::InternalError(absl::StrCat("finishing ", Q(path_), ": ", std::strerror(errno)));
  }
  if (::renameat(parent_.get(), temp_name_.c_str(), parent_.get(), base_name_.c_str()) != 0) {
    const int err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return absl::InvalidArgumentError(absl::StrCat(
          Q(path_), " is an existing directory; push to a file path inside it instead"));
    }
    return absl::InternalError(absl::StrCat("renaming into ", Q(path_), ": ", std::strerror(err)));
  }
  done_ = true;
  return absl::OkStatus();
}

absl::StatusOr<FileFd> ContainerManager::OpenRoot(const std::string& name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  auto live = driver_->InspectState(name);
  if (absl::IsNotFound(live.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("container \"", name,
                     "\" is defined in berth but missing from the runtime's container directory"));
  }
  if (!live.ok()) return live.status();
  if ((live->state == runtime::LiveState::kRunning || live->state == runtime::LiveState::kFrozen) &&
      live->init_pid > 0) {
    // Its init's view: the container's own mounts, not just the rootfs directory underneath.
    FileFd root(::open(absl::StrCat("/proc/", live->init_pid, "/root").c_str(),
                       O_PATH | O_DIRECTORY | O_CLOEXEC));
    const int err = errno;
    // The init may have exited (and its pid been reused) since the first look: check it is
    // still the same.
    auto again = driver_->InspectState(name);
    if (!root.valid() || !again.ok() || again->init_pid != live->init_pid) {
      return absl::UnavailableError(
          absl::StrCat("container \"", name, "\" changed state while opening its root (",
                       std::strerror(root.valid() ? ESRCH : err), "); try again"));
    }
    return root;
  }
  if (live->state == runtime::LiveState::kStopped) {
    auto path = driver_->RootfsPath(name);
    if (!path.ok()) return path.status();
    FileFd root(::open(path->c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!root.valid()) {
      return absl::FailedPreconditionError(absl::StrCat("container \"", name,
                                                        "\" has no root filesystem directory at ",
                                                        *path, ": ", std::strerror(errno)));
    }
    return root;
  }
  return absl::FailedPreconditionError(absl::StrCat("container \"", name, "\" is ",
                                                    std::string(LiveStateName(live->state)),
                                                    "; try again when it is running or stopped"));
}

}  // namespace berth::core

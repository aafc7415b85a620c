#include "berth/api/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "berth/core/logging.h"
#include "grpcpp/server.h"
#include "grpcpp/server_posix.h"
#include "spdlog/spdlog.h"

namespace berth::api {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

std::shared_ptr<spdlog::logger> Log() { return core::NamedLogger("api"); }

}  // namespace

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Bind(const Options& options) {
  sockaddr_un addr{};
  if (options.path.empty() || options.path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path \"", options.path,
                                                   "\" is empty or longer than ",
                                                   sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, options.path.c_str(), options.path.size() + 1);
  addr.sun_family = AF_UNIX;

  std::filesystem::path dir = std::filesystem::path(options.path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir)) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create socket directory \"", dir.string(), "\": ", ec.message()));
    }
    if (chmod(dir.c_str(), 0750) != 0) return Errno(absl::StrCat("chmod ", dir.string()));
    if (options.group && chown(dir.c_str(), 0, *options.group) != 0) {
      return Errno(absl::StrCat("chown ", dir.string()));
    }
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("socket");
  // Is a daemon already serving there? Only a stale socket file may be replaced.
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 || errno == EAGAIN) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("another berthd is already listening on \"", options.path,
                     "\"; stop it first or give this one another --socket"));
  }
  close(fd);
  unlink(options.path.c_str());

  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("socket");
  // Bind under a restrictive umask so the socket is never briefly open to everyone.
  mode_t old_umask = umask(0177);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old_umask);
  if (rc != 0) {
    auto s = Errno(absl::StrCat("cannot bind \"", options.path, "\""));
    close(fd);
    return s;
  }
  if ((options.group && chown(options.path.c_str(), 0, *options.group) != 0) ||
      chmod(options.path.c_str(), 0660) != 0 || listen(fd, 128) != 0) {
    auto s = Errno(absl::StrCat("cannot set up \"", options.path, "\""));
    close(fd);
    unlink(options.path.c_str());
    return s;
  }
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    close(fd);
    return Errno("eventfd");
  }
  return std::unique_ptr<UnixListener>(new UnixListener(options, fd, stop_fd, /*owns_path=*/true));
}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Adopt(int fd, Options options) {
  int type = 0;
  int listening = 0;
  sockaddr_un addr{};
  socklen_t type_len = sizeof(type);
  socklen_t listening_len = sizeof(listening);
  socklen_t addr_len = sizeof(addr);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0 ||
      addr.sun_family != AF_UNIX || type != SOCK_STREAM || listening == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inherited fd ", fd, " is not a listening Unix stream socket; check the .socket unit"));
  }
  // A pathname socket names itself; an abstract or unnamed one keeps the configured name.
  if (addr_len > offsetof(sockaddr_un, sun_path) && addr.sun_path[0] != '\0') {
    options.path = std::string(addr.sun_path, strnlen(addr.sun_path, sizeof(addr.sun_path)));
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    return Errno(absl::StrCat("cannot set up inherited fd ", fd));
  }
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) return Errno("eventfd");
  return std::unique_ptr<UnixListener>(
      new UnixListener(std::move(options), fd, stop_fd, /*owns_path=*/false));
}

UnixListener::UnixListener(Options options, int listen_fd, int stop_fd, bool owns_path)
    : options_(std::move(options)),
      listen_fd_(listen_fd),
      stop_fd_(stop_fd),
      owns_path_(owns_path) {}

UnixListener::~UnixListener() {
  Stop();
  close(listen_fd_);
  close(stop_fd_);
}

void UnixListener::Serve(grpc::Server* server) {
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixListener::Stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof(one));
  thread_.join();
  if (owns_path_) unlink(options_.path.c_str());
}

int UnixListener::LiveConnections() {
  int live = 0;
  for (auto it = peers_.begin(); it != peers_.end();) {
    struct stat st;
    if (fstat(it->first, &st) == 0 && st.st_ino == it->second.inode) {
      ++live;
      ++it;
    } else {
      it = peers_.erase(it);  // gRPC closed it.
    }
  }
  return live;
}

void UnixListener::AcceptLoop(grpc::Server* server) {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Log()->error("poll on \"{}\" failed: {}", options_.path, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        Log()->warn("accept on \"{}\" failed: {}", options_.path, std::strerror(errno));
      }
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    struct stat st;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || fstat(fd, &st) != 0) {
      Log()->warn("Dropped a connection whose credentials cannot be read: {}",
                  std::strerror(errno));
      close(fd);
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      if (LiveConnections() >= options_.max_connections) {
        Log()->warn("Refused a connection from pid {} uid {}: {} connections are open already",
                    cred.pid, cred.uid, options_.max_connections);
        close(fd);
        continue;
      }
      peers_[fd] = Peer{{cred.pid, cred.uid, cred.gid}, st.st_ino};
    }
    // gRPC wants a non-blocking socket it then owns.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    grpc::AddInsecureChannelFromFd(server, fd);
  }
}

std::optional<PeerCredentials> UnixListener::Lookup(absl::string_view peer) {
  int fd;
  if (!absl::ConsumePrefix(&peer, "fd:") || !absl::SimpleAtoi(peer, &fd)) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) return std::nullopt;
  return it->second.creds;
}

}  // namespace berth::api

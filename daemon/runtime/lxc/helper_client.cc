#include "lxc/helper_client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lxc/fs_util.h"
#include "lxc/string_views.h"
#include "spawn_attributes.h"

namespace berth::runtime::lxc {
namespace {

// Templates run as root with this environment, not the daemon's.
constexpr const char* kHelperEnvironment[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL=C",
    nullptr,
};

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  if (abbrev == nullptr) return absl::StrCat("signal ", sig);
  return absl::StrCat("SIG", abbrev);
}

// Receives from the socket `fd` like read(2), appending any fds it carries to `fds`.
ssize_t ReceiveWithFds(int fd, char* buf, size_t size, std::vector<UniqueFd>& fds) {
  iovec iov = {buf, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(received);
    }
  }
  return n;
}

// Reads what is available on the non-blocking `fd` into `out` (up to the cap; the rest is read
// and dropped so the writer never blocks), and with `fds` the fds sent along. Returns false at
// EOF or on an error.
bool ReadAvailable(int fd, std::string& out, std::vector<UniqueFd>* fds = nullptr) {
  char buf[4096];
  while (true) {
    const ssize_t n =
        fds == nullptr ? ::read(fd, buf, sizeof(buf)) : ReceiveWithFds(fd, buf, sizeof(buf), *fds);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) return false;
    const size_t room = kMaxHelperOutputBytes - std::min(out.size(), kMaxHelperOutputBytes);
    out.append(buf, std::min(room, static_cast<size_t>(n)));
  }
}

int WaitForPid(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

std::string OutputSuffix(const std::string& output) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(output);
  if (trimmed.empty()) return "";
  return absl::StrCat(": ", trimmed);
}

}  // namespace

absl::Status RunHelper(const std::string& helper_path, HelperOp op,
                       const std::vector<std::string>& args, absl::Duration timeout,
                       std::vector<UniqueFd>* received_fds) {
  std::vector<std::string> argv_storage = {helper_path, std::string(HelperOpName(op))};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (received_fds != nullptr) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pipe_fds) != 0) {
      return ErrnoError(errno, "Cannot create a socket pair");
    }
  } else if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "Cannot create a pipe");
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  // dup2 onto 1 and 2 must clear close-on-exec, which it does not when the fd already is 1 or 2.
  if (write_end.get() <= STDERR_FILENO) {
    return absl::InternalError("The daemon's standard fds are not open; refusing to spawn");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&actions] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);

  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr);
  absl::Cleanup destroy_attr = [&attr] { posix_spawnattr_destroy(&attr); };

  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, helper_path.c_str(), &actions, &attr, argv.data(),
                                        const_cast<char* const*>(kHelperEnvironment));
  if (spawn_error != 0) {
    return ErrnoError(spawn_error, absl::StrCat("Cannot run \"", helper_path, "\""));
  }
  write_end.reset();

  // The child is ours and unreaped, so its pid cannot be reused before we wait for it.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    WaitForPid(pid);
    return ErrnoError(err, "pidfd_open for berth-lxc-helper failed");
  }
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

  std::string output;
  bool pipe_open = true;
  bool exited = false;
  const absl::Time deadline = absl::Now() + timeout;
  while (!exited) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {pipe_open ? read_end.get() : -1, POLLIN, 0}};
    const int timeout_ms = static_cast<int>(std::min<int64_t>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))), INT32_MAX));
    const int ready = ::poll(fds, 2, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      const int err = errno;
      ::kill(pid, SIGKILL);
      WaitForPid(pid);
      return ErrnoError(err, "poll while waiting for berth-lxc-helper failed");
    }
    if (pipe_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      pipe_open = ReadAvailable(read_end.get(), output, received_fds);
    }
    if ((fds[0].revents & POLLIN) != 0) exited = true;
  }

  if (!exited) {
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    WaitForPid(pid);
    if (pipe_open) ReadAvailable(read_end.get(), output);
    return absl::DeadlineExceededError(
        absl::StrCat("berth-lxc-helper ", ToAbsl(HelperOpName(op)), " did not finish within ",
                     absl::FormatDuration(timeout), " and was killed", OutputSuffix(output)));
  }

  const int status = WaitForPid(pid);
  // Whatever is already in the pipe; never wait for EOF (a daemonized container's monitor could
  // hold the write end).
  if (pipe_open) ReadAvailable(read_end.get(), output, received_fds);

  if (status < 0) return ErrnoError(errno, "waitpid for berth-lxc-helper failed");
  if (WIFSIGNALED(status)) {
    return absl::InternalError(absl::StrCat("berth-lxc-helper ", ToAbsl(HelperOpName(op)),
                                            " was killed by ", SignalName(WTERMSIG(status)),
                                            OutputSuffix(output)));
  }
  const int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::optional<absl::StatusCode> code = StatusCodeFromHelperExit(exit_code);
  if (!code.has_value()) {
    return absl::InternalError(absl::StrCat("berth-lxc-helper ", ToAbsl(HelperOpName(op)),
                                            " exited with unexpected code ", exit_code,
                                            OutputSuffix(output)));
  }
  if (*code == absl::StatusCode::kOk) return absl::OkStatus();
  return absl::Status(*code, absl::StripAsciiWhitespace(output));
}

}  // namespace berth::runtime::lxc

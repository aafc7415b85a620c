#include "berth/runtime/exec_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spawn_attributes.h"

namespace berth::runtime {
namespace {

// Matches lxc/helper_protocol.h: exit code 100 + absl::StatusCode for the helper's own failures.
constexpr int kHelperExitBase = 100;
// The largest pipe the daemon asks for: fewer, bigger chunks for bulk output.
constexpr int kPipeSize = 1 << 20;

absl::Status Errno(int err, std::string_view what) {
  return absl::InternalError(absl::StrCat(std::string(what), ": ", ::strerrordesc_np(err)));
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Moves `fd` to a number >= 10 (close-on-exec), so fds 0-4 of the child are never sources of a
// later dup2 in the spawn's file actions.
int High(int fd) {
  if (fd < 0) return fd;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return high;
}

void SetNonBlocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Holds fds until released; closes them on an early return.
struct FdList {
  std::vector<int*> fds;
  ~FdList() {
    for (int* fd : fds) CloseFd(*fd);
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ExecProcess>> ExecProcess::Spawn(
    Protocol protocol, const std::vector<std::string>& program_argv,
    const std::vector<std::string>& envp, const std::string& cwd, bool tty, uint16_t rows,
    uint16_t cols) {
  if (program_argv.empty()) return absl::InvalidArgumentError("nothing to run");
  std::unique_ptr<ExecProcess> p(new ExecProcess());
  p->protocol_ = protocol;
  p->tty_ = tty;

  // The child's ends; closed here once spawned (or on failure).
  int child_in = -1, child_out = -1, child_err = -1, child_report = -1, child_control = -1;
  FdList child_ends{{&child_in, &child_out, &child_err, &child_report, &child_control}};
  std::string slave_path;

  int fds[2];
  if (tty) {
    p->pty_master_ = High(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (p->pty_master_ < 0 || ::grantpt(p->pty_master_) != 0 || ::unlockpt(p->pty_master_) != 0) {
      return Errno(errno, "Cannot allocate a pseudo-terminal");
    }
    char name[128];
    if (::ptsname_r(p->pty_master_, name, sizeof(name)) != 0) {
      return Errno(errno, "ptsname failed");
    }
    slave_path = name;
    winsize ws = {};
    ws.ws_row = rows;
    ws.ws_col = cols;
    ::ioctl(p->pty_master_, TIOCSWINSZ, &ws);
    if (protocol == Protocol::kHelper) {
      // The helper passes the slave on; the attached process makes it its controlling terminal.
      child_in = High(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (child_in < 0) return Errno(errno, "Cannot open the pseudo-terminal");
    }
    SetNonBlocking(p->pty_master_);
  } else {
    if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno, "Cannot create a pipe");
    child_in = High(fds[0]);
    p->stdin_w_ = High(fds[1]);
    if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno, "Cannot create a pipe");
    p->stdout_r_ = High(fds[0]);
    child_out = High(fds[1]);
    if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno, "Cannot create a pipe");
    p->stderr_r_ = High(fds[0]);
    child_err = High(fds[1]);
    ::fcntl(p->stdout_r_, F_SETPIPE_SZ, kPipeSize);
    ::fcntl(p->stdin_w_, F_SETPIPE_SZ, kPipeSize);
    SetNonBlocking(p->stdin_w_);
    SetNonBlocking(p->stdout_r_);
    SetNonBlocking(p->stderr_r_);
  }
  if (protocol == Protocol::kHelper) {
    if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno, "Cannot create a pipe");
    p->report_r_ = High(fds[0]);
    child_report = High(fds[1]);
    if (::pipe2(fds, O_CLOEXEC) != 0) return Errno(errno, "Cannot create a pipe");
    child_control = High(fds[0]);
    p->control_w_ = High(fds[1]);
    SetNonBlocking(p->report_r_);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&actions] { posix_spawn_file_actions_destroy(&actions); };
  if (tty && protocol == Protocol::kDirect) {
    // After setsid (done before the file actions), opening the slave without O_NOCTTY makes it
    // the controlling terminal.
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, slave_path.c_str(), O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, STDIN_FILENO, STDERR_FILENO);
  } else if (tty) {
    posix_spawn_file_actions_adddup2(&actions, child_in, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, child_in, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, child_in, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_adddup2(&actions, child_in, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, child_out, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, child_err, STDERR_FILENO);
  }
  int keep_from = STDERR_FILENO + 1;
  if (protocol == Protocol::kHelper) {
    posix_spawn_file_actions_adddup2(&actions, child_report, 3);
    posix_spawn_file_actions_adddup2(&actions, child_control, 4);
    keep_from = 5;
  } else if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, keep_from);

  posix_spawnattr_t attr;
  InitChildSpawnAttributes(&attr);
  absl::Cleanup destroy_attr = [&attr] { posix_spawnattr_destroy(&attr); };

  std::vector<std::string> argv_storage = program_argv;
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = envp;
  std::vector<char*> env;
  for (std::string& var : env_storage) env.push_back(var.data());
  env.push_back(nullptr);

  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), env.data());
  if (err != 0) return Errno(err, absl::StrCat("Cannot run \"", program_argv[0], "\""));
  p->pid_ = pid;
  p->pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (p->pidfd_ < 0) {
    const int open_err = errno;
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    p->waited_ = true;
    return Errno(open_err, "pidfd_open failed");
  }
  return p;
}

ExecProcess::~ExecProcess() {
  if (pid_ > 0 && !waited_) {
    if (protocol_ == Protocol::kDirect) {
      ::kill(-pid_, SIGKILL);
    } else if (control_w_ >= 0) {
      // The helper kills the attached group (it does on EOF too), reaps it and exits; give it a
      // bounded time before it is killed itself.
      const int32_t kill_signal = SIGKILL;
      (void)!::write(control_w_, &kill_signal, sizeof(kill_signal));
      CloseFd(control_w_);
      pollfd pfd = {pidfd_, POLLIN, 0};
      while (pidfd_ >= 0 && ::poll(&pfd, 1, 2000) < 0 && errno == EINTR) {
      }
    }
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  CloseFd(pidfd_);
  CloseFd(pty_master_);
  CloseFd(stdin_w_);
  CloseFd(stdout_r_);
  CloseFd(stderr_r_);
  CloseFd(report_r_);
  CloseFd(control_w_);
}

void ExecProcess::CloseOutput(int fd) {
  if (fd >= 0 && fd == stdout_r_) CloseFd(stdout_r_);
  if (fd >= 0 && fd == stderr_r_) CloseFd(stderr_r_);
}

void ExecProcess::CloseStdin() {
  if (stdin_closed_) return;
  stdin_closed_ = true;
  if (tty_) {
    // The terminal's EOF character: a reading process at the start of a line sees EOF.
    termios t;
    char eof = 0x04;
    if (::tcgetattr(pty_master_, &t) == 0 && t.c_cc[VEOF] != 0)
      eof = static_cast<char>(t.c_cc[VEOF]);
    (void)!::write(pty_master_, &eof, 1);
  } else {
    CloseFd(stdin_w_);
  }
}

absl::Status ExecProcess::Signal(int sig) {
  if (waited_) return absl::FailedPreconditionError("the process has exited");
  if (sig <= 0 || sig >= NSIG) return absl::InvalidArgumentError(absl::StrCat("bad signal ", sig));
  if (protocol_ == Protocol::kDirect) {
    if (::kill(-pid_, sig) != 0 && errno != ESRCH) return Errno(errno, "kill failed");
    return absl::OkStatus();
  }
  const int32_t n = sig;
  if (control_w_ < 0 || ::write(control_w_, &n, sizeof(n)) != sizeof(n)) {
    return absl::FailedPreconditionError("the process has exited");
  }
  return absl::OkStatus();
}

absl::Status ExecProcess::Resize(uint16_t rows, uint16_t cols) {
  if (!tty_) return absl::FailedPreconditionError("the process has no terminal");
  winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(pty_master_, TIOCSWINSZ, &ws) != 0) return Errno(errno, "TIOCSWINSZ failed");
  return absl::OkStatus();
}

absl::StatusOr<ExecExit> ExecProcess::Wait() {
  if (waited_) return absl::FailedPreconditionError("already waited");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return Errno(errno, "waitpid failed");
  }
  waited_ = true;
  CloseFd(control_w_);
  ExecExit exit;
  if (protocol_ == Protocol::kDirect) {
    if (WIFSIGNALED(status)) {
      exit.signal = WTERMSIG(status);
      exit.code = 128 + exit.signal;
    } else {
      exit.code = WEXITSTATUS(status);
    }
    return exit;
  }
  // The helper has exited: everything it wrote is in the pipe.
  std::string report;
  char buf[4096];
  while (report.size() < 64 * 1024) {
    const ssize_t n = ::read(report_r_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    report.append(buf, static_cast<size_t>(n));
  }
  if (WIFSIGNALED(status)) {
    // Only the daemon kills the helper (when the session is torn down): report it like a shell.
    exit.signal = WTERMSIG(status);
    exit.code = 128 + exit.signal;
    return exit;
  }
  const int code = WEXITSTATUS(status);
  if (code == 0) {
    absl::string_view line = absl::StripAsciiWhitespace(report);
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
    if (parts.size() == 3 && parts[0] == "exit" && absl::SimpleAtoi(parts[1], &exit.code) &&
        absl::SimpleAtoi(parts[2], &exit.signal)) {
      return exit;
    }
    return absl::InternalError(
        absl::StrCat("berth-lxc-helper exec sent an unreadable report: ", line));
  }
  if (code > kHelperExitBase && code <= kHelperExitBase + 16) {
    return absl::Status(static_cast<absl::StatusCode>(code - kHelperExitBase),
                        absl::StripAsciiWhitespace(report));
  }
  return absl::InternalError(absl::StrCat("berth-lxc-helper exec exited with unexpected code ",
                                          code, ": ", absl::StripAsciiWhitespace(report)));
}

void InitChildSpawnAttributes(posix_spawnattr_t* attr) {
  posix_spawnattr_init(attr);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t all_signals;
  sigfillset(&all_signals);
  posix_spawnattr_setsigmask(attr, &empty_mask);
  posix_spawnattr_setsigdefault(attr, &all_signals);
  posix_spawnattr_setflags(attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
}

}  // namespace berth::runtime

#pragma once

// A process started by RuntimeDriver::Exec and the fds the daemon pumps for it.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "berth/runtime/stdio_endpoint.h"

namespace berth::runtime {

// What to run inside a container. The core has validated every field before it gets here.
struct ExecSpec {
  std::vector<std::string> argv;  // non-empty; argv[0] is looked up in the container's PATH
  std::vector<std::string> env;   // the whole environment, "KEY=VALUE"
  std::string cwd = "/";          // absolute, inside the container
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool tty = false;  // a pseudo-terminal (stdin/stdout/stderr all on it) instead of three pipes
  uint16_t rows = 24;
  uint16_t cols = 80;
};

struct ExecExit {
  int code = 0;    // 0..255; 128+N when killed by signal N
  int signal = 0;  // N when killed by a signal
};

// A running exec'd process: owns its stdio fds, the spawned child (berth-lxc-helper for liblxc,
// the command itself for the fake) and, for the helper, its report and control pipes.
//
// The process runs in a session (and process group) of its own; Signal reaches the whole group.
// The fds are non-blocking and close-on-exec. Threads: one owner at a time; no internal locking.
// Destroying an ExecProcess whose child has not been waited for kills the group (SIGKILL) and
// reaps the child, so nothing it started outlives it unnoticed.
class ExecProcess final : public StdioEndpoint {
 public:
  // How the child is told about signals and reports its exit.
  enum class Protocol {
    kDirect,  // the child is the process itself: signals with kill(-pid), exit from waitpid
    kHelper,  // berth-lxc-helper exec (see lxc/helper_protocol.h): fd 3 report, fd 4 control
  };

  // Spawns `program_argv` (posix_spawn, no fork of the daemon's threads) with `envp`, a pipe or a
  // pseudo-terminal per `tty` as fds 0-2 and, for kHelper, the report/control pipes as fds 3/4.
  // kDirect children get a new session and, with a tty, it as their controlling terminal, and
  // start in `cwd` (ignored for kHelper). INTERNAL when a pipe, the pty or the spawn fails.
  static absl::StatusOr<std::unique_ptr<ExecProcess>> Spawn(
      Protocol protocol, const std::vector<std::string>& program_argv,
      const std::vector<std::string>& envp, const std::string& cwd, bool tty, uint16_t rows,
      uint16_t cols);

  ~ExecProcess() override;
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  bool tty() const override { return tty_; }
  // Where the process's stdin goes (the pty master with a tty); -1 after CloseStdin.
  int stdin_fd() const override { return stdin_closed_ ? -1 : (tty_ ? pty_master_ : stdin_w_); }
  // stdout (the pty master with a tty) and stderr (-1 with a tty, or once closed).
  int stdout_fd() const override { return tty_ ? pty_master_ : stdout_r_; }
  int stderr_fd() const override { return tty_ ? -1 : stderr_r_; }
  // Closes the stdout/stderr read ends once drained (with a tty: nothing until destruction).
  void CloseOutput(int fd) override;
  // No more stdin: closes the pipe; with a tty sends the terminal's EOF character (^D).
  void CloseStdin() override;
  // Readable (POLLIN) once the spawned child has exited.
  int exit_fd() const override { return pidfd_; }

  // Sends `sig` to the process group. FAILED_PRECONDITION after Wait.
  absl::Status Signal(int sig);
  // Sets the terminal size (the process gets SIGWINCH). FAILED_PRECONDITION without a tty.
  absl::Status Resize(uint16_t rows, uint16_t cols) override;
  // Blocks until the child exits, reaps it and returns the process's exit. For kHelper, an error
  // the helper reported (e.g. liblxc could not attach) comes back as that status. Once only.
  absl::StatusOr<ExecExit> Wait();

  pid_t pid() const { return pid_; }

 private:
  ExecProcess() = default;

  Protocol protocol_ = Protocol::kDirect;
  bool tty_ = false;
  bool stdin_closed_ = false;
  bool waited_ = false;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int pty_master_ = -1;
  int stdin_w_ = -1;
  int stdout_r_ = -1;
  int stderr_r_ = -1;
  int report_r_ = -1;   // kHelper: the helper's report
  int control_w_ = -1;  // kHelper: signal numbers to the helper
};

}  // namespace berth::runtime

#pragma once

// A client's attachment to the console of a running container.

#include <cstdint>

#include "absl/status/status.h"
#include "berth/runtime/stdio_endpoint.h"

namespace berth::runtime {

// What liblxc's console_getfd hands out (obtained in berth-lxc-helper, passed to the daemon over a
// socket): the master side of a proxy terminal that the container's monitor relays
// /dev/console through, and the monitor's command socket, whose being open keeps the console
// reserved for this client. Closing both (destruction) detaches: the monitor frees the console
// for the next client. The command socket reaches EOF when the monitor exits, i.e. when the
// container stops: that is exit_fd().
//
// The container never sees EOF from a console: CloseStdin does nothing. Threads: one owner at a
// time.
class ConsoleAttachment final : public StdioEndpoint {
 public:
  // Takes ownership of the fds and makes them non-blocking and close-on-exec. `monitor_pidfd`
  // (a pidfd of the container's liblxc monitor) may be -1: resizes then stop at the proxy.
  ConsoleAttachment(int terminal_fd, int command_fd, int monitor_pidfd);
  ~ConsoleAttachment() override;
  ConsoleAttachment(const ConsoleAttachment&) = delete;
  ConsoleAttachment& operator=(const ConsoleAttachment&) = delete;

  bool tty() const override { return true; }
  int stdin_fd() const override { return terminal_fd_; }
  int stdout_fd() const override { return terminal_fd_; }
  int stderr_fd() const override { return -1; }
  void CloseOutput(int) override {}
  void CloseStdin() override {}
  int exit_fd() const override { return command_fd_; }
  // Sets the proxy terminal's size and tells the monitor (SIGWINCH), which copies it to the
  // console, so the container's foreground process gets its SIGWINCH.
  absl::Status Resize(uint16_t rows, uint16_t cols) override;

 private:
  int terminal_fd_;
  int command_fd_;
  int monitor_pidfd_;
};

}  // namespace berth::runtime

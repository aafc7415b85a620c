#pragma once

// The local side of a byte stream berthd carries to a client (an exec'd process, a container's
// console): where the client's input goes, where output comes from, and when it has ended. The
// gRPC sessions pump any endpoint the same way (daemon/api/src/stdio_session.h).

#include <cstdint>

#include "absl/status/status.h"

namespace berth::runtime {

// Threads: one owner at a time; no internal locking. The fds are non-blocking and close-on-exec
// and stay owned by the endpoint.
class StdioEndpoint {
 public:
  virtual ~StdioEndpoint() = default;

  // A terminal: input and output are the same fd, and there is no separate stderr.
  virtual bool tty() const = 0;
  // Where input goes; -1 once closed.
  virtual int stdin_fd() const = 0;
  // Output (the terminal with tty()) and stderr (-1 with a tty, or once closed).
  virtual int stdout_fd() const = 0;
  virtual int stderr_fd() const = 0;
  // The output fd `fd` reached EOF: close it (nothing for a terminal, which closes with the end).
  virtual void CloseOutput(int fd) = 0;
  // No more input (a pipe is closed; a terminal gets its EOF character, if it has one).
  virtual void CloseStdin() = 0;
  // Readable (POLLIN) once the other side has ended (the process exited, the console is gone).
  virtual int exit_fd() const = 0;
  // Sets the terminal size. FAILED_PRECONDITION without a terminal.
  virtual absl::Status Resize(uint16_t rows, uint16_t cols) = 0;
};

}  // namespace berth::runtime

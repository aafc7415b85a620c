#pragma once

// The local terminal side of the streaming commands (exec -t, shell, console): raw mode, window
// size, signals turned into bytes on a pipe, and writes that finish.

#include <termios.h>

#include <string>
#include <string_view>

#include "berth/v1/exec.pb.h"

namespace berth::client {

// Puts the terminal on `fd` into raw mode for the object's life (nothing when it is no terminal).
class RawMode {
 public:
  explicit RawMode(int fd);
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

// Writes all of `data` to `fd` (retrying short writes and EINTR). False on an error.
bool WriteAll(int fd, std::string_view data);

// The size of the terminal on stdout (else stdin); 24x80 when neither is one.
void FillWindow(v1::WindowSize* window);

// Routes the given signals to a non-blocking pipe (one byte per signal, its number) for a poll
// loop, from construction on. One instance per process at a time.
class SignalPipe {
 public:
  explicit SignalPipe(std::initializer_list<int> signals);
  ~SignalPipe();
  SignalPipe(const SignalPipe&) = delete;
  SignalPipe& operator=(const SignalPipe&) = delete;

  bool ok() const { return read_fd_ >= 0; }
  int fd() const { return read_fd_; }
  // The signals that arrived since the last call, in order.
  std::string Take();

 private:
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace berth::client

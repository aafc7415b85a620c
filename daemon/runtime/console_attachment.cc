#include "berth/runtime/console_attachment.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace berth::runtime {
namespace {

void Prepare(int fd) {
  if (fd < 0) return;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

ConsoleAttachment::ConsoleAttachment(int terminal_fd, int command_fd, int monitor_pidfd)
    : terminal_fd_(terminal_fd), command_fd_(command_fd), monitor_pidfd_(monitor_pidfd) {
  Prepare(terminal_fd_);
  Prepare(command_fd_);
  if (monitor_pidfd_ >= 0) ::fcntl(monitor_pidfd_, F_SETFD, FD_CLOEXEC);
}

ConsoleAttachment::~ConsoleAttachment() {
  for (int fd : {terminal_fd_, command_fd_, monitor_pidfd_}) {
    if (fd >= 0) ::close(fd);
  }
}

absl::Status ConsoleAttachment::Resize(uint16_t rows, uint16_t cols) {
  winsize ws = {};
  ws.ws_row = rows;
  ws.ws_col = cols;
  if (::ioctl(terminal_fd_, TIOCSWINSZ, &ws) != 0) {
    return absl::InternalError(absl::StrCat("TIOCSWINSZ failed: ", ::strerrordesc_np(errno)));
  }
  // liblxc has no command for a console resize; its monitor copies the proxy's size to the
  // console when it gets SIGWINCH (and ignores SIGWINCH while nobody is attached). The pidfd
  // cannot reach another process that reused the monitor's pid.
  if (monitor_pidfd_ >= 0) {
    (void)::syscall(SYS_pidfd_send_signal, monitor_pidfd_, SIGWINCH, nullptr, 0);
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime

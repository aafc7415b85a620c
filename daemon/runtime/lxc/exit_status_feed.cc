#include "lxc/exit_status_feed.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::runtime::lxc {
namespace {

// liblxc's struct lxc_msg (src/lxc/monitor.h, not installed): {lxc_msg_type_t type;
// char name[NAME_MAX + 1]; int value;}. The enum is an int; lxc_msg_exit_code is its third value.
struct LxcMsg {
  int type;
  char name[NAME_MAX + 1];
  int value;
};
static_assert(sizeof(LxcMsg) == ExitStatusFeed::kMessageSize);
constexpr int kLxcMsgExitCode = 2;

// A message is written with one write(2) of less than PIPE_BUF bytes, so it arrives whole; a
// read returns whole messages as long as the buffer is a multiple of their size.
constexpr size_t kReadMessages = 16;

}  // namespace

std::string ExitStatusFeed::FifoPath(std::string_view run_dir, std::string_view lxc_path) {
  // liblxc formats "%s/lxc/%s/monitor-fifo" with the lxcpath as given (absolute, so "//").
  return absl::StrCat(std::string(run_dir), "/lxc/", std::string(lxc_path), "/monitor-fifo");
}

absl::StatusOr<std::unique_ptr<ExitStatusFeed>> ExitStatusFeed::Open(
    const std::string& fifo_path) {
  // The directories this makes, deepest first, are removed again (when empty) on destruction.
  std::vector<std::string> made;
  for (auto dir = std::filesystem::path(fifo_path).parent_path();
       dir.has_relative_path() && !lxc::PathExists(dir.string()); dir = dir.parent_path()) {
    made.push_back(dir.string());
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(fifo_path).parent_path(), ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("Cannot make the directory of \"", fifo_path, "\": ", ec.message()));
  }
  if (::mknod(fifo_path.c_str(), S_IFIFO | 0600, 0) != 0 && errno != EEXIST) {
    return ErrnoError(errno, absl::StrCat("Cannot make the FIFO \"", fifo_path, "\""));
  }
  UniqueFd fifo(::open(fifo_path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fifo.valid()) return ErrnoError(errno, absl::StrCat("Cannot open \"", fifo_path, "\""));
  struct stat st;
  if (::fstat(fifo.get(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return absl::InternalError(absl::StrCat("\"", fifo_path, "\" is not a FIFO"));
  }
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fifo.get(), F_SETLK, &lock) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Another reader (lxc-monitord or another berthd) holds \"", fifo_path, "\""));
  }
  UniqueFd event_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event_fd.valid()) return ErrnoError(errno, "eventfd failed");
  return std::unique_ptr<ExitStatusFeed>(
      new ExitStatusFeed(fifo_path, std::move(made), std::move(fifo), std::move(event_fd)));
}

ExitStatusFeed::ExitStatusFeed(std::string path, std::vector<std::string> made_dirs,
                               UniqueFd fifo, UniqueFd event_fd)
    : path_(std::move(path)),
      made_dirs_(std::move(made_dirs)),
      fifo_(std::move(fifo)), event_fd_(std::move(event_fd)), thread_([this] { Run(); }) {}

ExitStatusFeed::~ExitStatusFeed() {
  const uint64_t one = 1;
  while (::write(event_fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  if (thread_.joinable()) thread_.join();
  // Without a reader liblxc drops its messages either way (ENXIO for a FIFO nobody reads, ENOENT
  // for a missing one); removing it leaves nothing behind in /run. Only the lock holder gets here.
  ::unlink(path_.c_str());
  for (const std::string& dir : made_dirs_) {
    if (::rmdir(dir.c_str()) != 0) break;  // no longer empty: someone else uses it
  }
}

std::optional<std::pair<std::string, int>> ExitStatusFeed::Decode(std::string_view bytes) {
  if (bytes.size() != sizeof(LxcMsg)) return std::nullopt;
  LxcMsg msg;
  std::memcpy(&msg, bytes.data(), sizeof(msg));
  if (msg.type != kLxcMsgExitCode) return std::nullopt;
  const size_t len = ::strnlen(msg.name, sizeof(msg.name));
  if (len == 0 || len == sizeof(msg.name)) return std::nullopt;  // empty or not terminated
  return std::make_pair(std::string(msg.name, len), msg.value);
}

int ExitStatusFeed::ExitCodeFromWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGINT ? 0 : 128 + WTERMSIG(status);
  return 128;  // Neither: cannot come from a reaped process; "killed" without a signal number.
}

std::optional<int> ExitStatusFeed::Take(const std::string& name, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto arrived = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return codes_.contains(name); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout)) return std::nullopt;
  auto it = codes_.find(name);
  const int code = it->second;
  codes_.erase(it);
  return code;
}

void ExitStatusFeed::Forget(const std::string& name) {
  absl::MutexLock lock(&mu_);
  codes_.erase(name);
}

void ExitStatusFeed::Run() {
  char buf[kMessageSize * kReadMessages];
  size_t have = 0;  // bytes of a partial message kept from the last read (never expected)
  while (true) {
    pollfd fds[2] = {{fifo_.get(), POLLIN, 0}, {event_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const ssize_t n = ::read(fifo_.get(), buf + have, sizeof(buf) - have);
    if (n <= 0) continue;  // EAGAIN/EINTR; the fd is O_RDWR, so never EOF
    have += static_cast<size_t>(n);
    size_t used = 0;
    absl::MutexLock lock(&mu_);
    for (; have - used >= kMessageSize; used += kMessageSize) {
      auto decoded = Decode(std::string_view(buf + used, kMessageSize));
      if (decoded) codes_[decoded->first] = ExitCodeFromWaitStatus(decoded->second);
    }
    std::memmove(buf, buf + used, have - used);
    have -= used;
  }
}

}  // namespace berth::runtime::lxc

#include "lxc/exit_monitor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"

namespace berth::runtime::lxc {
namespace {

constexpr uint64_t kStopToken = 0;
constexpr int kMaxEvents = 32;

}  // namespace

absl::StatusOr<std::unique_ptr<ExitMonitor>> ExitMonitor::Create(Callback on_exit) {
  UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd.valid()) return ErrnoError(errno, "epoll_create1 failed");
  UniqueFd event_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event_fd.valid()) return ErrnoError(errno, "eventfd failed");
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = kStopToken;
  if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, event_fd.get(), &ev) != 0) {
    return ErrnoError(errno, "epoll_ctl(eventfd) failed");
  }
  return std::unique_ptr<ExitMonitor>(
      new ExitMonitor(std::move(on_exit), std::move(epoll_fd), std::move(event_fd)));
}

ExitMonitor::ExitMonitor(Callback on_exit, UniqueFd epoll_fd, UniqueFd event_fd)
    : on_exit_(std::move(on_exit)),
      epoll_fd_(std::move(epoll_fd)),
      event_fd_(std::move(event_fd)),
      thread_([this] { Run(); }) {}

ExitMonitor::~ExitMonitor() { Stop(); }

void ExitMonitor::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  while (::write(event_fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
}

absl::Status ExitMonitor::Watch(const std::string& name, UniqueFd pidfd) {
  absl::MutexLock lock(&mu_);
  RemoveLocked(name);
  const uint64_t token = next_token_++;
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.u64 = token;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, pidfd.get(), &ev) != 0) {
    return ErrnoError(errno, absl::StrCat("Cannot watch the init of \"", name, "\""));
  }
  by_token_.emplace(token, name);
  by_name_.emplace(name, Entry{token, std::move(pidfd)});
  return absl::OkStatus();
}

void ExitMonitor::Forget(const std::string& name) {
  absl::MutexLock lock(&mu_);
  RemoveLocked(name);
}

bool ExitMonitor::IsWatched(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  return by_name_.contains(name);
}

void ExitMonitor::RemoveLocked(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second.pidfd.get(), nullptr);
  by_token_.erase(it->second.token);
  by_name_.erase(it);
}

void ExitMonitor::Run() {
  epoll_event events[kMaxEvents];
  while (true) {
    const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF/EINVAL: cannot happen while we own the fds
    }
    std::vector<std::string> exited;
    {
      absl::MutexLock lock(&mu_);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kStopToken) return;
        auto it = by_token_.find(events[i].data.u64);
        if (it == by_token_.end()) continue;  // forgotten or replaced meanwhile
        std::string name = it->second;
        RemoveLocked(name);
        exited.push_back(std::move(name));
      }
    }
    for (const std::string& name : exited) on_exit_(name);
  }
}

}  // namespace berth::runtime::lxc

#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lxc/fs_util.h"

namespace berth::runtime::lxc {

// Watches container init processes through pidfds and reports each exit once.
//
// Threading: one thread of its own blocks in epoll_wait on every watched pidfd plus an eventfd
// used to stop it; nothing polls on a timer. A pidfd becomes readable when its process exits,
// whoever's child it is, so exits are learned whatever caused them. Watch and Forget may be
// called from any thread; they only touch the map and the epoll set under `mu_`. The callback
// runs on the monitor thread, outside the lock, after the watch was removed, so it may call
// Watch/Forget. Exits are reported one at a time, in the order epoll returns them.
//
// Each watch gets a fresh token (never reused) as its epoll data, so an event that raced with a
// Forget, or with a Watch replacing the same name, finds no entry and is dropped.
class ExitMonitor {
 public:
  using Callback = std::function<void(const std::string& name)>;

  // Starts the monitor thread. INTERNAL when epoll or eventfd cannot be created.
  static absl::StatusOr<std::unique_ptr<ExitMonitor>> Create(Callback on_exit);

  // Stop(), then releases the watches.
  ~ExitMonitor();

  // Stops and joins the thread, waiting for a callback in progress; exits not yet reported are
  // dropped. Idempotent. Watch/Forget keep working afterwards (nothing reports). Must not be
  // called from the callback.
  void Stop();

  ExitMonitor(const ExitMonitor&) = delete;
  ExitMonitor& operator=(const ExitMonitor&) = delete;

  // Watches `pidfd` (taking ownership) for `name`, replacing an earlier watch of that name.
  absl::Status Watch(const std::string& name, UniqueFd pidfd);

  // Stops watching `name`; no callback for it will start after this returns (one already
  // running may still finish).
  void Forget(const std::string& name);

  bool IsWatched(const std::string& name) const;

 private:
  struct Entry {
    uint64_t token;
    UniqueFd pidfd;
  };

  ExitMonitor(Callback on_exit, UniqueFd epoll_fd, UniqueFd event_fd);
  void Run();
  void RemoveLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Callback on_exit_;
  const UniqueFd epoll_fd_;
  const UniqueFd event_fd_;  // written once by the destructor to stop the thread

  mutable absl::Mutex mu_;
  // Guarded by mu_: the watched containers, and token -> name for the events.
  absl::flat_hash_map<std::string, Entry> by_name_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, std::string> by_token_ ABSL_GUARDED_BY(mu_);
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;  // 0 is the eventfd's token

  absl::Mutex stop_mu_;  // serializes Stop() calls
  std::thread thread_;   // last: starts after everything above is initialized
};

}  // namespace berth::runtime::lxc

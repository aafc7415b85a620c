#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lxc/fs_util.h"

namespace berth::runtime::lxc {

// Learns the exit status of container inits, which berthd cannot wait for (the init is the child
// of liblxc's monitor process, not of berthd).
//
// liblxc's monitor process reaps the init and writes its wait status as a `struct lxc_msg`
// (type lxc_msg_exit_code) to the lxcpath's monitor FIFO, <rundir>/lxc/<lxcpath>/monitor-fifo
// (rundir is /run for root), before it reports the container STOPPED. It opens the FIFO with
// O_NONBLOCK only to find out whether a reader exists (no reader: ENXIO, message dropped), then
// writes blocking: a reader must keep draining it, or container monitors would block on a full
// pipe. So the feed makes the FIFO when missing, holds it open O_RDWR (it is then never
// "readerless" and a write never fails) and reads it on a thread of its own. It also takes the
// write lock lxc-monitord takes, so no lxc-monitord splits the messages with it; `lxc-monitor`
// on berth's lxcpath therefore does not work while berthd runs.
//
// Threading: one thread blocks in poll(2) on the FIFO and an eventfd (to stop it); Take and
// Forget may be called from any thread. `mu_` guards the recorded statuses.
class ExitStatusFeed {
 public:
  // liblxc's FIFO path for `lxc_path` under `run_dir` ("/run" for root).
  static std::string FifoPath(std::string_view run_dir, std::string_view lxc_path);

  // Makes the FIFO (and its directory) when missing, opens it and starts the reader thread.
  // INTERNAL when the FIFO cannot be made or opened; FAILED_PRECONDITION when another reader
  // (lxc-monitord, another berthd) holds its lock.
  static absl::StatusOr<std::unique_ptr<ExitStatusFeed>> Open(const std::string& fifo_path);

  // Stops and joins the thread, removes the FIFO and the (empty) directories Open made for it.
  ~ExitStatusFeed();
  ExitStatusFeed(const ExitStatusFeed&) = delete;
  ExitStatusFeed& operator=(const ExitStatusFeed&) = delete;

  // The exit code of the last init of `name` that exited (see ExitCodeFromWaitStatus), waiting up
  // to `timeout` for it to arrive; the record is consumed. Empty when none arrived.
  std::optional<int> Take(const std::string& name, absl::Duration timeout);

  // Drops what is recorded for `name` (before a start, so a stale status of an earlier run, e.g.
  // one berth stopped itself, is never taken for the new init's).
  void Forget(const std::string& name);

  // Parses one message: {name, wait status} for an lxc_msg_exit_code message, empty for the
  // other types (state, priority) or a malformed one. `bytes` must be one whole message.
  static std::optional<std::pair<std::string, int>> Decode(std::string_view bytes);
  static constexpr size_t kMessageSize = 264;  // sizeof(struct lxc_msg) with NAME_MAX 255

  // A wait status as an exit code: the exit status, or 128+N for a signal N, as shells do. One
  // exception: an init that called reboot(2) to power off or halt is killed by the kernel with
  // SIGINT (pid_namespaces(7)); that is a clean shutdown from inside, so it counts as 0.
  static int ExitCodeFromWaitStatus(int status);

 private:
  ExitStatusFeed(std::string path, std::vector<std::string> made_dirs, UniqueFd fifo,
                 UniqueFd event_fd);
  void Run();

  const std::string path_;
  const std::vector<std::string> made_dirs_;  // deepest first
  const UniqueFd fifo_;
  const UniqueFd event_fd_;  // written by the destructor to stop the thread

  absl::Mutex mu_;
  std::map<std::string, int> codes_ ABSL_GUARDED_BY(mu_);  // name -> exit code, not yet taken

  std::thread thread_;  // last: starts after everything above is initialized
};

}  // namespace berth::runtime::lxc

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/core/supervision_config.h"
#include "berth/core/timer.h"
#include "berth/storage/container_store.h"

namespace berth::core {

struct SupervisorOptions {
  // Where the kernel tells this boot's id, and where berthd records the boot it autostarted in.
  std::string boot_id_path = "/proc/sys/kernel/random/boot_id";
  std::string recorded_boot_id_path;  // e.g. STATE_DIR/boot_id; empty: never autostart
  absl::Duration first_backoff = absl::Seconds(1);  // Doubles per restart in a row...
  absl::Duration max_backoff = absl::Seconds(60);   // ...up to this.
  absl::Duration reset_after = absl::Minutes(10);   // Up this long: the count starts again.
};

// Applies the supervision config of containers (supervision_config.h): restart policy with
// backoff, autostart once per host boot, and the ordered stop at host shutdown.
//
// Restart policy. An exit is the kExited event the ContainerManager publishes when an init exits
// on its own (or is killed from outside berth); a stop asked through berth is kStopped and never
// restarts. For `on-failure` only a non-zero (or unknown) exit code counts. The n-th restart in a
// row waits first_backoff * 2^(n-1), at most max_backoff, and is announced by kRestarting;
// when restart.max restarts in a row did not help, kRestartGivenUp and the container stays
// stopped. A container that stayed up reset_after starts counting again, and so does one the
// user starts. A stop, start, rename or delete meanwhile cancels a pending restart. The count is
// in memory only: a berthd restart forgets it, and restarts nothing by itself.
//
// Threading: the event-bus handler only updates `mu_`-guarded bookkeeping and posts work to the
// executor (it must not block or publish); policy decisions (a store read) and restarts (the
// manager's Start) run on the executor; backoff and autostart delays are Timer tasks that post to
// the executor. No thread ever waits for a delay, so nothing here blocks the exit monitor or the
// API. StopAll blocks its caller (the main thread at host shutdown). The executor must queue
// tasks (not run them inline): an exit handled on the publishing thread would publish from
// inside an event handler.
class Supervisor {
 public:
  Supervisor(ContainerManager* manager, storage::ContainerStore* store, EventBus* events,
             Executor* executor, Timer* timer, Clock* clock, SupervisorOptions options);
  ~Supervisor();  // Quiesce(), then unsubscribes.
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the boot.autostart containers that are stopped, higher boot.autostart.priority first
  // (then by name), waiting boot.autostart.delay after each one that started; returns at once.
  // Only once per host boot: when the boot id equals the recorded one nothing starts; the id is
  // recorded once every autostart container was tried. `done` (optional) runs when finished.
  void Autostart(Task done = nullptr);

  // Host shutdown: stops restarting and autostarting, then stops every running container, lower
  // priority first, each within its boot.stop.timeout (then killed); containers of one priority
  // are stopped together. Blocks until all are stopped; returns how many it stopped.
  int StopAll();

  // Stops restarting and autostarting (berthd is exiting): cancels pending restarts. Idempotent.
  void Quiesce();

  // Restarts pending (scheduled, not yet begun), for tests and logs.
  size_t PendingRestarts();

 private:
  struct Track {
    int restarts = 0;                      // restarts in a row (reset after reset_after)
    absl::Time last_start = absl::InfinitePast();
    uint64_t timer = 0;                    // pending restart, 0 when none
    uint64_t generation = 0;               // which scheduled restart is current
    bool user_stopped = false;             // last state change was a stop through berth
    bool restarting = false;               // our own Start is running (its kStarted is ours)
  };

  void OnEvent(const Event& event);
  void CancelLocked(Track& track) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleExit(const std::string& name, std::optional<int> exit_code);
  // Counts a failed run (exit or failed restart) and schedules the next restart or gives up.
  void Schedule(const std::string& name, const SupervisionSettings& settings,
                const std::string& why);
  void RestartNow(const std::string& name, uint64_t generation);
  void AutostartStep(std::vector<std::string> names, size_t index, Task done);
  void FinishAutostart(Task done);
  void Post(Task task);

  ContainerManager* const manager_;
  storage::ContainerStore* const store_;
  EventBus* const events_;
  Executor* const executor_;
  Timer* const timer_;
  Clock* const clock_;
  const SupervisorOptions options_;
  uint64_t subscription_ = 0;
  std::string boot_id_;  // Written by Autostart's first step only.

  absl::Mutex mu_;
  std::map<std::string, Track> tracks_ ABSL_GUARDED_BY(mu_);
  bool quiesced_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t autostart_timer_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace berth::core

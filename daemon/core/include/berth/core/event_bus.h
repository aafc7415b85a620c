#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/clock.h"
#include "berth/runtime/runtime_driver.h"

namespace berth::core {

enum class EventType {
  kCreated,
  kStarted,
  kStopped,  // Stopped by berth.
  kExited,   // The container's init exited on its own or was stopped from outside berth.
  kFrozen,
  kUnfrozen,
  kRenamed,  // `container` is the new name, `detail` the old one.
  kDeleted,
  kConfigChanged,     // The stored config changed; `detail` names the keys.
  kRestarting,        // The restart policy is restarting the container; `detail` says why.
  kRestartGivenUp,    // restart.max reached: the container stays stopped; `detail` says why.
  kOperation,         // A step of a long operation (create, stop, delete); `detail` names it.
  kDaemonStarted,     // berthd is up (no container).
  kDaemonReconciled,  // berthd has reconciled the store with the runtime (no container).
};

struct Event {
  uint64_t id = 0;  // Increases by one per published event, from 1.
  absl::Time time;
  EventType type = EventType::kCreated;
  std::string container;
  // The live state the container is in after the event, when it has one (not for kDeleted).
  std::optional<runtime::LiveState> state;
  std::string detail;
  // kExited: the init's exit code (128+N for a signal) when the runtime reported one.
  std::optional<int> exit_code;
};

// In-process publish/subscribe of container events.
//
// Publish may be called from any thread. Events are numbered and delivered one at a time, so
// every subscriber sees them in id order. Handlers run on the publishing thread, outside the lock
// that guards subscriptions: they may subscribe or unsubscribe (one unsubscribed during a publish
// may still see that event), but must be quick, must not block (post real work to an executor)
// and must not publish.
class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;

  explicit EventBus(Clock* clock) : clock_(clock) {}

  uint64_t Subscribe(Handler handler);
  void Unsubscribe(uint64_t subscription);
  // Fills in id and time, then delivers. Returns the event as delivered.
  Event Publish(Event event);

 private:
  Clock* const clock_;
  absl::Mutex deliver_mu_;  // Serializes Publish: numbering and delivery of one event at a time.
  absl::Mutex mu_;
  uint64_t next_event_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_subscription_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<Handler>> handlers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::core

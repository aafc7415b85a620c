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
#include "berth/storage/event_log.h"

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

// How much of the durable event log to keep (berthd.conf: events_keep, events_max_age_days).
struct EventRetention {
  int64_t keep_count = 10000;
  absl::Duration max_age = absl::Hours(24 * 7);
  // The log is pruned when it is opened and then after every this many appends.
  int64_t prune_every = 500;
};

// The event as the log stores it, and back (storage knows nothing of the core's enums).
storage::StoredEvent ToStored(const Event& event);
Event FromStored(const storage::StoredEvent& stored);

// In-process publish/subscribe of container events, optionally backed by a durable log.
//
// Publish may be called from any thread. Events are numbered and delivered one at a time, so
// every subscriber sees them in id order. Handlers run on the publishing thread, outside the lock
// that guards subscriptions: they may subscribe or unsubscribe (one unsubscribed during a publish
// may still see that event), but must be quick, must not block (post real work to an executor)
// and must not publish.
//
// With a log, Publish appends the event to it before any handler sees it, so that whatever a
// subscriber receives can also be replayed from the log (EventFeed relies on this for a seamless
// switch from replay to live events). A failed append is logged and the event is still delivered
// (it is then missing from replays). Publish therefore blocks for one log write: publishers are
// executor threads and the driver's exit thread, never gRPC reactors.
class EventBus {
 public:
  using Handler = std::function<void(const Event&)>;

  explicit EventBus(Clock* clock, storage::EventLog* log = nullptr, EventRetention retention = {})
      : clock_(clock), log_(log), retention_(retention) {}

  // With a log: continues numbering after the log's last id and prunes it. Call once, before the
  // first Publish. Fails (INTERNAL...) when the log cannot be read; without a log, does nothing.
  absl::Status OpenLog();

  uint64_t Subscribe(Handler handler);
  void Unsubscribe(uint64_t subscription);
  // Fills in id and time, appends to the log, then delivers. Returns the event as delivered.
  Event Publish(Event event);

  // The log given to the constructor (may be null). Its events all have ids below the next
  // Publish's.
  storage::EventLog* log() const { return log_; }

 private:
  Clock* const clock_;
  storage::EventLog* const log_;
  const EventRetention retention_;
  absl::Mutex deliver_mu_;  // Serializes Publish: numbering, logging, delivery of one at a time.
  int64_t appends_since_prune_ ABSL_GUARDED_BY(deliver_mu_) = 0;
  absl::Mutex mu_;
  uint64_t next_event_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_subscription_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<Handler>> handlers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::core

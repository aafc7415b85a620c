#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/core/event_bus.h"

namespace berth::core {

// Which events a subscriber wants. Empty sets mean "all".
struct EventFilter {
  std::set<EventType> types;
  std::set<std::string> containers;  // Daemon events (no container) pass only an empty set.

  bool Matches(const Event& event) const;
};

// One subscriber's view of the event stream, for the Events API: the stored events after `since`
// (replayed from the bus's log), then live ones, with no gap and no duplicate at the seam, and a
// bounded backlog.
//
// How the seam works: the feed subscribes to the bus first and buffers live events, then replays
// the log from `since` page by page. The bus logs an event before delivering it, so every live
// event is also in the log by the time it is buffered; once the log has nothing after the replay's
// cursor, the buffered live events with ids up to the cursor are dropped as already replayed and
// the rest follow. An event the log failed to store comes from the buffer.
//
// Backlog: when more than `max_backlog` matching live events wait (the subscriber reads too
// slowly, or the replay is too long to catch up), the feed is cut off: Next() returns
// RESOURCE_EXHAUSTED naming the `since` to resubscribe with (the id of the last event it handed
// out), and the feed buffers nothing more. Memory per feed is thus bounded by max_backlog events
// plus one log page.
//
// Threading: Next() may block on one log read (a page of kReplayPage events): call it from an
// executor thread, one call at a time. `notify` runs on a publishing thread (inside EventBus
// handlers) or on the thread calling Close(): it must be quick and not block.
class EventFeed {
 public:
  static constexpr size_t kDefaultMaxBacklog = 1024;
  static constexpr size_t kReplayPage = 256;

  // Subscribes to `bus` at once. `since`: nullopt for live events only; N to first replay every
  // stored event with id > N (0: everything the log still holds). `notify` is called once after
  // Next() returned nullopt, as soon as Next() has something to return (an event or the cutoff).
  EventFeed(EventBus* bus, EventFilter filter, std::optional<uint64_t> since,
            absl::AnyInvocable<void()> notify, size_t max_backlog = kDefaultMaxBacklog);
  ~EventFeed();  // Close()s.
  EventFeed(const EventFeed&) = delete;
  EventFeed& operator=(const EventFeed&) = delete;

  // The next event for this subscriber, nullopt when there is none yet (then `notify` follows),
  // RESOURCE_EXHAUSTED once cut off (and on every call after), INTERNAL when the log cannot be
  // read (naming the `since` to retry with).
  absl::StatusOr<std::optional<Event>> Next();

  // Unsubscribes. After it returns, `notify` is not running and will not run again.
  void Close();

 private:
  // Shared with the bus handler, which may run once more after Unsubscribe.
  struct Live {
    absl::Mutex mu;
    std::deque<Event> queue ABSL_GUARDED_BY(mu);  // Matching live events not yet handed out.
    bool cut_off ABSL_GUARDED_BY(mu) = false;
    bool waiting ABSL_GUARDED_BY(mu) = false;  // Next() returned nullopt; notify on arrival.
    absl::AnyInvocable<void()> notify ABSL_GUARDED_BY(mu);
    // What to resubscribe with after a cutoff: the last id handed out (or `since`, or the id
    // before the first live event, while nothing was). Empty until known.
    std::optional<uint64_t> resume_since ABSL_GUARDED_BY(mu);
  };

  // The next matching stored event after cursor_, nullopt once the log has no more.
  absl::StatusOr<std::optional<Event>> NextReplayed();
  absl::Status CutOffStatus() ABSL_EXCLUSIVE_LOCKS_REQUIRED(live_->mu);
  void HandedOut(uint64_t id);

  EventBus* const bus_;
  const EventFilter filter_;
  const size_t max_backlog_;
  const std::shared_ptr<Live> live_;
  uint64_t subscription_ = 0;
  // Replay state, used only by Next() (one call at a time).
  bool replaying_ = false;
  uint64_t cursor_ = 0;                 // The last id replayed (also non-matching ones).
  std::deque<Event> page_;  // Matching events of the page being replayed.
  bool log_exhausted_ = false;
};

}  // namespace berth::core

#include "berth/core/event_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace berth::core {

bool EventFilter::Matches(const Event& event) const {
  if (!types.empty() && !types.contains(event.type)) return false;
  if (!containers.empty() && !containers.contains(event.container)) return false;
  return true;
}

EventFeed::EventFeed(EventBus* bus, EventFilter filter, std::optional<uint64_t> since,
                     absl::AnyInvocable<void()> notify, size_t max_backlog)
    : bus_(bus),
      filter_(std::move(filter)),
      max_backlog_(max_backlog),
      live_(std::make_shared<Live>()) {
  {
    absl::MutexLock lock(&live_->mu);
    live_->notify = std::move(notify);
    live_->resume_since = since;
  }
  if (since.has_value() && bus_->log() != nullptr) {
    replaying_ = true;
    cursor_ = *since;
  }
  // Subscribed before the replay reads the log: whatever is published from now on is buffered,
  // whatever was published before is in the log.
  subscription_ = bus_->Subscribe([live = live_, filter = filter_, max = max_backlog_](
                                      const Event& event) {
    if (!filter.Matches(event)) return;
    absl::AnyInvocable<void()>* to_notify = nullptr;
    absl::MutexLock lock(&live->mu);
    if (live->cut_off) return;
    if (!live->resume_since.has_value()) live->resume_since = event.id - 1;
    if (live->queue.size() >= max) {
      // Bounded memory: the subscriber is too far behind to be kept up to date.
      live->cut_off = true;
      live->queue.clear();
    } else {
      live->queue.push_back(event);
    }
    if (live->waiting && live->notify) {
      live->waiting = false;
      to_notify = &live->notify;
    }
    // Called under the lock so that Close() can promise no notify runs after it returns; notify
    // only posts work, so holding the lock is cheap.
    if (to_notify != nullptr) (*to_notify)();
  });
}

EventFeed::~EventFeed() { Close(); }

void EventFeed::Close() {
  if (subscription_ != 0) {
    bus_->Unsubscribe(subscription_);
    subscription_ = 0;
  }
  absl::MutexLock lock(&live_->mu);
  live_->notify = nullptr;
  live_->queue.clear();
}

absl::Status EventFeed::CutOffStatus() {
  return absl::ResourceExhaustedError(absl::StrCat(
      "this subscriber fell more than ", max_backlog_,
      " events behind and was cut off; subscribe again with since=",
      live_->resume_since.value_or(0), " to resume without losing events"));
}

void EventFeed::HandedOut(uint64_t id) {
  absl::MutexLock lock(&live_->mu);
  live_->resume_since = id;
  // Live events the replay has now handed out are duplicates: dropping them as the replay goes
  // (not only at the hand-over) keeps a subscriber that keeps up with a busy log under the
  // backlog limit while it replays.
  while (!live_->queue.empty() && live_->queue.front().id <= id) live_->queue.pop_front();
}

absl::StatusOr<std::optional<Event>> EventFeed::NextReplayed() {
  while (page_.empty() && !log_exhausted_) {
    absl::StatusOr<std::vector<storage::StoredEvent>> stored =
        bus_->log()->ReadAfter(static_cast<int64_t>(cursor_), kReplayPage);
    if (!stored.ok()) {
      return absl::Status(stored.status().code(),
                          absl::StrCat("cannot read the event log after id ", cursor_, ": ",
                                       stored.status().message(), "; retry with since=",
                                       cursor_));
    }
    if (stored->size() < kReplayPage) log_exhausted_ = true;
    for (const storage::StoredEvent& s : *stored) {
      Event event = FromStored(s);
      cursor_ = event.id;
      if (filter_.Matches(event)) page_.push_back(std::move(event));
    }
  }
  if (page_.empty()) return std::nullopt;
  Event event = std::move(page_.front());
  page_.pop_front();
  return event;
}

absl::StatusOr<std::optional<Event>> EventFeed::Next() {
  {
    absl::MutexLock lock(&live_->mu);
    if (live_->cut_off) return CutOffStatus();
  }
  if (replaying_) {
    absl::StatusOr<std::optional<Event>> replayed = NextReplayed();
    if (!replayed.ok()) return replayed.status();
    if (replayed->has_value()) {
      HandedOut((*replayed)->id);
      return replayed;
    }
    // The log has nothing after cursor_: from here on, live events, minus those replayed.
    replaying_ = false;
  }
  absl::MutexLock lock(&live_->mu);
  if (live_->cut_off) return CutOffStatus();
  while (!live_->queue.empty() && live_->queue.front().id <= cursor_) live_->queue.pop_front();
  if (live_->queue.empty()) {
    live_->waiting = true;
    return std::nullopt;
  }
  Event event = std::move(live_->queue.front());
  live_->queue.pop_front();
  live_->resume_since = event.id;
  return event;
}

}  // namespace berth::core

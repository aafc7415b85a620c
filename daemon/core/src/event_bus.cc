#include "berth/core/event_bus.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "berth/core/logging.h"

namespace berth::core {
namespace {

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("events"); }

}  // namespace

storage::StoredEvent ToStored(const Event& event) {
  storage::StoredEvent stored;
  stored.id = static_cast<int64_t>(event.id);
  stored.time = event.time;
  stored.type = static_cast<int>(event.type);
  stored.container = event.container;
  if (event.state.has_value()) stored.state = static_cast<int>(*event.state);
  stored.detail = event.detail;
  stored.exit_code = event.exit_code;
  return stored;
}

Event FromStored(const storage::StoredEvent& stored) {
  Event event;
  event.id = static_cast<uint64_t>(stored.id);
  event.time = stored.time;
  event.type = static_cast<EventType>(stored.type);
  event.container = stored.container;
  if (stored.state.has_value()) event.state = static_cast<runtime::LiveState>(*stored.state);
  event.detail = stored.detail;
  event.exit_code = stored.exit_code;
  return event;
}

absl::Status EventBus::OpenLog() {
  if (log_ == nullptr) return absl::OkStatus();
  absl::MutexLock in_order(&deliver_mu_);
  absl::StatusOr<int64_t> last_id = log_->LastId();
  if (!last_id.ok()) {
    return absl::Status(last_id.status().code(),
                        absl::StrCat("reading the event log: ", last_id.status().message()));
  }
  {
    absl::MutexLock lock(&mu_);
    next_event_id_ = static_cast<uint64_t>(*last_id) + 1;
  }
  absl::StatusOr<int64_t> pruned =
      log_->Prune(retention_.keep_count, retention_.max_age, clock_->Now());
  if (!pruned.ok()) {
    return absl::Status(pruned.status().code(),
                        absl::StrCat("pruning the event log: ", pruned.status().message()));
  }
  if (*pruned > 0) Log()->info("Pruned {} old events from the event log", *pruned);
  return absl::OkStatus();
}

uint64_t EventBus::Subscribe(Handler handler) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_subscription_++;
  handlers_.emplace(id, std::make_shared<Handler>(std::move(handler)));
  return id;
}

void EventBus::Unsubscribe(uint64_t subscription) {
  absl::MutexLock lock(&mu_);
  handlers_.erase(subscription);
}

Event EventBus::Publish(Event event) {
  // Held from numbering to the last handler, so every subscriber sees events in id order and the
  // log holds them in that order too.
  absl::MutexLock in_order(&deliver_mu_);
  std::vector<std::shared_ptr<Handler>> handlers;
  {
    absl::MutexLock lock(&mu_);
    event.id = next_event_id_++;
    event.time = clock_->Now();
    handlers.reserve(handlers_.size());
    for (const auto& [id, handler] : handlers_) handlers.push_back(handler);
  }
  if (log_ != nullptr) {
    if (absl::Status status = log_->Append(ToStored(event)); !status.ok()) {
      Log()->error("Cannot store event {} in the event log (it is delivered but cannot be "
                   "replayed): {}",
                   event.id, std::string(status.message()));
    }
    if (++appends_since_prune_ >= retention_.prune_every) {
      appends_since_prune_ = 0;
      absl::StatusOr<int64_t> pruned =
          log_->Prune(retention_.keep_count, retention_.max_age, event.time);
      if (!pruned.ok()) {
        Log()->warn("Cannot prune the event log: {}", std::string(pruned.status().message()));
      }
    }
  }
  for (const auto& handler : handlers) (*handler)(event);
  return event;
}

}  // namespace berth::core

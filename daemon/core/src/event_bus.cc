#include "berth/core/event_bus.h"

#include <utility>
#include <vector>

namespace berth::core {

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
  // Held from numbering to the last handler, so every subscriber sees events in id order.
  absl::MutexLock in_order(&deliver_mu_);
  std::vector<std::shared_ptr<Handler>> handlers;
  {
    absl::MutexLock lock(&mu_);
    event.id = next_event_id_++;
    event.time = clock_->Now();
    handlers.reserve(handlers_.size());
    for (const auto& [id, handler] : handlers_) handlers.push_back(handler);
  }
  for (const auto& handler : handlers) (*handler)(event);
  return event;
}

}  // namespace berth::core

#include "berth/core/keyed_mutex.h"

#include <algorithm>

namespace berth::core {

KeyedMutex::Guard::~Guard() {
  if (owner_ != nullptr) owner_->Unlock(keys_);
}

KeyedMutex::Guard KeyedMutex::LockAll(std::vector<std::string> keys) {
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const auto& key : keys) {
    Entry* entry;
    {
      absl::MutexLock lock(&mu_);
      auto& slot = entries_[key];
      if (!slot) slot = std::make_unique<Entry>();
      entry = slot.get();
      ++entry->users;
    }
    entry->mu.Lock();
  }
  return Guard(this, std::move(keys));
}

void KeyedMutex::Unlock(const std::vector<std::string>& keys) {
  absl::MutexLock lock(&mu_);
  for (const auto& key : keys) {
    auto it = entries_.find(key);
    it->second->mu.Unlock();
    if (--it->second->users == 0) entries_.erase(it);
  }
}

}  // namespace berth::core

#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace berth::core {

// One lock per key (container name), created on first use and freed when nobody holds or waits for
// it. This is how operations on one container are serialized while different containers proceed in
// parallel: liblxc does not protect a container between API calls, this lock does.
class KeyedMutex {
 public:
  // Holds the locks of one or more keys until destroyed. Move-only.
  class Guard {
   public:
    Guard(Guard&& other) noexcept : owner_(other.owner_), keys_(std::move(other.keys_)) {
      other.owner_ = nullptr;
    }
    Guard& operator=(Guard&&) = delete;
    Guard(const Guard&) = delete;
    ~Guard();

   private:
    friend class KeyedMutex;
    Guard(KeyedMutex* owner, std::vector<std::string> keys) : owner_(owner), keys_(std::move(keys)) {}
    KeyedMutex* owner_;
    std::vector<std::string> keys_;
  };

  // Blocks until every key's lock is held. Keys are taken in sorted order, so two callers locking
  // overlapping sets cannot deadlock. Duplicate keys are taken once.
  Guard LockAll(std::vector<std::string> keys);
  Guard Lock(std::string key) { return LockAll({std::move(key)}); }

 private:
  struct Entry {
    absl::Mutex mu;
    int users = 0;  // Holders plus waiters; guarded by KeyedMutex::mu_.
  };
  void Unlock(const std::vector<std::string>& keys);

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::core

#pragma once

// RAII owners for what liblxc hands out. Included only by the LXC driver and the helper.

#include <lxc/lxccontainer.h>

#include <cstdlib>
#include <utility>

namespace berth::runtime::lxc {

// Move-only owner of one lxc_container reference; lxc_container_put on destruction.
class LxcHandle {
 public:
  LxcHandle() = default;
  explicit LxcHandle(lxc_container* container) : container_(container) {}
  LxcHandle(LxcHandle&& other) noexcept : container_(std::exchange(other.container_, nullptr)) {}
  LxcHandle& operator=(LxcHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      container_ = std::exchange(other.container_, nullptr);
    }
    return *this;
  }
  LxcHandle(const LxcHandle&) = delete;
  LxcHandle& operator=(const LxcHandle&) = delete;
  ~LxcHandle() { Reset(); }

  lxc_container* get() const { return container_; }
  lxc_container* operator->() const { return container_; }
  explicit operator bool() const { return container_ != nullptr; }

 private:
  void Reset() {
    if (container_ != nullptr) lxc_container_put(container_);
    container_ = nullptr;
  }

  lxc_container* container_ = nullptr;
};

// Owner of the name array list_*_containers returns: each name and the array are malloc'd.
class LxcNameList {
 public:
  LxcNameList() = default;
  LxcNameList(char** names, int count) : names_(names), count_(count < 0 ? 0 : count) {}
  LxcNameList(LxcNameList&& other) noexcept
      : names_(std::exchange(other.names_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  LxcNameList& operator=(LxcNameList&& other) noexcept {
    if (this != &other) {
      Reset();
      names_ = std::exchange(other.names_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }
  LxcNameList(const LxcNameList&) = delete;
  LxcNameList& operator=(const LxcNameList&) = delete;
  ~LxcNameList() { Reset(); }

  int size() const { return count_; }
  const char* operator[](int i) const { return names_[i]; }

 private:
  void Reset() {
    if (names_ != nullptr) {
      for (int i = 0; i < count_; ++i) std::free(names_[i]);
      std::free(names_);
    }
    names_ = nullptr;
    count_ = 0;
  }

  char** names_ = nullptr;
  int count_ = 0;
};

}  // namespace berth::runtime::lxc

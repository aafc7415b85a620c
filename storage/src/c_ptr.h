#pragma once

#include <memory>

namespace berth::storage {

// Calls a C library's release function (sqlite3_finalize, sqlite3_close_v2...) on a non-null
// handle. The release function's return value, if any, is dropped: callers that must see a
// failure release explicitly before the pointer goes.
template <typename T, auto kRelease>
struct CRelease {
  void operator()(T* handle) const noexcept {
    if (handle != nullptr) static_cast<void>(kRelease(handle));
  }
};

// The one owning-pointer idiom for C handles in storage/: `CPtr<sqlite3_stmt, sqlite3_finalize>`.
template <typename T, auto kRelease>
using CPtr = std::unique_ptr<T, CRelease<T, kRelease>>;

}  // namespace berth::storage

#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace berth::storage {

// Debian's absl 20220623 is built with ABSL_OPTION_USE_STD_STRING_VIEW=0: absl::string_view is its
// own type, which absl::StrCat, absl::Status::message() and absl containers use, while our
// interfaces take std::string_view. Neither converts to the other implicitly; these do.
inline absl::string_view ToAbsl(std::string_view view) { return {view.data(), view.size()}; }
inline std::string_view ToStd(absl::string_view view) { return {view.data(), view.size()}; }

}  // namespace berth::storage

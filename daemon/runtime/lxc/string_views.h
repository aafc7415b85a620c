#pragma once

// Debian's absl 20220623 is built with ABSL_OPTION_USE_STD_STRING_VIEW=0, so absl::string_view is
// a type of its own. The runtime's interfaces use std::string_view; these convert at the edges
// where absl string functions are called.

#include <string_view>

#include "absl/strings/string_view.h"

namespace berth::runtime::lxc {

inline absl::string_view ToAbsl(std::string_view view) { return {view.data(), view.size()}; }
inline std::string_view ToStd(absl::string_view view) { return {view.data(), view.size()}; }

}  // namespace berth::runtime::lxc

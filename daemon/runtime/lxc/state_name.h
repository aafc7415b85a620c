#pragma once

#include <optional>
#include <string_view>

#include "berth/runtime/runtime_driver.h"

namespace berth::runtime::lxc {

// The LiveState for a state name liblxc reports ("RUNNING", ...); nullopt for anything else.
// The inverse of LiveStateName.
std::optional<LiveState> ParseLiveState(std::string_view name);

}  // namespace berth::runtime::lxc

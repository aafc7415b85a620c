#include "lxc/state_name.h"

namespace berth::runtime::lxc {

std::optional<LiveState> ParseLiveState(std::string_view name) {
  for (LiveState state :
       {LiveState::kStopped, LiveState::kStarting, LiveState::kRunning, LiveState::kStopping,
        LiveState::kAborting, LiveState::kFreezing, LiveState::kFrozen, LiveState::kThawed}) {
    if (LiveStateName(state) == name) return state;
  }
  return std::nullopt;
}

}  // namespace berth::runtime::lxc

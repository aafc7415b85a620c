#include <string_view>

#include "berth/runtime/runtime_driver.h"

namespace berth::runtime {

std::string_view LiveStateName(LiveState state) {
  switch (state) {
    case LiveState::kStopped:
      return "STOPPED";
    case LiveState::kStarting:
      return "STARTING";
    case LiveState::kRunning:
      return "RUNNING";
    case LiveState::kStopping:
      return "STOPPING";
    case LiveState::kAborting:
      return "ABORTING";
    case LiveState::kFreezing:
      return "FREEZING";
    case LiveState::kFrozen:
      return "FROZEN";
    case LiveState::kThawed:
      return "THAWED";
  }
  return "UNKNOWN";
}

}  // namespace berth::runtime

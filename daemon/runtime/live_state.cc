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

namespace {
absl::Status NoSnapshots() {
  return absl::UnimplementedError("this runtime has no snapshots or copies");
}
}  // namespace

absl::Status RuntimeDriver::CreateSnapshot(std::string_view, std::string_view) {
  return NoSnapshots();
}
absl::Status RuntimeDriver::RestoreSnapshot(std::string_view, std::string_view) {
  return NoSnapshots();
}
absl::Status RuntimeDriver::DeleteSnapshot(std::string_view, std::string_view) {
  return NoSnapshots();
}
absl::Status RuntimeDriver::Copy(std::string_view, std::string_view) { return NoSnapshots(); }

}  // namespace berth::runtime

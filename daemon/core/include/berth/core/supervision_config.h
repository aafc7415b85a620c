#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::core {

// The container config keys of supervision: restart policy, autostart at host boot and stop at
// host shutdown. Values are strings in the container's config map (`berth create -c key=value`).
// Parsing and validation of every key live here and only here.

inline constexpr char kRestartPolicyKey[] = "restart.policy";
inline constexpr char kRestartMaxKey[] = "restart.max";
inline constexpr char kAutostartKey[] = "boot.autostart";
inline constexpr char kAutostartPriorityKey[] = "boot.autostart.priority";
inline constexpr char kAutostartDelayKey[] = "boot.autostart.delay";
inline constexpr char kStopTimeoutKey[] = "boot.stop.timeout";

enum class RestartPolicy {
  kNever,      // "never" (default): an exited container stays stopped.
  kOnFailure,  // "on-failure": restarted when its init exited with a non-zero code (or unknown).
  kAlways,     // "always": restarted whenever its init exits on its own.
};

struct SupervisionSettings {
  RestartPolicy restart_policy = RestartPolicy::kNever;
  int restart_max = 0;  // Restarts in a row before giving up; 0 = no limit.
  bool autostart = false;
  int autostart_priority = 0;                          // Higher starts first, stops last.
  absl::Duration autostart_delay = absl::ZeroDuration();  // Wait after this one starts.
  absl::Duration stop_timeout = absl::Seconds(30);     // Clean halt at host shutdown, then kill.
};

// Each returns OK or INVALID_ARGUMENT with one sentence naming the key, the value and the rule.
absl::Status ValidateRestartPolicy(absl::string_view value);   // never | on-failure | always
absl::Status ValidateRestartMax(absl::string_view value);      // integer 0..1000
absl::Status ValidateAutostart(absl::string_view value);       // true | false
absl::Status ValidateAutostartPriority(absl::string_view value);  // integer -1000..1000
absl::Status ValidateAutostartDelay(absl::string_view value);  // seconds 0..3600
absl::Status ValidateStopTimeout(absl::string_view value);     // seconds 1..3600

// True when `key` is one of the keys above.
bool IsSupervisionKey(absl::string_view key);
// Validates `value` for the supervision key `key`; INVALID_ARGUMENT for an unknown key.
absl::Status ValidateSupervisionValue(absl::string_view key, absl::string_view value);

// The settings of a container. Keys that are missing (or, for a definition stored by another
// version, invalid) take their defaults, so a container can always be supervised.
SupervisionSettings SupervisionFromConfig(const std::map<std::string, std::string>& config);

}  // namespace berth::core

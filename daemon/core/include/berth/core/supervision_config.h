#pragma once

#include <map>
#include <string>
#include <string_view>

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

// The validators of these keys in the config schema (config_schema.cc): each returns OK or
// INVALID_ARGUMENT with the rule (the schema names the key and the value).
absl::Status ValidateRestartPolicy(std::string_view value);      // never | on-failure | always
absl::Status ValidateRestartMax(std::string_view value);         // integer 0..1000
absl::Status ValidateAutostartPriority(std::string_view value);  // integer -1000..1000
absl::Status ValidateAutostartDelay(std::string_view value);     // seconds 0..3600
absl::Status ValidateStopTimeout(std::string_view value);        // seconds 1..3600

// The settings of a container. Keys that are missing (or, for a definition stored by another
// version, invalid) take their defaults, so a container can always be supervised.
SupervisionSettings SupervisionFromConfig(const std::map<std::string, std::string>& config);

}  // namespace berth::core

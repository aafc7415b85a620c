#include "berth/core/supervision_config.h"

#include <cstdint>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace berth::core {
namespace {

struct IntRule {
  const char* key;  // The config value read with this rule (SupervisionFromConfig).
  int64_t min;
  int64_t max;
  const char* unit;  // "" or " seconds"
};

constexpr IntRule kRestartMaxRule{kRestartMaxKey, 0, 1000, ""};
constexpr IntRule kPriorityRule{kAutostartPriorityKey, -1000, 1000, ""};
constexpr IntRule kDelayRule{kAutostartDelayKey, 0, 3600, " seconds"};
constexpr IntRule kStopTimeoutRule{kStopTimeoutKey, 1, 3600, " seconds"};

// Decimal digits with an optional leading '-' only: no spaces, '+', hex or exponents.
std::optional<int64_t> ParseInt(absl::string_view value) {
  if (value.empty() || value.size() > 12) return std::nullopt;
  for (size_t i = 0; i < value.size(); ++i) {
    if (!(value[i] >= '0' && value[i] <= '9') && !(i == 0 && value[i] == '-' && value.size() > 1)) {
      return std::nullopt;
    }
  }
  int64_t n = 0;
  if (!absl::SimpleAtoi(value, &n)) return std::nullopt;
  return n;
}

absl::Status CheckInt(const IntRule& rule, std::string_view value) {
  auto n = ParseInt(absl::string_view(value.data(), value.size()));
  if (!n || *n < rule.min || *n > rule.max) {
    return absl::InvalidArgumentError(
        absl::StrCat("use a whole number from ", rule.min, " to ", rule.max, rule.unit));
  }
  return absl::OkStatus();
}

int IntOr(const std::map<std::string, std::string>& config, const IntRule& rule, int fallback) {
  auto it = config.find(rule.key);
  if (it == config.end() || !CheckInt(rule, it->second).ok()) return fallback;
  return static_cast<int>(*ParseInt(it->second));
}

}  // namespace

absl::Status ValidateRestartPolicy(std::string_view value) {
  if (value == "never" || value == "on-failure" || value == "always") return absl::OkStatus();
  return absl::InvalidArgumentError("use never, on-failure or always");
}

absl::Status ValidateRestartMax(std::string_view value) { return CheckInt(kRestartMaxRule, value); }

absl::Status ValidateAutostartPriority(std::string_view value) {
  return CheckInt(kPriorityRule, value);
}

absl::Status ValidateAutostartDelay(std::string_view value) { return CheckInt(kDelayRule, value); }

absl::Status ValidateStopTimeout(std::string_view value) {
  return CheckInt(kStopTimeoutRule, value);
}

SupervisionSettings SupervisionFromConfig(const std::map<std::string, std::string>& config) {
  SupervisionSettings s;
  if (auto it = config.find(kRestartPolicyKey); it != config.end()) {
    if (it->second == "on-failure") s.restart_policy = RestartPolicy::kOnFailure;
    if (it->second == "always") s.restart_policy = RestartPolicy::kAlways;
  }
  s.restart_max = IntOr(config, kRestartMaxRule, 0);
  if (auto it = config.find(kAutostartKey); it != config.end()) s.autostart = it->second == "true";
  s.autostart_priority = IntOr(config, kPriorityRule, 0);
  s.autostart_delay = absl::Seconds(IntOr(config, kDelayRule, 0));
  s.stop_timeout = absl::Seconds(IntOr(config, kStopTimeoutRule, 30));
  return s;
}

}  // namespace berth::core

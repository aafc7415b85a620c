#include "berth/core/config_schema.h"

#include <unistd.h>

#include <array>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "berth/core/supervision_config.h"
#include "berth/core/validation.h"

namespace berth::core {
namespace {

absl::string_view A(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Bad(absl::string_view rule) { return absl::InvalidArgumentError(rule); }

// Below this the container's init does not even start; refuse it up front.
constexpr int64_t kMinMemoryBytes = 4 << 20;
constexpr int64_t kMaxProcesses = 4194304;  // the kernel's PID_MAX_LIMIT
constexpr int64_t kMinCfsUs = 1000;         // the kernel's bounds of cpu.cfs_period_us / quota
constexpr int64_t kMaxCfsPeriodUs = 1000000;

struct Unit {
  absl::string_view suffix;
  int64_t factor;
};
// Longest suffixes first so "MiB" is not read as "B" after a number "256Mi".
constexpr std::array<Unit, 9> kMemoryUnits = {{
    {"KiB", int64_t{1} << 10},
    {"MiB", int64_t{1} << 20},
    {"GiB", int64_t{1} << 30},
    {"TiB", int64_t{1} << 40},
    {"kB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", int64_t{1000} * 1000 * 1000 * 1000},
    {"B", 1},
}};

bool AllDigits(absl::string_view s) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits always fit in int64
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<int64_t> ParseDuration(absl::string_view text) {
  int64_t factor = 0;
  if (absl::ConsumeSuffix(&text, "ms")) {
    factor = 1000;
  } else if (absl::ConsumeSuffix(&text, "us")) {
    factor = 1;
  } else if (absl::ConsumeSuffix(&text, "s")) {
    factor = 1000000;
  }
  int64_t n = 0;
  if (factor == 0 || !AllDigits(text) || !absl::SimpleAtoi(text, &n) || n > 1000000000) {
    return Bad("durations are a whole number with us, ms or s, e.g. 25ms");
  }
  return n * factor;
}

// limits.cpu.allowance -> {quota_us, period_us}.
absl::StatusOr<std::pair<int64_t, int64_t>> ParseAllowance(absl::string_view value, int host_cpus) {
  constexpr absl::string_view kRule =
      "use a percentage of one CPU (\"50%\", up to 100% per host CPU) or QUOTA/PERIOD "
      "(\"25ms/100ms\", each 1ms-1s for the period)";
  if (absl::ConsumeSuffix(&value, "%")) {
    int64_t percent = 0;
    if (!AllDigits(value) || !absl::SimpleAtoi(value, &percent) || percent < 1 ||
        percent > int64_t{100} * host_cpus) {
      return Bad(absl::StrCat(kRule, "; this host has ", host_cpus, " CPUs"));
    }
    return std::make_pair(percent * 1000, int64_t{100000});
  }
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(value, '/');
  if (parts.second.empty()) return Bad(kRule);
  auto quota = ParseDuration(parts.first);
  auto period = ParseDuration(parts.second);
  if (!quota.ok() || !period.ok()) return Bad(kRule);
  if (*period < kMinCfsUs || *period > kMaxCfsPeriodUs || *quota < kMinCfsUs) return Bad(kRule);
  return std::make_pair(*quota, *period);
}

absl::Status ValidateCpu(std::string_view value) {
  return ParseCpuSet(value, HostCpuCount()).status();
}

absl::Status ValidateAllowance(std::string_view value) {
  return ParseAllowance(A(value), HostCpuCount()).status();
}

absl::Status ValidateMemory(std::string_view value) {
  return ParseMemoryBytes(value, HostMemoryBytes()).status();
}

absl::Status ValidateBoolean(std::string_view value) {
  if (value == "true" || value == "false") return absl::OkStatus();
  return Bad("use true or false");
}

absl::Status ValidateProcesses(std::string_view value) {
  int64_t n = 0;
  if (!AllDigits(A(value)) || !absl::SimpleAtoi(A(value), &n) || n < 1 || n > kMaxProcesses) {
    return Bad(absl::StrCat("use a whole number of processes from 1 to ", kMaxProcesses));
  }
  return absl::OkStatus();
}

absl::Status ValidateText(std::string_view value) {
  // ValidateFreeText names "value"; the caller puts the key in front.
  return ValidateFreeText("the value", A(value));
}

absl::Status ValidateRawLxc(std::string_view value) { return runtime::ParseRawLxc(value, nullptr); }

absl::Status ValidateEnvName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 128 &&
            !absl::ascii_isdigit(static_cast<unsigned char>(name.front()));
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') ok = false;
  }
  if (!ok) {
    return Bad(
        "the variable name after \"environment.\" must be 1-128 letters, digits and '_', not "
        "starting with a digit");
  }
  return absl::OkStatus();
}

absl::Status ValidateUserSuffix(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
      ok = false;
    }
  }
  if (!ok) return Bad("the name after \"user.\" must be 1-128 letters, digits, '_', '-' and '.'");
  return absl::OkStatus();
}

// The schema. Keep the help one sentence; README's table is `berth config keys`.
constexpr ConfigKeySpec kKeys[] = {
    {.name = "limits.cpu",
     .type = "cpus",
     .default_value = "all host CPUs",
     .live = true,
     .help = "CPUs the container may use: a count (\"2\": CPUs 0-1) or a list (\"0-1,3\")",
     .validate = ValidateCpu},
    {.name = "limits.cpu.allowance",
     .type = "cpu-allowance",
     .default_value = "unlimited",
     .live = true,
     .help = "CPU time: \"50%\" of one CPU, or QUOTA/PERIOD such as \"25ms/100ms\"",
     .validate = ValidateAllowance},
    {.name = "limits.memory",
     .type = "bytes",
     .default_value = "unlimited",
     .live = true,
     .help = "Memory limit: bytes with kB/MB/GB/KiB/MiB/GiB, or a percentage of host memory",
     .validate = ValidateMemory},
    {.name = "limits.memory.swap",
     .type = "boolean",
     .default_value = "true",
     .live = true,
     .help = "false: the container may not use swap (applies with limits.memory)",
     .validate = ValidateBoolean},
    {.name = "limits.processes",
     .type = "integer",
     .default_value = "unlimited",
     .live = true,
     .help = "Most processes and threads the container may have at once",
     .validate = ValidateProcesses},
    {.name = "environment.*",
     .type = "string",
     .default_value = "",
     .live = false,
     .help = "Environment variable for the init (next start) and for berth exec (at once)",
     .validate = ValidateText,
     .validate_suffix = ValidateEnvName},
    {.name = "user.*",
     .type = "string",
     .default_value = "",
     .live = true,
     .help = "Free text for users and tools; berth does not interpret it",
     .validate = ValidateText,
     .validate_suffix = ValidateUserSuffix},
    {.name = "raw.lxc",
     .type = "lxc-config",
     .default_value = "",
     .live = false,
     .help = "Extra LXC config lines from an allow-list of safe keys (cgroup limits, sysctls, "
             "prlimits, signals)",
     .validate = ValidateRawLxc},
    {.name = kRestartPolicyKey,
     .type = "never|on-failure|always",
     .default_value = "never",
     .live = true,
     .help = "Restart the container when its init exits: on-failure on a non-zero exit code; "
             "with backoff from 1 s doubling to 60 s",
     .validate = ValidateRestartPolicy},
    {.name = kRestartMaxKey,
     .type = "integer",
     .default_value = "0",
     .live = true,
     .help = "Restarts in a row before giving up and leaving the container stopped (0: no limit)",
     .validate = ValidateRestartMax},
    {.name = kAutostartKey,
     .type = "boolean",
     .default_value = "false",
     .live = true,
     .help = "Start the container when berthd first starts after a host boot",
     .validate = ValidateBoolean},
    {.name = kAutostartPriorityKey,
     .type = "integer",
     .default_value = "0",
     .live = true,
     .help = "Autostart order, -1000 to 1000: higher starts first and stops last at host shutdown",
     .validate = ValidateAutostartPriority},
    {.name = kAutostartDelayKey,
     .type = "seconds",
     .default_value = "0",
     .live = true,
     .help = "Seconds to wait after autostarting this container before the next one",
     .validate = ValidateAutostartDelay},
    {.name = kStopTimeoutKey,
     .type = "seconds",
     .default_value = "30",
     .live = true,
     .help = "At host shutdown: seconds for a clean halt before the container is killed",
     .validate = ValidateStopTimeout},
};

bool IsFamily(std::string_view name) { return name.size() > 2 && name.ends_with(".*"); }

}  // namespace

absl::Span<const ConfigKeySpec> ConfigKeys() { return kKeys; }

const ConfigKeySpec* FindConfigKey(std::string_view key) {
  for (const ConfigKeySpec& spec : kKeys) {
    if (!IsFamily(spec.name) && spec.name == key) return &spec;
  }
  for (const ConfigKeySpec& spec : kKeys) {
    if (!IsFamily(spec.name)) continue;
    const std::string_view prefix = spec.name.substr(0, spec.name.size() - 1);  // "environment."
    if (key.size() > prefix.size() && key.starts_with(prefix)) return &spec;
  }
  return nullptr;
}

absl::Status ValidateConfigEntry(std::string_view key, std::string_view value) {
  if (auto s = ValidateFreeText("config key", A(key)); !s.ok()) return s;
  const ConfigKeySpec* spec = FindConfigKey(key);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown config key \"", A(key), "\"; run 'berth config keys' to see the known keys"));
  }
  if (spec->validate_suffix != nullptr) {
    const size_t prefix = spec->name.size() - 1;
    if (auto s = spec->validate_suffix(key.substr(prefix)); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid config key \"", A(key), "\": ", s.message()));
    }
  }
  if (auto s = spec->validate(value); !s.ok()) {
    constexpr size_t kMaxShown = 80;
    const std::string shown = absl::CHexEscape(A(value).substr(0, kMaxShown));
    return absl::InvalidArgumentError(absl::StrCat("invalid value \"", shown,
                                                   value.size() > kMaxShown ? "..." : "", "\" for ",
                                                   A(key), ": ", s.message()));
  }
  return absl::OkStatus();
}

int HostCpuCount() {
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int64_t HostMemoryBytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<int64_t>(pages) * page_size;
}

absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view value_std, int64_t host_memory_bytes) {
  absl::string_view value = A(value_std);
  constexpr absl::string_view kRule =
      "use bytes with an optional unit kB, MB, GB, TB, KiB, MiB, GiB, TiB (\"256MiB\"), or a "
      "percentage of host memory (\"50%\")";
  if (absl::ConsumeSuffix(&value, "%")) {
    int64_t percent = 0;
    if (!AllDigits(value) || !absl::SimpleAtoi(value, &percent) || percent < 1 || percent > 100) {
      return Bad(absl::StrCat(kRule, "; a percentage is 1-100"));
    }
    const int64_t bytes = host_memory_bytes * percent / 100;  // host memory is far below 2^56
    if (bytes < kMinMemoryBytes) return Bad("that is less than 4MiB on this host");
    return bytes;
  }
  int64_t factor = 1;
  for (const Unit& unit : kMemoryUnits) {
    if (absl::ConsumeSuffix(&value, unit.suffix)) {
      factor = unit.factor;
      break;
    }
  }
  int64_t n = 0;
  if (!AllDigits(value) || !absl::SimpleAtoi(value, &n)) return Bad(kRule);
  if (n > std::numeric_limits<int64_t>::max() / factor) return Bad("that is too large");
  const int64_t bytes = n * factor;
  if (bytes < kMinMemoryBytes) {
    return Bad("a container needs at least 4MiB; give a larger limit");
  }
  return bytes;
}

absl::StatusOr<std::string> ParseCpuSet(std::string_view value_std, int host_cpus) {
  const absl::string_view value = A(value_std);
  const std::string host =
      absl::StrCat("this host has ", host_cpus, " CPUs (0-", host_cpus - 1, ")");
  constexpr absl::string_view kRule =
      "use a CPU count (\"2\") or a list of CPU numbers and ranges (\"0-1,3\")";
  if (AllDigits(value)) {
    int64_t count = 0;
    if (!absl::SimpleAtoi(value, &count) || count < 1 || count > host_cpus) {
      return Bad(absl::StrCat("a CPU count must be 1 to the number of host CPUs; ", host));
    }
    return count == 1 ? std::string("0") : absl::StrCat("0-", count - 1);
  }
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    std::pair<absl::string_view, absl::string_view> range = absl::StrSplit(part, '-');
    int64_t first = 0;
    int64_t last = 0;
    if (!AllDigits(range.first) || !absl::SimpleAtoi(range.first, &first)) return Bad(kRule);
    last = first;
    if (part.find('-') != absl::string_view::npos &&
        (!AllDigits(range.second) || !absl::SimpleAtoi(range.second, &last) || last < first)) {
      return Bad(absl::StrCat(kRule, "; a range is LOW-HIGH with LOW <= HIGH"));
    }
    if (last >= host_cpus) {
      return Bad(absl::StrCat("CPU ", last, " does not exist; ", host));
    }
  }
  return std::string(value);
}

absl::StatusOr<runtime::ContainerSettings> SettingsFromConfig(
    const std::map<std::string, std::string>& config) {
  runtime::ContainerSettings settings;
  for (const auto& [key, value] : config) {
    if (auto s = ValidateConfigEntry(key, value); !s.ok()) return s;
    absl::Status error;  // what a parser refused, with the key's name put in front below
    if (key == "limits.cpu") {
      auto cpus = ParseCpuSet(value, HostCpuCount());
      if (cpus.ok()) settings.cpuset = *cpus;
      error = cpus.status();
    } else if (key == "limits.cpu.allowance") {
      auto allowance = ParseAllowance(value, HostCpuCount());
      if (allowance.ok()) {
        settings.cpu_quota_us = allowance->first;
        settings.cpu_period_us = allowance->second;
      }
      error = allowance.status();
    } else if (key == "limits.memory") {
      auto bytes = ParseMemoryBytes(value, HostMemoryBytes());
      if (bytes.ok()) settings.memory_bytes = *bytes;
      error = bytes.status();
    } else if (key == "limits.memory.swap") {
      settings.memory_swap = value == "true";
    } else if (key == "limits.processes") {
      int64_t n = 0;
      (void)absl::SimpleAtoi(value, &n);  // validated above
      settings.processes = n;
    } else if (absl::StartsWith(key, "environment.")) {
      settings.environment[key.substr(12)] = value;
    } else if (key == "raw.lxc") {
      error = runtime::ParseRawLxc(value, &settings.raw_lxc);
    }
    if (!error.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(key, ": ", error.message()));
    }
  }
  return settings;
}

}  // namespace berth::core

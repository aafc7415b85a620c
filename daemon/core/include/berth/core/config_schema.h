#pragma once

// The container config schema: every key a container's config may hold, with its validator, type,
// default, whether a change reaches a running container at once, and help. Adding a key is one
// line in the table (config_schema.cc); ValidateConfig, `berth config keys` (System.ListConfigKeys)
// and the README's table all come from it.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "berth/runtime/container_settings.h"

namespace berth::core {

struct ConfigKeySpec {
  // The exact key ("limits.memory"), or a family "environment.*": any non-empty suffix after the
  // dot that validate_suffix accepts.
  std::string_view name;
  // For `berth config keys`: "integer", "bytes", "boolean", "string", "cpus", "cpu-allowance"...
  std::string_view type;
  // What applies when the key is not set ("" when nothing is set then; e.g. "unlimited").
  std::string_view default_value;
  // true: a change reaches a running container at once (cgroup write); false: at its next start.
  bool live = false;
  std::string_view help;
  // OK or INVALID_ARGUMENT saying what the value must be, without naming the key (the caller
  // does: "invalid value "x" for limits.memory: ...").
  absl::Status (*validate)(std::string_view value) = nullptr;
  // Families only: checks the part after the prefix's dot.
  absl::Status (*validate_suffix)(std::string_view suffix) = nullptr;
};

// The whole table, in the order `berth config keys` shows it.
absl::Span<const ConfigKeySpec> ConfigKeys();

// The spec that governs `key` (exact match, else the family whose prefix it has); nullptr for an
// unknown key.
const ConfigKeySpec* FindConfigKey(std::string_view key);

// INVALID_ARGUMENT for an unknown key (listing where to see the known ones), a bad family suffix
// or a bad value, naming the key and the rule.
absl::Status ValidateConfigEntry(std::string_view key, std::string_view value);

// Host facts the limits are checked against (CPUs online, physical memory).
int HostCpuCount();
int64_t HostMemoryBytes();

// "256MiB", "1GB", "1048576", "50%" (of `host_memory_bytes`) -> bytes. INVALID_ARGUMENT.
absl::StatusOr<int64_t> ParseMemoryBytes(std::string_view value, int64_t host_memory_bytes);
// limits.cpu: a count "2" -> "0-1", or a list "0-1,3" -> itself; every CPU below `host_cpus`.
absl::StatusOr<std::string> ParseCpuSet(std::string_view value, int host_cpus);

// What the runtime makes of a config that passed ValidateConfig (limits, environment, raw.lxc).
// INVALID_ARGUMENT when a value is bad (e.g. more CPUs than the host has now).
absl::StatusOr<runtime::ContainerSettings> SettingsFromConfig(
    const std::map<std::string, std::string>& config);

}  // namespace berth::core

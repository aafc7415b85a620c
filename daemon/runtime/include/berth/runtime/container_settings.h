#pragma once

// What a container's config (the stored `limits.*`, `environment.*`, `raw.lxc` keys) means to the
// runtime: resource limits, the init's environment and extra LXC config lines. The core derives
// it from the config (core::SettingsFromConfig) and hands it to the driver at every start and on a
// live change; the driver checks it again before anything reaches an LXC config or a cgroup file.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace berth::runtime {

// A host directory or file bind-mounted into the container at start (a disk device). Both paths
// are absolute, without ".." components, whitespace or control characters (the driver checks
// again before it writes an lxc.mount.entry line, and that the source exists).
struct BindMount {
  std::string source;  // on the host
  std::string path;    // inside the container
  bool readonly = false;

  bool operator==(const BindMount&) const = default;
};

struct ContainerSettings {
  // CPUs the container may run on, as a cpuset list ("0-1,3"). nullopt: all.
  std::optional<std::string> cpuset;
  // CFS bandwidth: at most quota microseconds of CPU time per period. nullopt: unlimited.
  std::optional<int64_t> cpu_quota_us;
  int64_t cpu_period_us = 100000;
  // Memory limit in bytes. nullopt: unlimited.
  std::optional<int64_t> memory_bytes;
  // false: the container may not swap (memory+swap limited to the memory limit).
  bool memory_swap = true;
  // Most tasks (processes and threads) at once. nullopt: unlimited.
  std::optional<int64_t> processes;
  // The init's environment (lxc.environment); exec gets it too.
  std::map<std::string, std::string> environment;
  // Extra LXC config lines from raw.lxc, in order (each passed CheckRawLxcEntry).
  std::vector<std::pair<std::string, std::string>> raw_lxc;
  // Bind mounts made at start (never live), in order.
  std::vector<BindMount> mounts;

  bool operator==(const ContainerSettings&) const = default;
};

// An LXC config key and value that raw.lxc may set: the key is one of the allow-listed safe keys
// (resource knobs, sysctls, prlimits, signals, environment, tty counts) and neither has a control
// character. Everything else (hooks, mounts, includes, devices, capabilities, idmaps, rootfs,
// apparmor/seccomp, networks, logs) is refused: those run or expose things on the host.
// INVALID_ARGUMENT naming the key and the rule.
absl::Status CheckRawLxcEntry(std::string_view key, std::string_view value);

// OK when `path` is absolute, has no "." or ".." component, no empty component but a trailing
// '/', and no whitespace or control character (an lxc.mount.entry field cannot carry them).
// INVALID_ARGUMENT naming `what` ("source", "path") and the rule.
absl::Status CheckMountPath(std::string_view what, std::string_view path);

// Parses raw.lxc text: one "key = value" per line, blank lines and '#' comments skipped, every
// entry passing CheckRawLxcEntry; "\r" or another control character anywhere is refused (a
// line of its own could be smuggled in). INVALID_ARGUMENT naming the line number and the rule.
absl::Status ParseRawLxc(std::string_view text,
                         std::vector<std::pair<std::string, std::string>>* entries);

}  // namespace berth::runtime

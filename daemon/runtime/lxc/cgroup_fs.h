#pragma once

// The cgroup side of container settings, without liblxc: which item names the host's layout uses
// (cgroup v1, v2, or a hybrid of both), the items a ContainerSettings sets, and where a running
// container's cgroup directories are (from /proc/<init>/cgroup). LxcDriver writes the items into
// the LXC config at start and into the cgroup files for a live change; `berth info` reads usage.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/runtime/container_settings.h"

namespace berth::runtime::lxc {

struct CgroupLayout {
  // Controllers mounted as cgroup v1 hierarchies ("memory", "cpu", "cpuset", "pids"...); the
  // others are on the unified (v2) hierarchy.
  std::set<std::string, std::less<>> v1_controllers;
  // v1 memory has swap accounting (memory.memsw.*), so "no swap" can be enforced.
  bool memsw = false;

  bool IsV1(std::string_view controller) const { return v1_controllers.contains(controller); }
  // Where the unified hierarchy is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified in a hybrid.
  std::string UnifiedRoot() const;
};

// From the text of /proc/self/cgroup: lines "N:controllers:path" with N > 0 are v1 hierarchies.
CgroupLayout ParseCgroupLayout(std::string_view proc_self_cgroup, bool memsw);
// The host's layout (reads /proc/self/cgroup and checks for memory.memsw.limit_in_bytes).
CgroupLayout DetectCgroupLayout();

// One cgroup file and the value written to it.
struct CgroupItem {
  std::string controller;  // "memory"
  std::string file;        // "memory.limit_in_bytes" (v1) or "memory.max" (v2)
  std::string value;

  bool operator==(const CgroupItem&) const = default;
};

// The cgroup files `settings` sets, in the order they are written from nothing (memory before
// memory+swap, period before quota). With `with_resets`, also the value that lifts each limit the
// settings leave unset (for a live change from a limit back to none); `host_cpus` gives the full
// cpuset for that.
std::vector<CgroupItem> CgroupItems(const ContainerSettings& settings, const CgroupLayout& layout,
                                    int host_cpus, bool with_resets);

// The items to write to go from `before` to `after` on a running container, in a safe order
// (v1 memory+swap is raised before memory and lowered after it, since the kernel keeps
// memsw >= memory at every step).
std::vector<CgroupItem> LiveChanges(const ContainerSettings& before, const ContainerSettings& after,
                                    const CgroupLayout& layout, int host_cpus);

// The host directory of `controller`'s cgroup of a container, from its init's /proc/<pid>/cgroup
// text: /sys/fs/cgroup/<hierarchy>/<path> (v1) or <unified root>/<path> (v2). The path is cut
// after its "lxc.payload.<name>" component, where liblxc puts the limits (an init may have moved
// itself into a child cgroup). NOT_FOUND when the controller is in no line.
absl::StatusOr<std::string> CgroupDir(std::string_view proc_pid_cgroup, std::string_view controller,
                                      const CgroupLayout& layout);

}  // namespace berth::runtime::lxc

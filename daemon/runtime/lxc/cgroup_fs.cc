#include "lxc/cgroup_fs.h"

#include <unistd.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lxc/fs_util.h"
#include "lxc/string_views.h"

namespace berth::runtime::lxc {
namespace {

constexpr absl::string_view kCgroupRoot = "/sys/fs/cgroup";
constexpr absl::string_view kMemswFile = "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes";
constexpr size_t kMaxProcCgroupBytes = 64 * 1024;

// The value that means "no limit" for a v1 memory file, as the kernel reads it.
constexpr absl::string_view kV1Unlimited = "-1";

}  // namespace

std::string CgroupLayout::UnifiedRoot() const {
  return v1_controllers.empty() ? std::string(kCgroupRoot) : absl::StrCat(kCgroupRoot, "/unified");
}

CgroupLayout ParseCgroupLayout(std::string_view proc_self_cgroup, bool memsw) {
  CgroupLayout layout;
  for (absl::string_view line : absl::StrSplit(ToAbsl(proc_self_cgroup), '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3 || fields[0] == "0") continue;
    for (absl::string_view controller : absl::StrSplit(fields[1], ',', absl::SkipEmpty())) {
      if (absl::StartsWith(controller, "name=")) continue;  // named hierarchies hold no limits
      layout.v1_controllers.emplace(controller);
    }
  }
  layout.memsw = memsw && layout.IsV1("memory");
  return layout;
}

CgroupLayout DetectCgroupLayout() {
  absl::StatusOr<std::string> text = ReadFileToString("/proc/self/cgroup", kMaxProcCgroupBytes);
  return ParseCgroupLayout(text.ok() ? *text : "", ::access(kMemswFile.data(), F_OK) == 0);
}

std::vector<CgroupItem> CgroupItems(const ContainerSettings& s, const CgroupLayout& layout,
                                    int host_cpus, bool with_resets) {
  std::vector<CgroupItem> items;
  auto add = [&](const char* controller, std::string file, std::string value) {
    items.push_back({controller, std::move(file), std::move(value)});
  };
  const bool cpuset_v1 = layout.IsV1("cpuset");
  if (s.cpuset.has_value()) {
    add("cpuset", "cpuset.cpus", *s.cpuset);
  } else if (with_resets) {
    // v1 needs an explicit set (the parent's: every CPU); v2's empty value means "inherit".
    add("cpuset", "cpuset.cpus", cpuset_v1 ? absl::StrCat("0-", std::max(host_cpus, 1) - 1) : "");
  }
  if (layout.IsV1("cpu")) {
    if (s.cpu_quota_us.has_value()) {
      add("cpu", "cpu.cfs_period_us", absl::StrCat(s.cpu_period_us));
      add("cpu", "cpu.cfs_quota_us", absl::StrCat(*s.cpu_quota_us));
    } else if (with_resets) {
      add("cpu", "cpu.cfs_quota_us", "-1");
    }
  } else if (s.cpu_quota_us.has_value()) {
    add("cpu", "cpu.max", absl::StrCat(*s.cpu_quota_us, " ", s.cpu_period_us));
  } else if (with_resets) {
    add("cpu", "cpu.max", "max");
  }
  if (layout.IsV1("memory")) {
    if (s.memory_bytes.has_value()) {
      add("memory", "memory.limit_in_bytes", absl::StrCat(*s.memory_bytes));
    } else if (with_resets) {
      add("memory", "memory.limit_in_bytes", std::string(kV1Unlimited));
    }
    // Without swap accounting, "no swap" cannot be enforced on v1; without a memory limit there
    // is nothing to hold memory+swap to.
    if (layout.memsw) {
      if (!s.memory_swap && s.memory_bytes.has_value()) {
        add("memory", "memory.memsw.limit_in_bytes", absl::StrCat(*s.memory_bytes));
      } else if (with_resets) {
        add("memory", "memory.memsw.limit_in_bytes", std::string(kV1Unlimited));
      }
    }
  } else {
    if (s.memory_bytes.has_value()) {
      add("memory", "memory.max", absl::StrCat(*s.memory_bytes));
    } else if (with_resets) {
      add("memory", "memory.max", "max");
    }
    if (!s.memory_swap) {
      add("memory", "memory.swap.max", "0");
    } else if (with_resets) {
      add("memory", "memory.swap.max", "max");
    }
  }
  if (s.processes.has_value()) {
    add("pids", "pids.max", absl::StrCat(*s.processes));
  } else if (with_resets) {
    add("pids", "pids.max", "max");
  }
  return items;
}

std::vector<CgroupItem> LiveChanges(const ContainerSettings& before, const ContainerSettings& after,
                                    const CgroupLayout& layout, int host_cpus) {
  const std::vector<CgroupItem> old_items = CgroupItems(before, layout, host_cpus, true);
  std::vector<CgroupItem> changes;
  for (const CgroupItem& item : CgroupItems(after, layout, host_cpus, true)) {
    auto old = std::find_if(old_items.begin(), old_items.end(), [&](const CgroupItem& o) {
      return o.controller == item.controller && o.file == item.file;
    });
    if (old == old_items.end() || old->value != item.value) changes.push_back(item);
  }
  // v1 keeps memory.memsw.limit_in_bytes >= memory.limit_in_bytes: when memory grows, the
  // memsw change (listed after it) must go first.
  auto limit = [](const std::optional<int64_t>& bytes) {
    return bytes.value_or(std::numeric_limits<int64_t>::max());
  };
  if (layout.IsV1("memory") && limit(after.memory_bytes) > limit(before.memory_bytes)) {
    auto mem = std::find_if(changes.begin(), changes.end(),
                            [](const CgroupItem& i) { return i.file == "memory.limit_in_bytes"; });
    auto memsw = std::find_if(changes.begin(), changes.end(), [](const CgroupItem& i) {
      return i.file == "memory.memsw.limit_in_bytes";
    });
    if (mem != changes.end() && memsw != changes.end() && memsw > mem) {
      std::rotate(mem, memsw, memsw + 1);
    }
  }
  return changes;
}

absl::StatusOr<std::string> CgroupDir(std::string_view proc_pid_cgroup, std::string_view controller,
                                      const CgroupLayout& layout) {
  const bool v1 = layout.IsV1(controller);
  for (absl::string_view line : absl::StrSplit(ToAbsl(proc_pid_cgroup), '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (fields.size() != 3) continue;
    std::string base;
    if (v1) {
      if (fields[0] == "0") continue;
      const std::vector<absl::string_view> controllers = absl::StrSplit(fields[1], ',');
      if (std::find(controllers.begin(), controllers.end(), ToAbsl(controller)) ==
          controllers.end()) {
        continue;
      }
      base = absl::StrCat(kCgroupRoot, "/", fields[1]);  // "cpu,cpuacct" is mounted as named
    } else {
      if (fields[0] != "0") continue;
      base = layout.UnifiedRoot();
    }
    absl::string_view path = fields[2];
    if (absl::StrContains(path, "/../") || absl::EndsWith(path, "/..") || path.empty() ||
        path.front() != '/') {
      return absl::InternalError(absl::StrCat("odd cgroup path \"", path, "\""));
    }
    const size_t payload = path.find("/lxc.payload.");
    if (payload != absl::string_view::npos) {
      const size_t end = path.find('/', payload + 1);
      if (end != absl::string_view::npos) path = path.substr(0, end);
    }
    return absl::StrCat(base, path == "/" ? "" : path);
  }
  return absl::NotFoundError(
      absl::StrCat("no ", ToAbsl(controller), " cgroup in the container's /proc/<pid>/cgroup"));
}

}  // namespace berth::runtime::lxc

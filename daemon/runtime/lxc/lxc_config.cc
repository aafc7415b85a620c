#include "lxc/lxc_config.h"

#include <sys/stat.h>

#include <array>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lxc/string_views.h"
#include "lxc/validation.h"

namespace berth::runtime::lxc {
namespace {

constexpr absl::string_view kHeader =
    "# Written by berth. berth rewrites this file; edits are lost.\n";
constexpr absl::string_view kTemplatePrefix = "# Template: ";
// The settings section: every line from the begin marker to the end marker is berth's.
constexpr absl::string_view kSettingsBegin = "# BEGIN berth settings";
constexpr absl::string_view kSettingsBeginNote =
    ": limits, environment and raw.lxc from the container's config; rewritten at every start.";
constexpr absl::string_view kSettingsEnd = "# END berth settings";
constexpr absl::string_view kIncludeDir = "/usr/share/lxc/config/";

// Mount entries berth writes for every container; identical template entries are dropped.
constexpr std::array<std::string_view, 2> kBerthMountEntries = {
    "shm dev/shm tmpfs defaults,create=dir 0 0",
    "mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0",
};

// Device access for a privileged container: deny all, then the usual pseudo-devices (the same
// list as LXC's common.conf). Written for both cgroup versions; liblxc applies the one in use.
constexpr std::array<std::string_view, 12> kDeviceAllowList = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 5:0 rwm",
    "c 5:1 rwm", "c 5:2 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 136:* rwm", "c 10:229 rwm",
};

constexpr std::array<std::string_view, 11> kAllowedTemplateKeys = {
    "lxc.arch",        "lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop",
    "lxc.mount.entry", "lxc.init.cmd",    "lxc.init.cwd",      "lxc.init.uid",
    "lxc.init.gid",    "lxc.environment", "lxc.include",
};

bool IsValidKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsAllowedInclude(absl::string_view path) {
  return absl::StartsWith(path, kIncludeDir) && !absl::StrContains(path, "/../") &&
         !absl::EndsWith(path, "/..");
}

absl::Status CheckEntry(const ConfigEntry& entry) {
  if (!IsValidKey(entry.key)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid LXC config key \"", absl::CHexEscape(entry.key), "\""));
  }
  if (HasControlChars(entry.value)) {
    return absl::InvalidArgumentError(absl::StrCat("LXC config value for ", entry.key,
                                                   " contains a control character: \"",
                                                   absl::CHexEscape(entry.value), "\""));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ContainerDir(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name));
}
std::string ContainerConfigPath(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name), "/config");
}
std::string ContainerRootfsPath(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name), "/rootfs");
}
std::string ContainerLogPath(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name), "/lxc.log");
}
std::string ContainerConsoleLogPath(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name), "/console.log");
}

absl::StatusOr<std::vector<ConfigEntry>> ParseLxcConfig(std::string_view text) {
  std::vector<ConfigEntry> entries;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("LXC config line ", line_number, " has no '='"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("LXC config line ", line_number, " has an empty key"));
    }
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    entries.push_back({std::string(key), std::string(value)});
  }
  return entries;
}

bool IsAllowedTemplateEntry(const ConfigEntry& entry) {
  bool known = false;
  for (std::string_view key : kAllowedTemplateKeys) {
    if (entry.key == key) known = true;
  }
  if (!known) return false;
  if (entry.key == "lxc.include" && !IsAllowedInclude(entry.value)) return false;
  return CheckEntry(entry).ok();
}

std::vector<ConfigEntry> FilterTemplateEntries(const std::vector<ConfigEntry>& entries) {
  std::vector<ConfigEntry> kept;
  for (const ConfigEntry& entry : entries) {
    if (!IsAllowedTemplateEntry(entry)) continue;
    bool berth_writes_it = false;
    if (entry.key == "lxc.mount.entry") {
      for (std::string_view mount : kBerthMountEntries) {
        if (entry.value == mount) berth_writes_it = true;
      }
    }
    if (!berth_writes_it) kept.push_back(entry);
  }
  return kept;
}

std::string ContainerDeltaPath(std::string_view lxc_path, std::string_view name) {
  return absl::StrCat(ToAbsl(lxc_path), "/", ToAbsl(name), "/delta");
}

std::string OverlayRootfs(std::string_view lxc_path, std::string_view name,
                          std::string_view image_rootfs) {
  return absl::StrCat("overlay:", ToAbsl(image_rootfs), ":", ContainerDeltaPath(lxc_path, name));
}

std::string ImageRootfsFromEntries(const std::vector<ConfigEntry>& entries) {
  for (const ConfigEntry& entry : entries) {
    if (entry.key != "lxc.rootfs.path") continue;
    absl::string_view value = entry.value;
    if (!absl::ConsumePrefix(&value, "overlay:")) return "";
    const size_t colon = value.rfind(':');
    if (colon == absl::string_view::npos) return "";
    return std::string(value.substr(0, colon));
  }
  return "";
}

std::vector<ConfigEntry> BerthEntries(std::string_view lxc_path, std::string_view name,
                                      std::string_view image_rootfs) {
  std::vector<ConfigEntry> entries = {
      {"lxc.uts.name", std::string(name)},
      {"lxc.rootfs.path", image_rootfs.empty()
                              ? absl::StrCat("dir:", ContainerRootfsPath(lxc_path, name))
                              : OverlayRootfs(lxc_path, name, image_rootfs)},
      {"lxc.log.file", ContainerLogPath(lxc_path, name)},
      {"lxc.log.level", std::string(kContainerLogLevel)},
      // The console's output, kept by the monitor whether or not a client is attached (berth
      // console --show-log), bounded: rotated once at kConsoleLogBytes.
      {"lxc.console.logfile", ContainerConsoleLogPath(lxc_path, name)},
      {"lxc.console.size", absl::StrCat(kConsoleLogBytes)},
      {"lxc.console.rotate", "1"},
      // Loopback only until berth manages networks; never the host's default (lxcbr0) network.
      {"lxc.net.0.type", "empty"},
      {"lxc.autodev", "1"},
      {"lxc.mount.auto", "proc:mixed sys:mixed cgroup:mixed"},
  };
  for (std::string_view mount : kBerthMountEntries) {
    entries.push_back({"lxc.mount.entry", std::string(mount)});
  }
  entries.push_back({"lxc.cap.drop", "mac_admin mac_override sys_module sys_rawio sys_time"});
  entries.push_back({"lxc.tty.max", "4"});
  entries.push_back({"lxc.pty.max", "1024"});
  entries.push_back({"lxc.cgroup.devices.deny", "a"});
  for (std::string_view device : kDeviceAllowList) {
    entries.push_back({"lxc.cgroup.devices.allow", std::string(device)});
  }
  entries.push_back({"lxc.cgroup2.devices.deny", "a"});
  for (std::string_view device : kDeviceAllowList) {
    entries.push_back({"lxc.cgroup2.devices.allow", std::string(device)});
  }
  entries.push_back({"lxc.seccomp.profile", "/usr/share/lxc/config/common.seccomp"});
  return entries;
}

std::string TemplateNameFromConfig(std::string_view text) {
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    if (absl::ConsumePrefix(&line, kTemplatePrefix)) {
      line = absl::StripAsciiWhitespace(line);
      if (ValidateTemplateName(ToStd(line)).ok()) return std::string(line);
      return "";
    }
  }
  return "";
}

absl::StatusOr<std::string> RenderLxcConfig(const BerthConfig& config) {
  if (absl::Status status = ValidateContainerName(config.name); !status.ok()) return status;
  if (config.lxc_path.empty() || config.lxc_path.front() != '/' || config.lxc_path.back() == '/' ||
      HasControlChars(config.lxc_path)) {
    return absl::InvalidArgumentError(
        "lxcpath must be absolute, without a trailing '/' or control characters");
  }
  if (!config.template_name.empty()) {
    if (absl::Status status = ValidateTemplateName(config.template_name); !status.ok()) {
      return status;
    }
  }

  std::string out(kHeader);
  if (!config.template_name.empty()) {
    absl::StrAppend(&out, kTemplatePrefix, config.template_name, "\n");
  }
  out += "\n";
  if (!config.image_rootfs.empty() &&
      (config.image_rootfs.front() != '/' || config.image_rootfs.find(':') != std::string::npos ||
       HasControlChars(config.image_rootfs))) {
    return absl::InvalidArgumentError(
        "an image's root filesystem path must be absolute, without ':' or control characters");
  }
  for (const ConfigEntry& entry : BerthEntries(config.lxc_path, config.name, config.image_rootfs)) {
    if (absl::Status status = CheckEntry(entry); !status.ok()) return status;
    absl::StrAppend(&out, entry.key, " = ", entry.value, "\n");
  }
  if (!config.template_entries.empty()) {
    out += "\n# Kept from the template's config (allow-listed keys only).\n";
  }
  for (const ConfigEntry& entry : config.template_entries) {
    if (absl::Status status = CheckEntry(entry); !status.ok()) return status;
    if (!IsAllowedTemplateEntry(entry)) {
      return absl::InvalidArgumentError(
          absl::StrCat("LXC config key ", entry.key, " is not allowed from a template"));
    }
    absl::StrAppend(&out, entry.key, " = ", entry.value, "\n");
  }
  return out;
}

absl::StatusOr<std::vector<ConfigEntry>> SettingsEntries(const ContainerSettings& settings,
                                                         const CgroupLayout& layout) {
  if (settings.cpuset.has_value() &&
      (settings.cpuset->empty() ||
       settings.cpuset->find_first_not_of("0123456789,-") != std::string::npos)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CPU list \"", absl::CHexEscape(*settings.cpuset), "\" is not a cpuset list like 0-1,3"));
  }
  std::vector<ConfigEntry> entries;
  for (const CgroupItem& item : CgroupItems(settings, layout, /*host_cpus=*/0,
                                            /*with_resets=*/false)) {
    entries.push_back(
        {absl::StrCat(layout.IsV1(item.controller) ? "lxc.cgroup." : "lxc.cgroup2.", item.file),
         item.value});
  }
  for (const auto& [name, value] : settings.environment) {
    if (name.empty() || name.find('=') != std::string::npos || HasControlChars(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Environment variable name \"", absl::CHexEscape(name), "\" cannot be written"));
    }
    entries.push_back({"lxc.environment", absl::StrCat(name, "=", value)});
  }
  for (const auto& [key, value] : settings.raw_lxc) {
    if (absl::Status s = CheckRawLxcEntry(key, value); !s.ok()) return s;
    entries.push_back({key, value});
  }
  // Disk devices. The target is relative to the rootfs (liblxc mounts it under the container's
  // root, refusing symlinks that lead out); create=dir/file makes a missing mount point, matching
  // what the source is (the driver looks just before it writes; "dir" when it cannot tell).
  for (const BindMount& mount : settings.mounts) {
    if (absl::Status s = CheckMountPath("mount source", mount.source); !s.ok()) return s;
    if (absl::Status s = CheckMountPath("mount path", mount.path); !s.ok()) return s;
    struct stat st {};
    const bool is_file = ::stat(mount.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
    std::string_view target(mount.path);
    while (!target.empty() && target.front() == '/') target.remove_prefix(1);
    entries.push_back(
        {"lxc.mount.entry",
         absl::StrCat(mount.source, " ", ToAbsl(target), " none bind,",
                      is_file ? "create=file" : "create=dir", mount.readonly ? ",ro" : "", " 0 0")});
  }
  for (const ConfigEntry& entry : entries) {
    if (absl::Status s = CheckEntry(entry); !s.ok()) return s;
  }
  return entries;
}

std::string StripSettingsSection(std::string_view config_text) {
  std::string out;
  bool inside = false;
  for (absl::string_view line : absl::StrSplit(ToAbsl(config_text), '\n')) {
    if (!inside && absl::StartsWith(line, kSettingsBegin)) {
      inside = true;
    } else if (inside && line == kSettingsEnd) {
      inside = false;
    } else if (!inside) {
      absl::StrAppend(&out, line, "\n");
    }
  }
  // StrSplit yields an empty last piece for text ending in '\n': drop the extra newline, and the
  // blank line that preceded a section.
  while (absl::EndsWith(out, "\n\n")) out.pop_back();
  return out;
}

absl::StatusOr<std::string> ReplaceSettingsSection(std::string_view config_text,
                                                   const std::vector<ConfigEntry>& entries) {
  std::string out = StripSettingsSection(config_text);
  if (entries.empty()) return out;
  if (!out.empty() && out.back() != '\n') out += '\n';
  absl::StrAppend(&out, "\n", kSettingsBegin, kSettingsBeginNote, "\n");
  for (const ConfigEntry& entry : entries) {
    if (absl::Status s = CheckEntry(entry); !s.ok()) return s;
    absl::StrAppend(&out, entry.key, " = ", entry.value, "\n");
  }
  absl::StrAppend(&out, kSettingsEnd, "\n");
  return out;
}

}  // namespace berth::runtime::lxc

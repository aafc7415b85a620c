#pragma once

// The LXC config file berth writes for each container. berth owns this file: after a template has
// built the rootfs, the config it left is parsed, reduced to an allow-list of keys, and the file is
// rewritten from scratch by RenderLxcConfig. Nothing here touches liblxc or the disk.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/runtime/container_settings.h"
#include "lxc/cgroup_fs.h"

namespace berth::runtime::lxc {

struct ConfigEntry {
  std::string key;
  std::string value;

  bool operator==(const ConfigEntry&) const = default;
};

// The log level written into every config: enough for a failed start to leave ERROR lines.
inline constexpr std::string_view kContainerLogLevel = "WARN";

// Where a container's pieces live under `lxc_path`.
std::string ContainerDir(std::string_view lxc_path, std::string_view name);
std::string ContainerConfigPath(std::string_view lxc_path, std::string_view name);
std::string ContainerRootfsPath(std::string_view lxc_path, std::string_view name);
std::string ContainerLogPath(std::string_view lxc_path, std::string_view name);
// What the container's console prints, written by its liblxc monitor; rotated to "<path>.1" when
// it reaches kConsoleLogBytes.
std::string ContainerConsoleLogPath(std::string_view lxc_path, std::string_view name);

// The size at which the console log is rotated (one older file is kept).
inline constexpr size_t kConsoleLogBytes = 1 << 20;

// Parses LXC config text: "key = value" lines; blank lines and '#' comments are skipped;
// surrounding whitespace is trimmed; a value wrapped in double quotes loses them (as liblxc does).
// INVALID_ARGUMENT for a line without '=' or with an empty key.
absl::StatusOr<std::vector<ConfigEntry>> ParseLxcConfig(std::string_view text);

// True when a template may set `key` (with this value): lxc.arch, lxc.signal.{halt,reboot,stop},
// lxc.mount.entry, lxc.init.{cmd,cwd,uid,gid}, lxc.environment, and lxc.include of a path under
// /usr/share/lxc/config/ without "..". Everything else (lxc.net.*, lxc.hook.*, lxc.rootfs.*,
// lxc.log.*, lxc.apparmor.*, lxc.idmap, ...) is berth's to decide, or not allowed at all.
bool IsAllowedTemplateEntry(const ConfigEntry& entry);

// The allow-listed entries of a template's config, in order, minus those berth writes itself.
std::vector<ConfigEntry> FilterTemplateEntries(const std::vector<ConfigEntry>& entries);

struct BerthConfig {
  std::string lxc_path;                       // absolute, no trailing '/'
  std::string name;                           // a valid container name
  std::string template_name;                  // recorded in the header comment; may be empty
  std::vector<ConfigEntry> template_entries;  // allow-listed entries (see FilterTemplateEntries)
  // A container from an image: the image's root filesystem, below an overlayfs layer of the
  // container's own (see OverlayRootfs). Empty: a directory root at <lxcpath>/<name>/rootfs.
  std::string image_rootfs = {};
};

// berth's own keys, in the order they are written, for a container `name` under `lxc_path`;
// with `image_rootfs`, its root is an overlay over that directory.
std::vector<ConfigEntry> BerthEntries(std::string_view lxc_path, std::string_view name,
                                      std::string_view image_rootfs = {});

// The writable overlay layer of a container made from an image: <lxcpath>/<name>/delta.
std::string ContainerDeltaPath(std::string_view lxc_path, std::string_view name);

// The lxc.rootfs.path of a container made from an image:
// "overlay:<image_rootfs>:<lxcpath>/<name>/delta" (liblxc's overlay storage driver).
std::string OverlayRootfs(std::string_view lxc_path, std::string_view name,
                          std::string_view image_rootfs);

// The image root filesystem named by a config's lxc.rootfs.path when it is an overlay written by
// OverlayRootfs; empty otherwise.
std::string ImageRootfsFromEntries(const std::vector<ConfigEntry>& entries);

// The template name recorded in a config file written by RenderLxcConfig; empty when absent.
std::string TemplateNameFromConfig(std::string_view text);

// Renders the whole config file: a header comment, berth's own entries, then the template's
// allow-listed entries. INVALID_ARGUMENT when a name, path, key or value has a control character
// (which would let it write a line of its own), when a template entry is not allow-listed, or
// when the name is not a valid container name.
absl::StatusOr<std::string> RenderLxcConfig(const BerthConfig& config);

// The LXC config lines for `settings`: cgroup limits under the host layout's item names
// (lxc.cgroup.* on v1, lxc.cgroup2.* on v2), lxc.environment per variable, then raw.lxc's lines.
// INVALID_ARGUMENT when any of them could not be written verbatim (control characters, an
// environment name with '=', a raw line CheckRawLxcEntry refuses).
absl::StatusOr<std::vector<ConfigEntry>> SettingsEntries(const ContainerSettings& settings,
                                                         const CgroupLayout& layout);

// `config_text` without berth's settings section (every one of them, should there be several).
std::string StripSettingsSection(std::string_view config_text);

// `config_text` with its settings section replaced by one holding `entries` (at the end of the
// file; none when `entries` is empty), so re-rendering never piles sections up. INVALID_ARGUMENT
// for an entry that would not be written verbatim.
absl::StatusOr<std::string> ReplaceSettingsSection(std::string_view config_text,
                                                   const std::vector<ConfigEntry>& entries);

}  // namespace berth::runtime::lxc

#pragma once

// Allow-list checks the runtime applies to every string before it reaches liblxc or an LXC config
// file. The core validates too; the runtime checks again because what it writes into a config file
// (or hands to a template running as root) must be exactly what it means. Same rules as the core.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace berth::runtime::lxc {

// Hostname rules: 1-63 characters of [A-Za-z0-9-], no leading or trailing '-', not all digits.
// INVALID_ARGUMENT naming the rule that was broken.
absl::Status ValidateContainerName(std::string_view name);
// The core's snapshot name rules, checked again before a name becomes a path: 1-63 letters,
// digits, '-', '_' and '.', starting with a letter or digit.
absl::Status ValidateSnapshotName(std::string_view name);

// Template names: 1-64 characters of [a-z0-9_-]. INVALID_ARGUMENT otherwise. (Whether the
// template exists is checked by the caller against its template directory.)
absl::Status ValidateTemplateName(std::string_view name);

// Template arguments are passed to the template (run as root) after liblxc's own --path, --name
// and --rootfs. Each must be free of control characters and must not override those options:
// refused are long options that are (abbreviations of) --path, --name, --rootfs, --mapped-uid or
// --mapped-gid, and short-option clusters containing 'p' or 'n'. At most 64 arguments of at most
// 4096 bytes. INVALID_ARGUMENT otherwise.
absl::Status ValidateTemplateArgs(const std::vector<std::string>& args);

// True when `s` holds a byte below 0x20 or 0x7f (newline, tab, NUL, escape...).
bool HasControlChars(std::string_view s);

}  // namespace berth::runtime::lxc

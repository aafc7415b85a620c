#include "berth/runtime/container_settings.h"

#include <array>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace berth::runtime {
namespace {

absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Keys raw.lxc may set exactly.
constexpr std::array<absl::string_view, 7> kAllowedKeys = {
    "lxc.signal.halt", "lxc.signal.reboot", "lxc.signal.stop", "lxc.environment",
    "lxc.tty.max",     "lxc.pty.max",       "lxc.init.cwd",
};

// Key prefixes raw.lxc may set: cgroup knobs (a container's own limits), namespaced sysctls,
// resource limits of the init.
constexpr std::array<absl::string_view, 4> kAllowedPrefixes = {
    "lxc.cgroup.",
    "lxc.cgroup2.",
    "lxc.sysctl.",
    "lxc.prlimit.",
};

// cgroup items that widen what the container may touch on the host, or move it in the hierarchy.
constexpr std::array<absl::string_view, 5> kRefusedCgroupItems = {
    "devices.", "cgroup.", "dir", "relative", "container_dir",
};

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool HasControl(absl::string_view s) {
  for (char c : s) {
    if (IsControl(c)) return true;
  }
  return false;
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_';
}

}  // namespace

absl::Status CheckRawLxcEntry(std::string_view key_std, std::string_view value_std) {
  const absl::string_view key = ToAbsl(key_std);
  const absl::string_view value = ToAbsl(value_std);
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw.lxc key \"", absl::CHexEscape(key), "\" ", why));
  };
  if (key.empty() || key.size() > 128) return refuse("must be 1-128 characters long");
  for (char c : key) {
    if (!IsKeyChar(c)) return refuse("may hold only a-z, 0-9, '.' and '_'");
  }
  if (absl::StrContains(key, "..")) return refuse("must not contain \"..\"");
  if (HasControl(value)) {
    return refuse(
        absl::StrCat("has a value with a control character: \"", absl::CHexEscape(value), "\""));
  }
  if (value.size() > 4096) return refuse("has a value longer than 4096 bytes");
  for (absl::string_view allowed : kAllowedKeys) {
    if (key == allowed) return absl::OkStatus();
  }
  for (absl::string_view prefix : kAllowedPrefixes) {
    if (!absl::StartsWith(key, prefix) || key.size() == prefix.size()) continue;
    if (absl::StartsWith(prefix, "lxc.cgroup")) {
      const absl::string_view item = key.substr(prefix.size());
      for (absl::string_view refused : kRefusedCgroupItems) {
        if (absl::StartsWith(item, refused)) {
          return refuse("is not allowed: device access and cgroup placement are berth's");
        }
      }
    }
    return absl::OkStatus();
  }
  return refuse(
      "is not allowed; raw.lxc may set lxc.cgroup.*, lxc.cgroup2.* (not devices), lxc.sysctl.*, "
      "lxc.prlimit.*, lxc.signal.{halt,reboot,stop}, lxc.environment, lxc.tty.max, lxc.pty.max "
      "and lxc.init.cwd");
}

absl::Status ParseRawLxc(std::string_view text,
                         std::vector<std::pair<std::string, std::string>>* entries) {
  if (text.size() > 65536) {
    return absl::InvalidArgumentError("raw.lxc is longer than 65536 bytes; shorten it");
  }
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(ToAbsl(text), '\n')) {
    ++line_number;
    // Only '\n' separates lines; anything else (a '\r' liblxc would also split on, a NUL that
    // would end the string early) is refused.
    if (HasControl(line)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "raw.lxc line ", line_number,
          " contains a control character other than the newline between lines; remove it"));
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw.lxc line ", line_number, " is not \"key = value\""));
    }
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (absl::Status s = CheckRawLxcEntry(std::string_view(key.data(), key.size()),
                                          std::string_view(value.data(), value.size()));
        !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw.lxc line ", line_number, ": ", s.message()));
    }
    if (entries != nullptr) entries->emplace_back(std::string(key), std::string(value));
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime

namespace berth::runtime {

absl::Status CheckMountPath(std::string_view what, std::string_view path_std) {
  const absl::string_view path = absl::string_view(path_std.data(), path_std.size());
  auto bad = [&](absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(what), " \"", absl::CHexEscape(path),
                                                   "\" is not usable: ", rule));
  };
  if (path.empty() || path[0] != '/') return bad("it must be an absolute path (start with /)");
  if (path.size() > 4096) return bad("it is longer than 4096 bytes");
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ') {
      return bad("it must not hold spaces or control characters");
    }
  }
  std::vector<absl::string_view> parts = absl::StrSplit(path.substr(1), '/');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..") return bad("it must not have a .. component");
    if (parts[i] == ".") return bad("it must not have a . component");
    if (parts[i].empty() && i + 1 != parts.size()) return bad("it must not hold //");
  }
  return absl::OkStatus();
}

}  // namespace berth::runtime

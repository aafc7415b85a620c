#include "berth/core/profiles.h"

#include <sys/stat.h>

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "berth/core/config_schema.h"
#include "berth/core/logging.h"
#include "berth/core/validation.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using storage::Device;

std::string Q(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

// Letters, digits, '-', '_' and '.', starting with a letter or digit, 1..max characters.
bool IsSimpleName(absl::string_view name, size_t max) {
  if (name.empty() || name.size() > max) return false;
  if (!absl::ascii_isalnum(static_cast<unsigned char>(name.front()))) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

struct OptionSpec {
  absl::string_view name;
  bool required;
  // OK or INVALID_ARGUMENT saying what the value must be.
  absl::Status (*check)(absl::string_view value);
};

absl::Status CheckHostSource(absl::string_view value) {
  if (auto s = runtime::CheckMountPath("source", std::string(value)); !s.ok()) return s;
  struct stat st {};
  if (::stat(std::string(value).c_str(), &st) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "source ", Q(value), " does not exist on the host; create it first"));
  }
  return absl::OkStatus();
}

absl::Status CheckInsidePath(absl::string_view value) {
  if (value == "/") {
    return absl::InvalidArgumentError("path \"/\" would hide the container's root; pick a directory");
  }
  return runtime::CheckMountPath("path", std::string(value));
}

absl::Status CheckBool(absl::string_view value) {
  if (value == "true" || value == "false") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(Q(value), " must be true or false"));
}

absl::Status CheckNetworkName(absl::string_view value) {
  if (IsSimpleName(value, 63)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "network ", Q(value), " must be 1-63 letters, digits, '-', '_' or '.'"));
}

absl::Status CheckInterfaceName(absl::string_view value) {
  if (IsSimpleName(value, 15)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "interface name ", Q(value), " must be 1-15 letters, digits, '-', '_' or '.'"));
}

absl::Status CheckHwaddr(absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, ':');
  bool ok = parts.size() == 6;
  for (absl::string_view p : parts) {
    ok = ok && p.size() == 2 && absl::ascii_isxdigit(static_cast<unsigned char>(p[0])) &&
         absl::ascii_isxdigit(static_cast<unsigned char>(p[1]));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("hardware address ", Q(value), " must look like 00:16:3e:12:34:56"));
}

absl::Status CheckIpv4(absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, '.');
  bool ok = parts.size() == 4;
  for (absl::string_view p : parts) {
    int n = 0;
    ok = ok && !p.empty() && p.size() <= 3 && absl::SimpleAtoi(p, &n) && n >= 0 && n <= 255 &&
         absl::ascii_isdigit(static_cast<unsigned char>(p[0]));
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("IPv4 address ", Q(value), " must be a dotted quad like 10.0.3.5"));
}

absl::Status CheckEndpoint(absl::string_view value) {
  if (auto s = ValidateFreeText("endpoint", value); !s.ok()) return s;
  if (absl::StartsWith(value, "unix:/")) return absl::OkStatus();
  for (absl::string_view proto : {"tcp:", "udp:"}) {
    if (!absl::StartsWith(value, proto)) continue;
    absl::string_view rest = value.substr(proto.size());
    const size_t colon = rest.rfind(':');
    int port = 0;
    if (colon != absl::string_view::npos && colon > 0 &&
        absl::SimpleAtoi(rest.substr(colon + 1), &port) && port > 0 && port <= 65535) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "endpoint ", Q(value), " must be tcp:HOST:PORT, udp:HOST:PORT or unix:/PATH"));
}

constexpr OptionSpec kDiskOptions[] = {
    {"source", true, CheckHostSource},
    {"path", true, CheckInsidePath},
    {"readonly", false, CheckBool},
};
constexpr OptionSpec kNicOptions[] = {
    {"network", true, CheckNetworkName},
    {"name", false, CheckInterfaceName},
    {"hwaddr", false, CheckHwaddr},
    {"ipv4.address", false, CheckIpv4},
};
constexpr OptionSpec kProxyOptions[] = {
    {"listen", true, CheckEndpoint},
    {"connect", true, CheckEndpoint},
};

struct TypeSpec {
  absl::string_view type;
  absl::Span<const OptionSpec> options;
};
const TypeSpec kTypes[] = {
    {"disk", kDiskOptions},
    {"nic", kNicOptions},
    {"proxy", kProxyOptions},
};

std::string OptionNames(absl::Span<const OptionSpec> options) {
  std::vector<std::string> names;
  for (const OptionSpec& o : options) names.emplace_back(o.name);
  return absl::StrJoin(names, ", ");
}

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("core"); }

}  // namespace

absl::Status ValidateProfileName(absl::string_view name) {
  if (IsSimpleName(name, 63)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid profile name ", Q(name),
                   "; use 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit"));
}

absl::Status ValidateProfileList(const std::vector<std::string>& profiles) {
  if (profiles.size() > 32) {
    return absl::InvalidArgumentError("a container may use at most 32 profiles");
  }
  std::set<absl::string_view> seen;
  for (const std::string& p : profiles) {
    if (auto s = ValidateProfileName(p); !s.ok()) return s;
    if (!seen.insert(p).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("profile ", Q(p), " is given twice; name each profile once"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDeviceName(absl::string_view name) {
  if (IsSimpleName(name, 63)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid device name ", Q(name),
                   "; use 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit"));
}

absl::Status ValidateDevice(absl::string_view name, const Device& device) {
  if (auto s = ValidateDeviceName(name); !s.ok()) return s;
  const TypeSpec* type = nullptr;
  for (const TypeSpec& t : kTypes) {
    if (t.type == device.type) type = &t;
  }
  if (type == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("device ", Q(name), " has unknown type ",
                                                   Q(device.type), "; use disk, nic or proxy"));
  }
  for (const auto& [key, value] : device.options) {
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& o : type->options) {
      if (o.name == key) spec = &o;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", Q(key), " for ",
                                                     device.type, " device ", Q(name), "; a ",
                                                     device.type, " device takes ",
                                                     OptionNames(type->options)));
    }
    if (auto s = spec->check(value); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(device.type, " device ", Q(name), ": ", s.message()));
    }
  }
  for (const OptionSpec& o : type->options) {
    if (o.required && !device.options.contains(std::string(o.name))) {
      return absl::InvalidArgumentError(absl::StrCat(device.type, " device ", Q(name), " needs ",
                                                     o.name, "=...; a ", device.type,
                                                     " device takes ", OptionNames(type->options)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDevices(const std::map<std::string, Device>& devices) {
  if (devices.size() > 64) return absl::InvalidArgumentError("at most 64 devices are allowed");
  for (const auto& [name, device] : devices) {
    if (auto s = ValidateDevice(name, device); !s.ok()) return s;
  }
  return absl::OkStatus();
}

ExpandedDefinition Merge(const std::vector<storage::ProfileRecord>& profiles,
                         const storage::ContainerRecord& record) {
  ExpandedDefinition out;
  auto add = [&](const std::map<std::string, std::string>& config,
                 const std::map<std::string, Device>& devices, const std::string& source) {
    for (const auto& [key, value] : config) {
      out.config[key] = value;
      out.config_source[key] = source;
    }
    for (const auto& [name, device] : devices) {
      out.devices[name] = device;
      out.device_source[name] = source;
    }
  };
  for (const storage::ProfileRecord& p : profiles) add(p.config, p.devices, p.name);
  add(record.config, record.devices, "");
  return out;
}

absl::StatusOr<ExpandedDefinition> Expand(storage::ContainerStore& store,
                                          const storage::ContainerRecord& record,
                                          const storage::ProfileRecord* replacement) {
  std::vector<storage::ProfileRecord> profiles;
  profiles.reserve(record.profiles.size());
  for (const std::string& name : record.profiles) {
    if (replacement != nullptr && replacement->name == name) {
      profiles.push_back(*replacement);
      continue;
    }
    auto profile = store.GetProfile(name);
    if (!profile.ok()) return profile.status();
    profiles.push_back(*std::move(profile));
  }
  return Merge(profiles, record);
}

std::map<std::string, std::string> ExpandedConfigOrOwn(storage::ContainerStore& store,
                                                       const storage::ContainerRecord& record) {
  if (record.profiles.empty()) return record.config;
  auto expanded = Expand(store, record);
  if (!expanded.ok()) {
    Log()->warn("Cannot read the profiles of \"{}\", using its own config only: {}", record.name,
                std::string(expanded.status().message()));
    return record.config;
  }
  return std::move(expanded->config);
}

absl::StatusOr<runtime::ContainerSettings> SettingsForStart(const std::string& container,
                                                            const ExpandedDefinition& expanded) {
  auto settings = SettingsFromConfig(expanded.config);
  if (!settings.ok()) return settings.status();
  for (const auto& [name, device] : expanded.devices) {
    auto from = [&]() {
      auto it = expanded.device_source.find(name);
      return it == expanded.device_source.end() || it->second.empty()
                 ? std::string()
                 : absl::StrCat(" (from profile ", Q(it->second), ")");
    };
    if (device.type == "disk") {
      runtime::BindMount mount;
      mount.source = device.options.at("source");
      mount.path = device.options.at("path");
      auto ro = device.options.find("readonly");
      mount.readonly = ro != device.options.end() && ro->second == "true";
      settings->mounts.push_back(std::move(mount));
    } else if (device.type == "nic") {
      auto network = device.options.find("network");
      return absl::FailedPreconditionError(absl::StrCat(
          "nic device ", Q(name), from(), " of ", Q(container), " uses network ",
          Q(network == device.options.end() ? "" : network->second),
          ", which is unknown: managed networks are not available yet; remove the device "
          "(berth config device remove ",
          container, " ", name, ")"));
    } else {
      return absl::FailedPreconditionError(absl::StrCat(
          device.type, " device ", Q(name), from(), " of ", Q(container),
          " is not available yet; remove the device (berth config device remove ", container, " ",
          name, ")"));
    }
  }
  return settings;
}

}  // namespace berth::core

#pragma once

// Profiles and devices: the rules for profile names and device shapes, and how a container's
// expanded definition is made (its profiles merged in order, then its own keys and devices).
//
// There is no profile inheritance: a profile holds keys and devices only, never other profiles,
// so a profile cycle cannot be built. The merge is flat: profile 1, profile 2, ..., container.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "berth/runtime/container_settings.h"
#include "berth/storage/container_store.h"

namespace berth::core {

// Profile names: 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit.
absl::Status ValidateProfileName(absl::string_view name);

// A list of profiles for a container: each name valid, none twice, at most 32.
absl::Status ValidateProfileList(const std::vector<std::string>& profiles);

// Device names: 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit.
absl::Status ValidateDeviceName(absl::string_view name);

// The shape of one device, by type:
//   disk:  source (required; an absolute host path that exists now), path (required; absolute
//          inside the container, no "..", no spaces or control characters), readonly (true|false)
//   nic:   network (required), name (interface name, 1-15 of [A-Za-z0-9_.-]), hwaddr
//          (xx:xx:xx:xx:xx:xx), ipv4.address (a dotted quad)
//   proxy: listen, connect (both required; tcp:HOST:PORT, udp:HOST:PORT or unix:/PATH)
// An unknown type or option, a missing required option or a bad value is INVALID_ARGUMENT naming
// the device, the option and the rule.
absl::Status ValidateDevice(absl::string_view name, const storage::Device& device);
absl::Status ValidateDevices(const std::map<std::string, storage::Device>& devices);

// A container's definition with its profiles applied.
struct ExpandedDefinition {
  std::map<std::string, std::string> config;
  // For each key of `config`: the profile it came from, or "" for the container's own.
  std::map<std::string, std::string> config_source;
  std::map<std::string, storage::Device> devices;
  // For each device: the profile it came from, or "" for the container's own.
  std::map<std::string, std::string> device_source;
};

// Merges `profiles` (in the container's order) and then the container's own keys and devices:
// a later one replaces an earlier key or device of the same name.
ExpandedDefinition Merge(const std::vector<storage::ProfileRecord>& profiles,
                         const storage::ContainerRecord& record);

// Reads the record's profiles from `store` and merges them. NOT_FOUND for a profile that is gone.
// `replacement`, when set, stands in for the stored profile of its name (to see a change before
// it is stored).
absl::StatusOr<ExpandedDefinition> Expand(
    storage::ContainerStore& store, const storage::ContainerRecord& record,
    const storage::ProfileRecord* replacement = nullptr);

// The expanded config, or the container's own when the profiles cannot be read (logged): for
// readers that must go on (supervision, exec environment).
std::map<std::string, std::string> ExpandedConfigOrOwn(storage::ContainerStore& store,
                                                       const storage::ContainerRecord& record);

// What the runtime makes of an expanded definition at start: the config's settings plus a bind
// mount per disk device. FAILED_PRECONDITION for a nic (managed networks do not exist yet: its
// network is unknown) or proxy device (not available yet), INVALID_ARGUMENT for a bad value.
absl::StatusOr<runtime::ContainerSettings> SettingsForStart(const std::string& container,
                                                            const ExpandedDefinition& expanded);

}  // namespace berth::core

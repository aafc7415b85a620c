// ContainerManager: profiles, devices and the expanded definition (see container_manager.h).

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "berth/core/config_schema.h"
#include "berth/core/container_manager.h"
#include "berth/core/logging.h"
#include "berth/core/profiles.h"
#include "berth/core/validation.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using runtime::LiveState;
using storage::ContainerRecord;
using storage::Device;
using storage::Phase;
using storage::ProfileRecord;

std::string Q(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

bool IsRunningLike(LiveState s) {
  return s == LiveState::kRunning || s == LiveState::kStarting || s == LiveState::kFrozen ||
         s == LiveState::kFreezing || s == LiveState::kThawed;
}

absl::Status StaleRevision(absl::string_view what, absl::string_view name, int64_t expected,
                           int64_t now) {
  return absl::AbortedError(absl::StrCat(what, " ", Q(name), " changed since revision ", expected,
                                         " (now ", now, "); read it again and retry"));
}

// The keys whose expanded value differs, sorted.
std::vector<std::string> ChangedKeys(const std::map<std::string, std::string>& before,
                                     const std::map<std::string, std::string>& after) {
  std::set<std::string> changed;
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end() || it->second != value) changed.insert(key);
  }
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) changed.insert(key);
  }
  return {changed.begin(), changed.end()};
}

absl::Status ValidateUnsetKeys(const std::vector<std::string>& unset) {
  for (const std::string& key : unset) {
    if (auto s = ValidateFreeText("config key", key); !s.ok()) return s;
    if (FindConfigKey(key) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown config key ", Q(key), "; run 'berth config keys' to see the known keys"));
    }
  }
  return absl::OkStatus();
}

// Applies removals, then additions, to `devices` of `owner` ("container \"web\"").
absl::Status ChangeDevices(std::map<std::string, Device>& devices, absl::string_view owner,
                           const std::map<std::string, Device>& add,
                           const std::vector<std::string>& remove) {
  for (const std::string& name : remove) {
    if (devices.erase(name) == 0) {
      return absl::NotFoundError(absl::StrCat(owner, " has no device ", Q(name),
                                              "; see berth config device list"));
    }
  }
  for (const auto& [name, device] : add) {
    if (!devices.emplace(name, device).second) {
      return absl::AlreadyExistsError(absl::StrCat(owner, " already has a device named ", Q(name),
                                                   "; remove it first or pick another name"));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<spdlog::logger> Log() { return NamedLogger("core"); }

}  // namespace

absl::Status ContainerManager::ApplyExpanded(const std::string& name,
                                             const ExpandedDefinition& before,
                                             const ExpandedDefinition& after,
                                             std::vector<std::string>* notices) {
  auto after_settings = SettingsFromConfig(after.config);
  if (!after_settings.ok()) return after_settings.status();
  // The old config may no longer pass (e.g. the host lost CPUs): then every limit counts as
  // changed, which is what a start would do.
  auto before_settings = SettingsFromConfig(before.config);
  if (auto s = driver_->ApplyLive(
          name, before_settings.ok() ? *before_settings : runtime::ContainerSettings{},
          *after_settings);
      !s.ok()) {
    return s;
  }
  std::vector<std::string> later;
  for (const std::string& key : ChangedKeys(before.config, after.config)) {
    const ConfigKeySpec* spec = FindConfigKey(key);
    if (spec != nullptr && !spec->live) later.push_back(key);
  }
  if (before.devices != after.devices) later.push_back("devices");
  if (!later.empty()) {
    notices->push_back(absl::StrCat(absl::StrJoin(later, ", "), later.size() == 1 ? " takes" : " take",
                                    " effect when the container next starts (berth restart ",
                                    name, ")"));
  }
  return absl::OkStatus();
}

void ContainerManager::RevertExpanded(const std::string& name, const ExpandedDefinition& before,
                                      const ExpandedDefinition& after) {
  auto before_settings = SettingsFromConfig(before.config);
  auto after_settings = SettingsFromConfig(after.config);
  if (before_settings.ok() && after_settings.ok()) {
    if (auto s = driver_->ApplyLive(name, *after_settings, *before_settings); !s.ok()) {
      Log()->error("Cannot put the limits of \"{}\" back: {}", name, std::string(s.message()));
    }
  }
}

absl::StatusOr<ConfigUpdate> ContainerManager::StoreDefinition(const ContainerRecord& record,
                                                               ContainerRecord updated,
                                                               const std::string& what) {
  const std::string& name = record.name;
  auto before = Expand(*store_, record);
  if (!before.ok()) return before.status();
  auto after = Expand(*store_, updated);
  if (!after.ok()) return after.status();
  if (auto s = ValidateConfig(after->config); !s.ok()) {
    return Annotate(s, absl::StrCat("with its profiles, the config of ", Q(name)));
  }
  if (auto s = SettingsFromConfig(after->config).status(); !s.ok()) return s;
  ConfigUpdate update;
  auto live = driver_->Inspect(name);
  const bool running = live.ok() && IsRunningLike(live->state);
  if (running) {
    if (auto s = ApplyExpanded(name, *before, *after, &update.notices); !s.ok()) {
      return Annotate(s, absl::StrCat("config of ", Q(name), " unchanged"));
    }
  }
  updated.updated_at = clock_->Now();
  auto stored = store_->Update(name, updated, record.revision);
  if (!stored.ok()) {
    // Keep the container as its stored definition says.
    if (running) RevertExpanded(name, *before, *after);
    return stored.status();
  }
  Publish(EventType::kConfigChanged, name, live.ok() ? std::optional(live->state) : std::nullopt,
          what);
  Log()->info("Changed config of \"{}\": {}", name, what);
  update.view = ViewOf(*std::move(stored), /*with_live=*/true);
  return update;
}

absl::StatusOr<ExpandedDefinition> ContainerManager::GetExpanded(const std::string& name) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  auto record = store_->Get(name);
  if (!record.ok()) return record.status();
  return Expand(*store_, *record);
}

absl::StatusOr<ConfigUpdate> ContainerManager::SetProfiles(
    const std::string& name, int64_t expected_revision, const std::vector<std::string>& profiles) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateProfileList(profiles); !s.ok()) return s;
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (expected_revision != 0 && expected_revision != record->revision) {
    return StaleRevision("container", name, expected_revision, record->revision);
  }
  if (record->profiles == profiles) {
    return ConfigUpdate{ViewOf(*std::move(record), /*with_live=*/true), {}};
  }
  ContainerRecord updated = *record;
  updated.profiles = profiles;
  return StoreDefinition(*record, std::move(updated),
                         absl::StrCat("profiles=", absl::StrJoin(profiles, ",")));
}

absl::StatusOr<ConfigUpdate> ContainerManager::UpdateDevices(
    const std::string& name, int64_t expected_revision, const std::map<std::string, Device>& add,
    const std::vector<std::string>& remove) {
  if (auto s = ValidateContainerName(name); !s.ok()) return s;
  if (auto s = ValidateDevices(add); !s.ok()) return s;
  for (const std::string& device : remove) {
    if (auto s = ValidateDeviceName(device); !s.ok()) return s;
  }
  auto guard = locks_.Lock(name);
  auto record = GetReady(name);
  if (!record.ok()) return record.status();
  if (expected_revision != 0 && expected_revision != record->revision) {
    return StaleRevision("container", name, expected_revision, record->revision);
  }
  ContainerRecord updated = *record;
  if (auto s = ChangeDevices(updated.devices, absl::StrCat("container ", Q(name)), add, remove);
      !s.ok()) {
    return s;
  }
  if (updated.devices == record->devices) {
    return ConfigUpdate{ViewOf(*std::move(record), /*with_live=*/true), {}};
  }
  std::vector<std::string> changed;
  for (const auto& [device, unused] : add) changed.push_back(device);
  changed.insert(changed.end(), remove.begin(), remove.end());
  return StoreDefinition(*record, std::move(updated),
                         absl::StrCat("devices=", absl::StrJoin(changed, ",")));
}

absl::StatusOr<ProfileRecord> ContainerManager::CreateProfile(
    const std::string& name, const std::string& description,
    const std::map<std::string, std::string>& config, const std::map<std::string, Device>& devices) {
  if (auto s = ValidateProfileName(name); !s.ok()) return s;
  if (auto s = ValidateFreeText("profile description", description); !s.ok()) return s;
  if (auto s = ValidateConfig(config); !s.ok()) return s;
  if (auto s = ValidateDevices(devices); !s.ok()) return s;
  ProfileRecord record;
  record.name = name;
  record.description = description;
  record.config = config;
  record.devices = devices;
  record.created_at = record.updated_at = clock_->Now();
  auto stored = store_->CreateProfile(record);
  if (stored.ok()) Log()->info("Created profile \"{}\"", name);
  return stored;
}

absl::StatusOr<ProfileRecord> ContainerManager::GetProfile(const std::string& name) {
  if (auto s = ValidateProfileName(name); !s.ok()) return s;
  return store_->GetProfile(name);
}

absl::StatusOr<std::vector<ProfileRecord>> ContainerManager::ListProfiles() {
  return store_->ListProfiles();
}

absl::StatusOr<std::vector<std::string>> ContainerManager::ProfileUsers(const std::string& name) {
  return store_->ProfileUsers(name);
}

absl::StatusOr<ProfileUpdate> ContainerManager::UpdateProfile(const std::string& name,
                                                              int64_t expected_revision,
                                                              const ProfileChange& change) {
  if (auto s = ValidateProfileName(name); !s.ok()) return s;
  if (change.description.has_value()) {
    if (auto s = ValidateFreeText("profile description", *change.description); !s.ok()) return s;
  }
  if (auto s = ValidateConfig(change.set); !s.ok()) return s;
  if (auto s = ValidateUnsetKeys(change.unset); !s.ok()) return s;
  if (auto s = ValidateDevices(change.add_devices); !s.ok()) return s;
  for (const std::string& device : change.remove_devices) {
    if (auto s = ValidateDeviceName(device); !s.ok()) return s;
  }
  // Profile keys cannot clash with container names (they have no '/').
  auto profile_guard = locks_.Lock(absl::StrCat("profile/", name));
  auto profile = store_->GetProfile(name);
  if (!profile.ok()) return profile.status();
  if (expected_revision != 0 && expected_revision != profile->revision) {
    return StaleRevision("profile", name, expected_revision, profile->revision);
  }
  ProfileRecord updated = *profile;
  if (change.description.has_value()) updated.description = *change.description;
  for (const auto& [key, value] : change.set) updated.config[key] = value;
  for (const std::string& key : change.unset) updated.config.erase(key);
  if (auto s = ChangeDevices(updated.devices, absl::StrCat("profile ", Q(name)),
                             change.add_devices, change.remove_devices);
      !s.ok()) {
    return s;
  }
  if (auto s = ValidateConfig(updated.config); !s.ok()) return s;
  ProfileUpdate result;
  if (updated == *profile) {
    result.profile = *std::move(profile);
    return result;
  }

  // Every container that uses the profile, locked, so none starts or changes meanwhile.
  auto users = store_->ProfileUsers(name);
  if (!users.ok()) return users.status();
  auto guard = locks_.LockAll(*users);
  struct Target {
    std::string name;
    ExpandedDefinition before;
    ExpandedDefinition after;
    bool running = false;
  };
  std::vector<Target> targets;
  for (const std::string& user : *users) {
    auto record = store_->Get(user);
    if (!record.ok()) return record.status();
    auto before = Expand(*store_, *record);
    if (!before.ok()) return before.status();
    auto after = Expand(*store_, *record, &updated);
    if (!after.ok()) return after.status();
    if (auto s = ValidateConfig(after->config); !s.ok()) {
      return Annotate(s, absl::StrCat("profile ", Q(name), " unchanged: with it, the config of ",
                                      Q(user), " would not be valid"));
    }
    if (auto s = SettingsFromConfig(after->config).status(); !s.ok()) {
      return Annotate(s, absl::StrCat("profile ", Q(name), " unchanged: container ", Q(user)));
    }
    auto live = driver_->Inspect(user);
    targets.push_back(Target{user, *std::move(before), *std::move(after),
                             live.ok() && IsRunningLike(live->state)});
  }
  // Live first, each one undone if a later one fails, so a refused value changes nothing.
  std::vector<const Target*> applied;
  auto undo = [&]() {
    for (const Target* t : applied) RevertExpanded(t->name, t->before, t->after);
  };
  for (const Target& t : targets) {
    if (!t.running) continue;
    if (auto s = ApplyExpanded(t.name, t.before, t.after, &result.notices); !s.ok()) {
      undo();
      return Annotate(s, absl::StrCat("profile ", Q(name), " unchanged: container ", Q(t.name)));
    }
    applied.push_back(&t);
  }
  updated.updated_at = clock_->Now();
  auto stored = store_->UpdateProfile(updated, profile->revision);
  if (!stored.ok()) {
    undo();
    return stored.status();
  }
  const std::vector<std::string> changed_keys = ChangedKeys(profile->config, updated.config);
  for (const Target& t : targets) {
    Publish(EventType::kConfigChanged, t.name, std::nullopt,
            absl::StrCat("profile ", name, ": ", absl::StrJoin(changed_keys, ",")));
  }
  Log()->info("Changed profile \"{}\" (used by {} container{})", name, targets.size(),
              targets.size() == 1 ? "" : "s");
  result.profile = *std::move(stored);
  return result;
}

absl::Status ContainerManager::DeleteProfile(const std::string& name, int64_t expected_revision) {
  if (auto s = ValidateProfileName(name); !s.ok()) return s;
  if (name == storage::kDefaultProfile) {
    return absl::FailedPreconditionError(
        "the default profile cannot be deleted; new containers get it unless given others "
        "(empty it with berth profile edit default instead)");
  }
  auto profile_guard = locks_.Lock(absl::StrCat("profile/", name));
  auto profile = store_->GetProfile(name);
  if (!profile.ok()) return profile.status();
  if (expected_revision != 0 && expected_revision != profile->revision) {
    return StaleRevision("profile", name, expected_revision, profile->revision);
  }
  if (auto s = store_->DeleteProfile(name, profile->revision); !s.ok()) return s;
  Log()->info("Deleted profile \"{}\"", name);
  return absl::OkStatus();
}

}  // namespace berth::core

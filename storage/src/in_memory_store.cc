#include "berth/storage/in_memory_store.h"

#include <algorithm>
#include <utility>

#include "record_rules.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace berth::storage {

InMemoryStore::InMemoryStore() {
  ProfileRecord profile;
  profile.name = std::string(kDefaultProfile);
  profile.description = "The profile new containers get unless others are given";
  profile.revision = 1;
  profiles_.emplace(profile.name, profile);
}

absl::Status InMemoryStore::CheckProfilesLocked(const ContainerRecord& record) {
  std::set<std::string_view> seen;
  for (const std::string& profile : record.profiles) {
    if (!profiles_.contains(profile)) return ProfileNotFound(profile);
    if (!seen.insert(profile).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "profile ", QuotedName(profile), " is given twice; name each profile once"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> InMemoryStore::UsersLocked(std::string_view profile) {
  std::vector<std::string> users;
  for (const auto& [name, record] : records_) {
    for (const std::string& p : record.profiles) {
      if (p == profile) {
        users.push_back(name);
        break;
      }
    }
  }
  return users;
}

absl::StatusOr<ProfileRecord> InMemoryStore::GetProfile(std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(name);
  if (it == profiles_.end()) return ProfileNotFound(name);
  return it->second;
}

absl::StatusOr<std::vector<ProfileRecord>> InMemoryStore::ListProfiles() {
  absl::MutexLock lock(&mu_);
  std::vector<ProfileRecord> profiles;
  for (const auto& [name, profile] : profiles_) profiles.push_back(profile);
  return profiles;
}

absl::StatusOr<ProfileRecord> InMemoryStore::CreateProfile(ProfileRecord record) {
  if (absl::Status status = CheckStorableProfile(record); !status.ok()) return status;
  TruncateTimestamps(record);
  record.revision = 1;
  absl::MutexLock lock(&mu_);
  if (profiles_.contains(record.name)) return ProfileAlreadyExists(record.name);
  profiles_.emplace(record.name, record);
  return record;
}

absl::StatusOr<ProfileRecord> InMemoryStore::UpdateProfile(ProfileRecord record,
                                                           int64_t expected_revision) {
  if (absl::Status status = CheckStorableProfile(record); !status.ok()) return status;
  TruncateTimestamps(record);
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(record.name);
  if (it == profiles_.end()) return ProfileNotFound(record.name);
  if (it->second.revision != expected_revision) {
    return ProfileRevisionMismatch(record.name, expected_revision, it->second.revision);
  }
  record.revision = it->second.revision + 1;
  record.created_at = it->second.created_at;
  it->second = record;
  return record;
}

absl::Status InMemoryStore::DeleteProfile(std::string_view name, int64_t expected_revision) {
  absl::MutexLock lock(&mu_);
  auto it = profiles_.find(name);
  if (it == profiles_.end()) return ProfileNotFound(name);
  if (it->second.revision != expected_revision) {
    return ProfileRevisionMismatch(name, expected_revision, it->second.revision);
  }
  if (std::vector<std::string> users = UsersLocked(name); !users.empty()) {
    return ProfileInUse(name, users);
  }
  profiles_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> InMemoryStore::ProfileUsers(std::string_view name) {
  absl::MutexLock lock(&mu_);
  return UsersLocked(name);
}

absl::StatusOr<ContainerRecord> InMemoryStore::Get(std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(name);
  if (it == records_.end()) return ContainerNotFound(name);
  return it->second;
}

absl::StatusOr<std::vector<ContainerRecord>> InMemoryStore::List() {
  absl::MutexLock lock(&mu_);
  std::vector<ContainerRecord> records;
  records.reserve(records_.size());
  for (const auto& [name, record] : records_) records.push_back(record);
  return records;
}

absl::StatusOr<ContainerRecord> InMemoryStore::Create(ContainerRecord record) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  TruncateTimestamps(record);
  record.revision = 1;
  absl::MutexLock lock(&mu_);
  if (records_.contains(record.name)) return ContainerAlreadyExists(record.name);
  if (absl::Status status = CheckProfilesLocked(record); !status.ok()) return status;
  records_.emplace(record.name, record);
  return record;
}

absl::StatusOr<ContainerRecord> InMemoryStore::Update(std::string_view name, ContainerRecord record,
                                                      int64_t expected_revision) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  TruncateTimestamps(record);
  absl::MutexLock lock(&mu_);
  auto it = records_.find(name);
  if (it == records_.end()) return ContainerNotFound(name);
  if (it->second.revision != expected_revision) {
    return RevisionMismatch(name, expected_revision, it->second.revision);
  }
  if (record.name != name && records_.contains(record.name)) {
    return ContainerAlreadyExists(record.name);
  }
  if (absl::Status status = CheckProfilesLocked(record); !status.ok()) return status;
  record.revision = it->second.revision + 1;
  if (record.name == name) {
    it->second = record;
  } else {
    records_.erase(it);
    records_.emplace(record.name, record);
    // As ON UPDATE CASCADE: the snapshots follow the rename.
    for (auto s = snapshots_.lower_bound({std::string(name), ""});
         s != snapshots_.end() && s->first.first == name;) {
      SnapshotRecord moved = s->second;
      moved.container = record.name;
      s = snapshots_.erase(s);
      snapshots_.emplace(std::make_pair(record.name, moved.name), std::move(moved));
    }
  }
  return record;
}

absl::Status InMemoryStore::Delete(std::string_view name, int64_t expected_revision) {
  absl::MutexLock lock(&mu_);
  auto it = records_.find(name);
  if (it == records_.end()) return ContainerNotFound(name);
  if (it->second.revision != expected_revision) {
    return RevisionMismatch(name, expected_revision, it->second.revision);
  }
  records_.erase(it);
  // As ON DELETE CASCADE.
  for (auto s = snapshots_.lower_bound({std::string(name), ""});
       s != snapshots_.end() && s->first.first == name;) {
    s = snapshots_.erase(s);
  }
  return absl::OkStatus();
}

absl::StatusOr<SnapshotRecord> InMemoryStore::CreateSnapshot(SnapshotRecord record) {
  if (absl::Status status = CheckStorable(record); !status.ok()) return status;
  record.created_at = FromStoredNanos(ToStoredNanos(record.created_at));
  absl::MutexLock lock(&mu_);
  if (!records_.contains(record.container)) return ContainerNotFound(record.container);
  auto [it, inserted] = snapshots_.emplace(std::make_pair(record.container, record.name), record);
  if (!inserted) return SnapshotAlreadyExists(record.container, record.name);
  return record;
}

absl::StatusOr<std::vector<SnapshotRecord>> InMemoryStore::ListSnapshots(
    std::string_view container) {
  absl::MutexLock lock(&mu_);
  std::vector<SnapshotRecord> out;
  for (auto s = snapshots_.lower_bound({std::string(container), ""});
       s != snapshots_.end() && s->first.first == container; ++s) {
    out.push_back(s->second);
  }
  std::stable_sort(out.begin(), out.end(), [](const SnapshotRecord& a, const SnapshotRecord& b) {
    return a.created_at < b.created_at;
  });
  return out;
}

absl::StatusOr<SnapshotRecord> InMemoryStore::GetSnapshot(std::string_view container,
                                                          std::string_view name) {
  absl::MutexLock lock(&mu_);
  auto it = snapshots_.find({std::string(container), std::string(name)});
  if (it == snapshots_.end()) return SnapshotNotFound(container, name);
  return it->second;
}

absl::Status InMemoryStore::DeleteSnapshot(std::string_view container, std::string_view name) {
  absl::MutexLock lock(&mu_);
  if (snapshots_.erase({std::string(container), std::string(name)}) == 0) {
    return SnapshotNotFound(container, name);
  }
  return absl::OkStatus();
}

}  // namespace berth::storage

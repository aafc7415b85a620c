#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "berth/storage/container_store.h"

namespace berth::storage {

// The in-memory twin of SqliteStore for unit tests: the same contract (the same contract suite
// runs against both), the same error messages, the same INVALID_ARGUMENT for timestamps SQLite
// could not store, and timestamps truncated to whole nanoseconds as SQLite keeps them. Nothing
// survives the object. Never blocks on I/O; every method is thread-safe.
class InMemoryStore final : public ContainerStore {
 public:
  // Starts with the empty "default" profile, as a migrated database does.
  InMemoryStore();
  InMemoryStore(const InMemoryStore&) = delete;
  InMemoryStore& operator=(const InMemoryStore&) = delete;

  absl::StatusOr<ContainerRecord> Get(std::string_view name) override;
  absl::StatusOr<std::vector<ContainerRecord>> List() override;
  absl::StatusOr<ContainerRecord> Create(ContainerRecord record) override;
  absl::StatusOr<ContainerRecord> Update(std::string_view name, ContainerRecord record,
                                         int64_t expected_revision) override;
  absl::Status Delete(std::string_view name, int64_t expected_revision) override;
  absl::StatusOr<SnapshotRecord> CreateSnapshot(SnapshotRecord record) override;
  absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(std::string_view container) override;
  absl::StatusOr<SnapshotRecord> GetSnapshot(std::string_view container,
                                             std::string_view name) override;
  absl::Status DeleteSnapshot(std::string_view container, std::string_view name) override;
  absl::StatusOr<ProfileRecord> GetProfile(std::string_view name) override;
  absl::StatusOr<std::vector<ProfileRecord>> ListProfiles() override;
  absl::StatusOr<ProfileRecord> CreateProfile(ProfileRecord record) override;
  absl::StatusOr<ProfileRecord> UpdateProfile(ProfileRecord record,
                                              int64_t expected_revision) override;
  absl::Status DeleteProfile(std::string_view name, int64_t expected_revision) override;
  absl::StatusOr<std::vector<std::string>> ProfileUsers(std::string_view name) override;

 private:
  absl::Mutex mu_;
  // Every stored record by name (byte order, as SQLite's BINARY collation). Guarded by mu_.
  std::map<std::string, ContainerRecord, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  // Snapshots by (container, snapshot name). Guarded by mu_.
  std::map<std::pair<std::string, std::string>, SnapshotRecord> snapshots_ ABSL_GUARDED_BY(mu_);
  // Every profile by name. Guarded by mu_.
  std::map<std::string, ProfileRecord, std::less<>> profiles_ ABSL_GUARDED_BY(mu_);

  // OK when every profile of `record` exists once; the errors SqliteStore gives otherwise.
  absl::Status CheckProfilesLocked(const ContainerRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> UsersLocked(std::string_view profile) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

}  // namespace berth::storage

#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace berth::storage {

// Where a stored definition is in its life. Anything but kReady marks an operation that was begun
// and not finished; start-up reconciliation finishes or undoes it.
enum class Phase : int {
  kReady = 0,
  kCreating = 1,  // Row written, container not (yet) created in liblxc.
  kDeleting = 2,  // Destroy under way; the row goes once liblxc no longer has the container.
  kRenaming = 3,  // Row already carries the new name; phase_detail holds the old one.
};

// A device of a container or profile: its type ("disk", "nic", "proxy") and options (e.g. disk:
// source, path, readonly). The store keeps them as given; the core checks them against the type.
struct Device {
  std::string type;
  std::map<std::string, std::string> options;

  friend bool operator==(const Device&, const Device&) = default;
};

// A named set of config keys and devices that containers use, merged in order below their own.
struct ProfileRecord {
  std::string name;
  std::string description;
  std::map<std::string, std::string> config;
  std::map<std::string, Device> devices;
  // Set by the store: 1 on create, +1 on every update.
  int64_t revision = 0;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time updated_at = absl::UnixEpoch();

  friend bool operator==(const ProfileRecord&, const ProfileRecord&) = default;
};

// The profile every store has from its start (made by the migration); it cannot be deleted.
inline constexpr std::string_view kDefaultProfile = "default";

// A container's stored definition. Live state (running, pid...) is never stored.
struct ContainerRecord {
  std::string name;
  std::string source_kind;  // "template" for now; "image" later.
  std::string source_name;  // e.g. "busybox".
  std::vector<std::string> source_args;
  std::map<std::string, std::string> config;
  std::map<std::string, std::string> labels;
  // The profiles whose config and devices apply below the container's own, in order (each must
  // exist: NOT_FOUND otherwise).
  std::vector<std::string> profiles;
  // The container's own devices by name.
  std::map<std::string, Device> devices;
  Phase phase = Phase::kReady;
  std::string phase_detail;
  // Set by the store: 1 on create, +1 on every update.
  int64_t revision = 0;
  // Set by the caller (the core's clock), stored with nanosecond precision.
  absl::Time created_at = absl::UnixEpoch();
  absl::Time updated_at = absl::UnixEpoch();

  friend bool operator==(const ContainerRecord&, const ContainerRecord&) = default;
};

// A snapshot of a container: its name, when it was taken, and the container's definition (config
// and labels) at that moment, put back on restore. The files are the runtime's (under the
// container's directory); this is the record of them.
struct SnapshotRecord {
  std::string container;
  std::string name;
  std::map<std::string, std::string> config;
  std::map<std::string, std::string> labels;
  absl::Time created_at = absl::UnixEpoch();

  friend bool operator==(const SnapshotRecord&, const SnapshotRecord&) = default;
};

// Stores container definitions. Implementations: SqliteStore (the daemon's) and InMemoryStore (unit
// tests), both held to one contract suite (tests/unit/store_contract_test.cc).
//
// Every method is thread-safe and may block (disk I/O): call it from executor threads, never from a
// gRPC reactor. Errors are absl codes: NOT_FOUND, ALREADY_EXISTS, ABORTED (revision mismatch),
// INTERNAL (the database failed; the message names why).
class ContainerStore {
 public:
  virtual ~ContainerStore() = default;

  // NOT_FOUND when there is no container of that name.
  virtual absl::StatusOr<ContainerRecord> Get(std::string_view name) = 0;

  // Every definition, ordered by name.
  virtual absl::StatusOr<std::vector<ContainerRecord>> List() = 0;

  // Stores a new definition with revision 1 and returns it as stored. ALREADY_EXISTS when the name
  // is taken. The record's revision is ignored.
  virtual absl::StatusOr<ContainerRecord> Create(ContainerRecord record) = 0;

  // Replaces the definition stored under `name` with `record` (whose name may differ: a rename),
  // only if the stored revision equals `expected_revision`; returns it as stored, revision + 1.
  // NOT_FOUND, ABORTED on a revision mismatch, ALREADY_EXISTS when renaming onto a taken name.
  virtual absl::StatusOr<ContainerRecord> Update(std::string_view name, ContainerRecord record,
                                                 int64_t expected_revision) = 0;

  // Removes the definition only if its revision equals `expected_revision`. NOT_FOUND, ABORTED.
  virtual absl::Status Delete(std::string_view name, int64_t expected_revision) = 0;

  // Snapshots belong to their container: deleting the container deletes them, renaming it
  // carries them to the new name (ON DELETE/UPDATE CASCADE in SQLite).
  //
  // Stores a new snapshot record and returns it as stored. NOT_FOUND when the container does not
  // exist, ALREADY_EXISTS when it has a snapshot of that name.
  virtual absl::StatusOr<SnapshotRecord> CreateSnapshot(SnapshotRecord record) = 0;
  // The container's snapshots, oldest first (ties by name). Empty when the container has none or
  // does not exist.
  virtual absl::StatusOr<std::vector<SnapshotRecord>> ListSnapshots(std::string_view container) = 0;
  // NOT_FOUND when the container has no snapshot of that name.
  virtual absl::StatusOr<SnapshotRecord> GetSnapshot(std::string_view container,
                                                     std::string_view name) = 0;
  virtual absl::Status DeleteSnapshot(std::string_view container, std::string_view name) = 0;
  // ---- Profiles. Create and Update of a container refuse a profile that does not exist
  // (NOT_FOUND "profile "x" not found"). ----

  // NOT_FOUND when there is no profile of that name.
  virtual absl::StatusOr<ProfileRecord> GetProfile(std::string_view name) = 0;
  // Every profile, ordered by name ("default" is always there).
  virtual absl::StatusOr<std::vector<ProfileRecord>> ListProfiles() = 0;
  // Stores a new profile with revision 1. ALREADY_EXISTS when the name is taken.
  virtual absl::StatusOr<ProfileRecord> CreateProfile(ProfileRecord record) = 0;
  // Replaces the profile (its name stays) if the stored revision is `expected_revision`; returns
  // it as stored, revision + 1. NOT_FOUND, ABORTED on a revision mismatch.
  virtual absl::StatusOr<ProfileRecord> UpdateProfile(ProfileRecord record,
                                                      int64_t expected_revision) = 0;
  // Removes the profile if its revision is `expected_revision` and no container uses it.
  // NOT_FOUND, ABORTED, FAILED_PRECONDITION naming the containers that use it.
  virtual absl::Status DeleteProfile(std::string_view name, int64_t expected_revision) = 0;
  // The containers that use the profile, ordered by name (empty for an unknown profile).
  virtual absl::StatusOr<std::vector<std::string>> ProfileUsers(std::string_view name) = 0;
};

}  // namespace berth::storage

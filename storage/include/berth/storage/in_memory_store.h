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
  InMemoryStore() = default;
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

 private:
  absl::Mutex mu_;
  // Every stored record by name (byte order, as SQLite's BINARY collation). Guarded by mu_.
  std::map<std::string, ContainerRecord, std::less<>> records_ ABSL_GUARDED_BY(mu_);
  // Snapshots by (container, snapshot name). Guarded by mu_.
  std::map<std::pair<std::string, std::string>, SnapshotRecord> snapshots_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::storage

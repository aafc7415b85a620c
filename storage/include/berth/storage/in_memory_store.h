#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
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

 private:
  absl::Mutex mu_;
  // Every stored record by name (byte order, as SQLite's BINARY collation). Guarded by mu_.
  std::map<std::string, ContainerRecord, std::less<>> records_ ABSL_GUARDED_BY(mu_);
};

}  // namespace berth::storage

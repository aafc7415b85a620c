#include "berth/storage/in_memory_store.h"

#include <utility>

#include "record_rules.h"

namespace berth::storage {

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
  record.revision = it->second.revision + 1;
  if (record.name == name) {
    it->second = record;
  } else {
    records_.erase(it);
    records_.emplace(record.name, record);
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
  return absl::OkStatus();
}

}  // namespace berth::storage

#pragma once

// Rules every ContainerStore applies the same way, shared so that SqliteStore and InMemoryStore
// cannot drift apart: error messages, which records are storable, and how timestamps are kept.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "berth/storage/container_store.h"
#include "berth/storage/event_log.h"

namespace berth::storage {

// A container name as messages show it: in double quotes, with quotes and unprintable bytes
// escaped.
std::string QuotedName(std::string_view name);

// NOT_FOUND: container "web" not found
absl::Status ContainerNotFound(std::string_view name);

// NOT_FOUND: profile "small" not found
absl::Status ProfileNotFound(std::string_view name);
// ALREADY_EXISTS: profile "small" already exists
absl::Status ProfileAlreadyExists(std::string_view name);
// ABORTED: profile "small" is at revision 4, not the expected revision 3
absl::Status ProfileRevisionMismatch(std::string_view name, int64_t expected, int64_t actual);
// FAILED_PRECONDITION: profile "small" is used by containers "a", "b"; ...
absl::Status ProfileInUse(std::string_view name, const std::vector<std::string>& users);
// The record's timestamps as they read back from storage; INVALID_ARGUMENT as CheckStorable.
absl::Status CheckStorableProfile(const ProfileRecord& record);
void TruncateTimestamps(ProfileRecord& record);

// ALREADY_EXISTS: container "web" already exists
absl::Status ContainerAlreadyExists(std::string_view name);

// ABORTED: container "web" is at revision 4, not the expected revision 3
absl::Status RevisionMismatch(std::string_view name, int64_t expected, int64_t actual);

// NOT_FOUND: container "web" has no snapshot "s1"
absl::Status SnapshotNotFound(std::string_view container, std::string_view name);
// ALREADY_EXISTS: container "web" already has a snapshot "s1"
absl::Status SnapshotAlreadyExists(std::string_view container, std::string_view name);
// INVALID_ARGUMENT when the snapshot's time cannot be stored.
absl::Status CheckStorable(const SnapshotRecord& record);

// A snapshot's saved definition (config and labels) as one column: each map as a count, then
// length-prefixed keys and values ("<n>:<bytes>"), so any bytes round-trip. DecodeDefinition
// returns DATA_LOSS for text EncodeDefinition did not write.
std::string EncodeDefinition(const std::map<std::string, std::string>& config,
                             const std::map<std::string, std::string>& labels);
absl::Status DecodeDefinition(std::string_view text, std::map<std::string, std::string>& config,
                              std::map<std::string, std::string>& labels);

// INVALID_ARGUMENT when the record cannot be stored faithfully: a timestamp that is infinite or
// outside the int64 nanoseconds-since-epoch range (years 1677..2262).
absl::Status CheckStorable(const ContainerRecord& record);

// Timestamps are stored as int64 nanoseconds since the Unix epoch; finer parts are dropped
// (rounded toward the past). Only for times CheckStorable accepts.
int64_t ToStoredNanos(absl::Time time);
absl::Time FromStoredNanos(int64_t nanos);

// The record's timestamps as they read back from storage.
void TruncateTimestamps(ContainerRecord& record);

// INVALID_ARGUMENT unless `event` may follow an event log whose last id is `last_id`: its id is
// greater, and its time can be stored.
absl::Status CheckAppendable(const StoredEvent& event, int64_t last_id);

// Pruning keeps at least the newest event, so that LastId() never goes down (ids are never reused
// after a restart, even when every event is older than the maximum age).
inline int64_t EffectiveKeepCount(int64_t keep_count) { return keep_count < 1 ? 1 : keep_count; }

}  // namespace berth::storage

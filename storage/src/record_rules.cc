#include "record_rules.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "string_views.h"

namespace berth::storage {
namespace {

bool StorableTime(absl::Time time) {
  const absl::Time stored = FromStoredNanos(ToStoredNanos(time));
  // Infinite times and times beyond the int64 range saturate, leaving a gap of more than 1ns.
  return stored <= time && time - stored < absl::Nanoseconds(1);
}

}  // namespace

std::string QuotedName(std::string_view name) {
  return absl::StrCat("\"", absl::CHexEscape(ToAbsl(name)), "\"");
}

absl::Status ContainerNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("container ", QuotedName(name), " not found"));
}

absl::Status ProfileNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("profile ", QuotedName(name),
                                          " not found; see berth profile list"));
}

absl::Status ProfileAlreadyExists(std::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat("profile ", QuotedName(name), " already exists"));
}

absl::Status ProfileRevisionMismatch(std::string_view name, int64_t expected, int64_t actual) {
  return absl::AbortedError(absl::StrCat("profile ", QuotedName(name), " is at revision ", actual,
                                         ", not the expected revision ", expected,
                                         "; read it again and retry"));
}

absl::Status ProfileInUse(std::string_view name, const std::vector<std::string>& users) {
  std::string names;
  for (const std::string& user : users) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", QuotedName(user));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("profile ", QuotedName(name), " is used by container",
                   users.size() == 1 ? " " : "s ", names,
                   "; remove it from them first (berth profile assign NAME PROFILES)"));
}

absl::Status CheckStorableProfile(const ProfileRecord& record) {
  if (!StorableTime(record.created_at) || !StorableTime(record.updated_at)) {
    return absl::InvalidArgumentError(
        absl::StrCat("profile ", QuotedName(record.name), ": a timestamp cannot be stored"));
  }
  return absl::OkStatus();
}

void TruncateTimestamps(ProfileRecord& record) {
  record.created_at = FromStoredNanos(ToStoredNanos(record.created_at));
  record.updated_at = FromStoredNanos(ToStoredNanos(record.updated_at));
}

absl::Status ContainerAlreadyExists(std::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat("container ", QuotedName(name), " already exists"));
}

absl::Status RevisionMismatch(std::string_view name, int64_t expected, int64_t actual) {
  return absl::AbortedError(absl::StrCat("container ", QuotedName(name), " is at revision ", actual,
                                         ", not the expected revision ", expected));
}

absl::Status CheckStorable(const ContainerRecord& record) {
  if (!StorableTime(record.created_at)) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ", QuotedName(record.name), ": creation time ",
                     absl::FormatTime(record.created_at), " cannot be stored"));
  }
  if (!StorableTime(record.updated_at)) {
    return absl::InvalidArgumentError(
        absl::StrCat("container ", QuotedName(record.name), ": update time ",
                     absl::FormatTime(record.updated_at), " cannot be stored"));
  }
  return absl::OkStatus();
}

int64_t ToStoredNanos(absl::Time time) { return absl::ToUnixNanos(time); }

absl::Time FromStoredNanos(int64_t nanos) { return absl::FromUnixNanos(nanos); }

absl::Status CheckAppendable(const StoredEvent& event, int64_t last_id) {
  if (event.id <= last_id) {
    return absl::InvalidArgumentError(absl::StrCat("event id ", event.id,
                                                   " is not above the log's last id ", last_id,
                                                   "; event ids must only increase"));
  }
  if (!StorableTime(event.time)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "event ", event.id, ": time ", absl::FormatTime(event.time), " cannot be stored"));
  }
  return absl::OkStatus();
}

void TruncateTimestamps(ContainerRecord& record) {
  record.created_at = FromStoredNanos(ToStoredNanos(record.created_at));
  record.updated_at = FromStoredNanos(ToStoredNanos(record.updated_at));
}

}  // namespace berth::storage

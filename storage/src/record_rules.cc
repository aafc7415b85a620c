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

absl::Status SnapshotNotFound(std::string_view container, std::string_view name) {
  return absl::NotFoundError(absl::StrCat("container ", QuotedName(container),
                                          " has no snapshot ", QuotedName(name)));
}

absl::Status SnapshotAlreadyExists(std::string_view container, std::string_view name) {
  return absl::AlreadyExistsError(absl::StrCat("container ", QuotedName(container),
                                               " already has a snapshot ", QuotedName(name)));
}

absl::Status CheckStorable(const SnapshotRecord& record) {
  if (!StorableTime(record.created_at)) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot ", QuotedName(record.name),
                                                   ": creation time cannot be stored"));
  }
  return absl::OkStatus();
}

namespace {

void AppendField(std::string& out, std::string_view field) {
  absl::StrAppend(&out, field.size(), ":", ToAbsl(field));
}

bool ReadNumber(std::string_view& text, size_t& n) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 12) return false;
  n = 0;
  for (char c : text.substr(0, colon)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  text.remove_prefix(colon + 1);
  return true;
}

bool ReadField(std::string_view& text, std::string& field) {
  size_t n = 0;
  if (!ReadNumber(text, n) || n > text.size()) return false;
  field.assign(text.substr(0, n));
  text.remove_prefix(n);
  return true;
}

bool ReadMapField(std::string_view& text, std::map<std::string, std::string>& map) {
  size_t count = 0;
  if (!ReadNumber(text, count)) return false;
  for (size_t i = 0; i < count; ++i) {
    std::string key, value;
    if (!ReadField(text, key) || !ReadField(text, value)) return false;
    map[std::move(key)] = std::move(value);
  }
  return true;
}

}  // namespace

std::string EncodeDefinition(const std::map<std::string, std::string>& config,
                             const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto* map : {&config, &labels}) {
    absl::StrAppend(&out, map->size(), ":");
    for (const auto& [key, value] : *map) {
      AppendField(out, key);
      AppendField(out, value);
    }
  }
  return out;
}

absl::Status DecodeDefinition(std::string_view text, std::map<std::string, std::string>& config,
                              std::map<std::string, std::string>& labels) {
  config.clear();
  labels.clear();
  if (!ReadMapField(text, config) || !ReadMapField(text, labels) || !text.empty()) {
    return absl::DataLossError("a stored snapshot definition is malformed");
  }
  return absl::OkStatus();
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

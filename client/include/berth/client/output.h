#pragma once

// Rendering of daemon answers in the CLI's four formats.
//
// table: for people; columns or "Key:  value" lines, local times, human units.
// json, yaml, csv: for programs; stable lower_snake_case keys equal to the proto field names,
// states without the STATE_ prefix ("RUNNING"), times as RFC 3339 UTC ("2026-11-26T16:50:00Z"),
// sizes and durations as plain integers in the proto's units. csv has a header row, one row per
// record, RFC 4180 quoting and "\n" line ends; repeated fields are joined with ";" and maps as
// "k=v;k=v" (sorted by key) — use json or yaml when values may hold ";" or "=". Every function
// returns the complete text, ending in a newline.

#include <absl/time/time.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "berth/v1/containers.pb.h"
#include "berth/v1/system.pb.h"

namespace berth::client {

enum class OutputFormat { kTable, kJson, kYaml, kCsv };

// "RUNNING" for STATE_RUNNING; "UNKNOWN" for values this client does not know.
std::string StateName(v1::State state);
// Binary units with one decimal: "512 B", "1.5 KiB", "12.3 MiB".
std::string FormatBytes(uint64_t bytes);
// "0.25s", "59.99s", "2m03s", "1h02m03s".
std::string FormatCpuTime(uint64_t nanoseconds);
// "45s", "2m03s", "1h02m03s", "3d04h05m".
std::string FormatUptime(uint64_t seconds);
// "2026-11-26 17:50:00" in `zone`; "-" for an unset (zero) timestamp.
std::string FormatLocalTime(const google::protobuf::Timestamp& timestamp,
                            const absl::TimeZone& zone);
// "2026-11-26T16:50:00Z" (fractional seconds only when non-zero); "" for an unset timestamp.
std::string FormatRfc3339(const google::protobuf::Timestamp& timestamp);
// One RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
std::string CsvField(std::string_view value);

// `berth list`. table columns: NAME STATE PID IPV4 CREATED, in the order given.
std::string FormatContainerList(const google::protobuf::RepeatedPtrField<v1::Container>& containers,
                                OutputFormat format, const absl::TimeZone& zone);

// `berth info`: one container's definition and live status.
std::string FormatContainerInfo(const v1::Container& container, OutputFormat format,
                                const absl::TimeZone& zone);

// `berth version`: the client's version, and the daemon's when it answered.
struct VersionReport {
  std::string client_version;
  std::optional<v1::Version> daemon;
};
std::string FormatVersion(const VersionReport& report, OutputFormat format);

// `berth host`.
std::string FormatHostInfo(const v1::HostInfo& host, OutputFormat format);

// `berth config keys`: KEY TYPE DEFAULT LIVE DESCRIPTION (table), or a list of objects with
// name, type, default, live and help (json, yaml, csv).
std::string FormatConfigKeys(const v1::ListConfigKeysResponse& keys, OutputFormat format);

}  // namespace berth::client

#pragma once

// berth monitor: the event stream, printed as it comes, resumed across berthd restarts.

#include <absl/status/statusor.h>
#include <absl/time/time.h>

#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"
#include "berth/client/output.h"
#include "berth/v1/events.pb.h"

namespace berth::client {

// The event type's name as the CLI shows it: "created", "config-changed", "daemon-started".
std::string EventTypeName(v1::EventType type);

// Parses one --type value: a comma-separated list of groups (lifecycle, config, restart,
// operation, daemon) and single type names (created, started, ...). Unknown names are an error
// whose message lists the known ones.
absl::StatusOr<std::vector<v1::EventType>> ParseEventTypes(const std::string& list);

// One event as one line (ending in "\n"). table: "ID  TIME  TYPE  CONTAINER  STATE  DETAIL" with
// local times; json: one object with the proto's field names, RFC 3339 UTC time, state without
// the STATE_ prefix ("" when none), exit_code only when known. Other formats: as json.
std::string FormatEvent(const v1::Event& event, OutputFormat format, const absl::TimeZone& zone);

// When `args` (argv without the program name) is a `monitor` command, runs it against the daemon
// at the socket (--socket, BERTH_SOCKET, default) until Ctrl-C (SIGINT) or SIGTERM (exit 0) or an
// error berth cannot recover from (its exit code, see exit_codes.h). When berthd goes away
// (UNAVAILABLE) or cuts the monitor off for being slow (RESOURCE_EXHAUSTED), it subscribes again
// with backoff, from the last id received + 1, so no event is lost or repeated. Returns nullopt
// for every other command.
std::optional<int> RunMonitorCommandLine(const std::vector<std::string>& args,
                                         const Environment& env);

}  // namespace berth::client

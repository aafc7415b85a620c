#pragma once

// The berth CLI's exit codes: one per failure class, so scripts can tell "not found" from "daemon
// down" without parsing stderr. This file is the one place they are defined; never renumber them.

#include <grpcpp/support/status.h>

#include <string>

namespace berth::client {

inline constexpr int kExitOk = 0;
// INTERNAL, UNKNOWN and every code without its own row below (CANCELLED, UNIMPLEMENTED, ...).
inline constexpr int kExitFailure = 1;
// Bad command-line arguments (CLI11's parse errors, a malformed KEY=VALUE).
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNotFound = 3;
inline constexpr int kExitAlreadyExists = 4;
// The container is in the wrong state for the operation.
inline constexpr int kExitFailedPrecondition = 5;
inline constexpr int kExitInvalidArgument = 6;
// The daemon is unreachable or draining.
inline constexpr int kExitUnavailable = 7;
// PERMISSION_DENIED and UNAUTHENTICATED.
inline constexpr int kExitPermissionDenied = 8;
inline constexpr int kExitDeadlineExceeded = 9;
// A conflict, e.g. a revision that changed underneath the caller.
inline constexpr int kExitAborted = 10;
inline constexpr int kExitResourceExhausted = 11;

// The exit code for a call that ended with `code`. Total: every code, including values outside the
// enum, maps to one of the constants above (OK maps to kExitOk).
int ExitCodeForStatus(grpc::StatusCode code);

// The canonical upper-case name of `code`, e.g. "NOT_FOUND"; "CODE_<n>" for unknown values.
std::string StatusCodeName(grpc::StatusCode code);

}  // namespace berth::client

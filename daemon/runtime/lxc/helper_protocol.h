#pragma once

// The contract between LxcDriver and berth-lxc-helper, in one place.
//
// Invocation (argv), one liblxc call per run:
//   berth-lxc-helper create  <lxcpath> <name> <template-path> [template-args...]
//   berth-lxc-helper start   <lxcpath> <name>
//   berth-lxc-helper destroy <lxcpath> <name>
// stdin is /dev/null; stdout and stderr are one pipe to the daemon; every other fd is closed.
//
// Result: the exit code carries an absl::StatusCode (HelperExitCode); stdout carries the message
// (for a failure: what failed and the ERROR lines of the LXC logs). The daemon reads at most
// kMaxHelperOutputBytes of it and does not wait for EOF (a container's monitor could inherit the
// pipe), only for the helper process to exit.

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace berth::runtime::lxc {

enum class HelperOp { kCreate, kStart, kDestroy };

std::string_view HelperOpName(HelperOp op);  // "create", "start", "destroy"
std::optional<HelperOp> ParseHelperOp(std::string_view name);

// The most the daemon reads of a helper's output; the helper keeps its message below it.
inline constexpr size_t kMaxHelperOutputBytes = 64 * 1024;

// Exit codes: 0 is OK; code c (1..16) exits with kHelperExitBase + c. Anything else (a crash in
// the dynamic loader, exit(1) from a library, 127 from a failed exec) is not ours.
inline constexpr int kHelperExitBase = 100;

int HelperExitCode(absl::StatusCode code);
// The status code for a helper exit code, or nullopt for an exit code the helper never uses.
std::optional<absl::StatusCode> StatusCodeFromHelperExit(int exit_code);

}  // namespace berth::runtime::lxc

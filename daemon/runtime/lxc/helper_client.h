#pragma once

// Runs berth-lxc-helper for one operation and turns its exit into an absl::Status.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lxc/fs_util.h"
#include "lxc/helper_protocol.h"

namespace berth::runtime::lxc {

// Spawns `helper_path` with argv {helper, op, args...} and waits for that process (and only it)
// to exit, reading its output meanwhile (at most kMaxHelperOutputBytes kept). The child gets
// stdin=/dev/null, stdout=stderr=a pipe, no other fds, a fresh session, default signal handling
// and a minimal environment. Safe to call from any thread, concurrently.
//
// Returns the helper's status (code from its exit code, message from its output). INTERNAL when
// the helper cannot be spawned, exits with a code outside the protocol, or is killed by a signal
// (the message names the signal). DEADLINE_EXCEEDED (helper killed) after `timeout`.
//
// With `received_fds`, the helper's stdout is a Unix stream socket instead of a pipe, and every
// fd it sends (SCM_RIGHTS) is appended there, close-on-exec (also when the call fails: the caller
// decides).
absl::Status RunHelper(const std::string& helper_path, HelperOp op,
                       const std::vector<std::string>& args, absl::Duration timeout,
                       std::vector<UniqueFd>* received_fds = nullptr);

}  // namespace berth::runtime::lxc

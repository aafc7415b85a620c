#pragma once

// berth exec / berth shell: a process inside a container, its stdio over one gRPC stream.

#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is an `exec` or `shell` command, runs it against
// the daemon at the socket (--socket, BERTH_SOCKET, default) and returns berth's exit code: the
// process's exit code, or the error's exit code (see exit_codes.h) when it could not run.
// Returns nullopt for every other command. Uses the process's real stdin/stdout/stderr and
// terminal (raw mode with -t, restored before returning).
std::optional<int> RunExecCommandLine(const std::vector<std::string>& args, const Environment& env);

}  // namespace berth::client

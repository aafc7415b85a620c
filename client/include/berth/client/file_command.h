#pragma once

// berth file push / berth file pull: single files into and out of a container.

#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is a `file` command, runs it against the daemon at
// the socket (--socket, BERTH_SOCKET, default) and returns berth's exit code (0, or the error's,
// see exit_codes.h; a local file that cannot be read or written is 1). Returns nullopt for every
// other command. `pull ... -` writes the file to the real stdout.
std::optional<int> RunFileCommandLine(const std::vector<std::string>& args, const Environment& env);

}  // namespace berth::client

#pragma once

#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is an `image` command (import, build, list, info,
// alias add/remove, delete, export), runs it against the daemon at the socket (--socket,
// BERTH_SOCKET, default) and returns berth's exit code. Returns nullopt for every other command.
// import, build and export show a progress bar on a terminal (stderr) and plain lines otherwise.
std::optional<int> RunImageCommandLine(const std::vector<std::string>& args,
                                       const Environment& env);

}  // namespace berth::client

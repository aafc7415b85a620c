#pragma once

// berth snapshot create|list|restore|delete and berth copy (berth.v1.Snapshots).

#include <optional>
#include <string>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// When `args` (argv without the program name) is a `snapshot` or `copy` command, runs it against
// the daemon at the socket (--socket, BERTH_SOCKET, default) and returns berth's exit code (0, 2
// for usage, or the error's, see exit_codes.h). Returns nullopt for every other command.
std::optional<int> RunSnapshotCommandLine(const std::vector<std::string>& args,
                                          const Environment& env);

}  // namespace berth::client

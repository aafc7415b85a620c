#pragma once

// berth console: a container's console over one gRPC stream, or its log.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "berth/client/command_line.h"

namespace berth::client {

// The detach keys of an attached console, applied to what the user types: Ctrl-a q detaches,
// Ctrl-a a sends one Ctrl-a; Ctrl-a followed by anything else sends both. A Ctrl-a at the end of
// one read waits for the next.
class ConsoleEscape {
 public:
  static constexpr char kPrefix = '\x01';  // Ctrl-a

  // The bytes to send for `typed`; sets `detach` when Ctrl-a q was typed (what follows it is
  // dropped).
  std::string Feed(std::string_view typed, bool& detach);

 private:
  bool prefix_pending_ = false;
};

// When `args` (argv without the program name) is a `console` command, runs it against the daemon
// at the socket (--socket, BERTH_SOCKET, default) and returns berth's exit code; nullopt for
// every other command. Attached, the local terminal is in raw mode until it returns.
std::optional<int> RunConsoleCommandLine(const std::vector<std::string>& args,
                                         const Environment& env);

}  // namespace berth::client

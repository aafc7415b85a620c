#pragma once

// Runs a parsed command: one call (list: one per page) with a deadline, then prints the answer or
// the error. Talks to the daemon only through the generated stub interfaces, so tests can point it
// at any server.

#include <absl/time/time.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "berth/client/command_line.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/lifecycle.grpc.pb.h"
#include "berth/v1/system.grpc.pb.h"

namespace berth::client {

// The daemon as the runner sees it. Used from one thread.
class Connection {
 public:
  virtual ~Connection() = default;

  // The service stubs; owned by the connection, valid for its lifetime.
  virtual v1::Containers::StubInterface& containers() = 0;
  virtual v1::Lifecycle::StubInterface& lifecycle() = 0;
  virtual v1::System::StubInterface& system() = 0;

  // Asked after a call failed with UNAVAILABLE: true if a connection to the daemon is up (so the
  // daemon itself said UNAVAILABLE, e.g. draining), false if none could be made.
  virtual bool ReachedDaemon() = 0;
};

// Makes the connection for a socket path. Must not block: connecting happens on the first call.
using Connector = std::function<std::unique_ptr<Connection>(const std::string& socket_path)>;

// The production connector: an insecure gRPC channel to "unix:<socket_path>". Cheap: no
// connection is made until the first call, and calls fail fast (no wait-for-ready).
std::unique_ptr<Connection> ConnectUnixSocket(const std::string& socket_path);

// Where the runner writes, and the zone for table times.
struct Console {
  std::ostream& out;
  std::ostream& err;
  absl::TimeZone time_zone;
};

// Runs `invocation` against `connection`. Success prints the answer (commands that change state
// print nothing) and returns kExitOk; failure prints the error report (see errors.h) and returns
// ExitCodeForStatus(code). `version` prints the client part even when the daemon does not answer.
int RunInvocation(const Invocation& invocation, Connection& connection, const Console& console);

// The whole CLI: parse `args` (argv without the program name), connect with `connect` if there is
// a call to make, run it. Returns the process exit code. Never throws for bad input.
int RunCommandLine(const std::vector<std::string>& args, const Environment& env,
                   const Connector& connect, const Console& console);

}  // namespace berth::client

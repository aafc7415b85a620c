#pragma once

// Parsing of the berth command line into the request proto to send. No validation of names or
// values beyond their syntax: all policy lives in the daemon.

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "berth/client/output.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/lifecycle.pb.h"
#include "berth/v1/system.pb.h"

namespace berth::client {

inline constexpr char kDefaultSocketPath[] = "/run/berth/berth.sock";
// Deadline of every call unless a command says otherwise.
inline constexpr std::chrono::seconds kDefaultDeadline{30};
// stop/restart: the daemon waits up to the stop timeout, then kills; this is on top of it.
inline constexpr std::chrono::seconds kStopDeadlineSlack{15};
// The daemon's stop timeout when the request leaves it 0.
inline constexpr std::chrono::seconds kDefaultStopTimeout{30};

// The request to send; the alternative names the RPC. CreateContainerRequest serves both `create`
// and `launch` (start = true).
using Request =
    std::variant<v1::CreateContainerRequest, v1::ListContainersRequest, v1::GetContainerRequest,
                 v1::StartContainerRequest, v1::StopContainerRequest, v1::RestartContainerRequest,
                 v1::FreezeContainerRequest, v1::UnfreezeContainerRequest,
                 v1::RenameContainerRequest, v1::DeleteContainerRequest, v1::WaitContainerRequest,
                 v1::GetVersionRequest, v1::GetHostInfoRequest>;

// A parsed command: what to call, where, with which deadline, and how to print the answer.
struct Invocation {
  std::string socket_path = kDefaultSocketPath;
  bool debug = false;
  OutputFormat format = OutputFormat::kTable;
  // Deadline of each call, from its start. nullopt only for `wait` without --timeout.
  std::optional<std::chrono::milliseconds> deadline = kDefaultDeadline;
  Request request;
};

// The environment the parser consults (filled from getenv by main).
struct Environment {
  // BERTH_SOCKET: the socket when --socket is not given.
  std::optional<std::string> berth_socket;
};

// Either an invocation to run, or the end of the process: help (exit 0) or a usage error (exit 2).
struct ParseResult {
  std::optional<Invocation> invocation;
  // When there is no invocation: the exit code, and the text for stdout / stderr.
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Parses `args` (argv without the program name). Never throws. A usage error is one line on `err`,
// "berth: <what is wrong>; run 'berth --help' for usage", with exit_code kExitUsage.
ParseResult ParseCommandLine(const std::vector<std::string>& args, const Environment& env);

// The global options before the subcommand word (`berth [--socket PATH] [--debug] COMMAND ...`),
// for the commands that parse their own arguments (exec, shell, console, file, monitor, config).
struct LeadingOptions {
  std::string socket;  // empty: not given
  bool debug = false;
  size_t command_index = 0;  // args.size() when there is no subcommand word
};
LeadingOptions ParseLeadingOptions(const std::vector<std::string>& args);

}  // namespace berth::client

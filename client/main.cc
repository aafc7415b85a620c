// berth: the command-line client of berthd. One process per command: parse, call, print.

#include <absl/time/time.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "berth/client/config_command.h"
#include "berth/client/console_command.h"
#include "berth/client/exec_command.h"
#include "berth/client/exit_codes.h"
#include "berth/client/file_command.h"
#include "berth/client/image_command.h"
#include "berth/client/monitor_command.h"
#include "berth/client/profile_command.h"
#include "berth/client/remote.h"
#include "berth/client/runner.h"
#include "berth/client/snapshot_command.h"

int main(int argc, char** argv) {
  try {
    berth::client::Environment env;
    if (const char* socket = std::getenv("BERTH_SOCKET"); socket != nullptr) {
      env.berth_socket = socket;
    }
    // berth --remote NAME ..., NAME:CONTAINER, or the current remote (client/src/remote_command.cc).
    auto selected = berth::client::SelectTarget(std::vector<std::string>(argv + 1, argv + argc), env);
    if (!selected.ok()) {
      std::cerr << "berth: " << selected.status().message() << "\n";
      return absl::IsNotFound(selected.status()) ? berth::client::kExitNotFound
                                                 : berth::client::kExitUsage;
    }
    const std::vector<std::string> args = *std::move(selected);
    // remote add/list/switch/remove and config trust ... (remote_command.cc, trust_command.cc).
    if (std::optional<int> code = berth::client::RunRemoteCommandLine(args, env); code) return *code;
    if (std::optional<int> code = berth::client::RunTrustCommandLine(args, env); code) return *code;
    // exec and shell stream stdio through their own loop (client/src/exec_command.cc).
    if (std::optional<int> code = berth::client::RunExecCommandLine(args, env); code.has_value()) {
      return *code;
    }
    // console attaches the terminal to a container's console (client/src/console_command.cc).
    if (std::optional<int> code = berth::client::RunConsoleCommandLine(args, env);
        code.has_value()) {
      return *code;
    }
    // file push/pull stream file bytes (client/src/file_command.cc).
    if (std::optional<int> code = berth::client::RunFileCommandLine(args, env); code.has_value()) {
      return *code;
    }
    // image import/build/list/info/alias/delete/export (client/src/image_command.cc).
    if (std::optional<int> code = berth::client::RunImageCommandLine(args, env); code.has_value()) {
      return *code;
    }
    // monitor prints events as they come until Ctrl-C (client/src/monitor_command.cc).
    if (std::optional<int> code = berth::client::RunMonitorCommandLine(args, env);
        code.has_value()) {
      return *code;
    }
    // config set/get/unset/show/edit/keys (client/src/config_command.cc).
    if (std::optional<int> code = berth::client::RunConfigCommandLine(args, env);
        code.has_value()) {
      return *code;
    }
    // snapshot create/list/restore/delete and copy (client/src/snapshot_command.cc).
    if (std::optional<int> code = berth::client::RunSnapshotCommandLine(args, env);
        code.has_value()) {
      return *code;
    }
    // profile create/list/show/set/edit/delete/assign/device (client/src/profile_command.cc).
    if (std::optional<int> code = berth::client::RunProfileCommandLine(args, env);
        code.has_value()) {
      return *code;
    }
    const berth::client::Console console{std::cout, std::cerr, absl::LocalTimeZone()};
    const int code =
        berth::client::RunCommandLine(args, env, berth::client::ConnectUnixSocket, console);
    std::cout.flush();
    return code;
  } catch (const std::exception& e) {
    // A third-party library threw (e.g. allocation failure); nothing of ours throws.
    std::cerr << "berth: internal error: " << e.what() << "\n";
    return berth::client::kExitFailure;
  }
}

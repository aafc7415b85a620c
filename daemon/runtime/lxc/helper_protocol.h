#pragma once

// The contract between LxcDriver and berth-lxc-helper, in one place.
//
// Invocation (argv), one liblxc call per run:
//   berth-lxc-helper create  <lxcpath> <name> <template-path> [template-args...]
//   berth-lxc-helper start   <lxcpath> <name>
//   berth-lxc-helper destroy <lxcpath> <name>
//   berth-lxc-helper exec    <lxcpath> <name> [--tty] [--uid N] [--gid N] [--cwd DIR]
//                            [--env K=V]... -- <argv...>
//   berth-lxc-helper console <lxcpath> <name>
// stdin is /dev/null; stdout and stderr are one pipe to the daemon (for console: one end of a
// Unix stream socket pair); every other fd is closed.
//
// Result: the exit code carries an absl::StatusCode (HelperExitCode); stdout carries the message
// (for a failure: what failed and the ERROR lines of the LXC logs). The daemon reads at most
// kMaxHelperOutputBytes of it and does not wait for EOF (a container's monitor could inherit the
// pipe), only for the helper process to exit.
//
// exec is different (see ExecProcess in berth/runtime/exec_process.h): fds 0-2 are the process's
// stdio (pipes or a pty slave), fd 3 is the report pipe, fd 4 the control pipe. The helper attaches
// (liblxc attach, never in the daemon) with the container's environment cleared to the --env
// list, the process in a session of its own (with --tty, the pty its controlling terminal), then
// forwards each int32 signal number read from fd 4 to the process group; EOF on fd 4 kills the
// group (SIGKILL). When the process ends the helper writes "exit <code> <signal>\n" (code 128+N
// for signal N; 127 when the command does not exist) to fd 3 and exits 0. Failures before the
// process runs are reported like the other ops (exit code, message on fd 3).
//
// console gets the container's console from liblxc (console_getfd on tty 0, /dev/console; it
// talks to the container's monitor and does not fork) and, on success, sends the daemon one
// byte 'F' with SCM_RIGHTS carrying three fds, in order: the proxy terminal's master, the
// monitor's command socket (held open while attached) and a pidfd of the monitor (-1 is never
// sent: without one the helper fails). Then it exits 0 without a message.

#include <optional>
#include <string_view>

#include "absl/status/status.h"

namespace berth::runtime::lxc {

enum class HelperOp { kCreate, kStart, kDestroy, kExec, kConsole };

std::string_view HelperOpName(HelperOp op);  // "create", "start", "destroy", "exec", "console"
std::optional<HelperOp> ParseHelperOp(std::string_view name);

// The most the daemon reads of a helper's output; the helper keeps its message below it.
inline constexpr size_t kMaxHelperOutputBytes = 64 * 1024;

// Exit codes: 0 is OK; code c (1..16) exits with kHelperExitBase + c. Anything else (a crash in
// the dynamic loader, exit(1) from a library, 127 from a failed exec) is not ours.
inline constexpr int kHelperExitBase = 100;

// How many fds the console op sends.
inline constexpr int kConsoleFdCount = 3;

int HelperExitCode(absl::StatusCode code);
// The status code for a helper exit code, or nullopt for an exit code the helper never uses.
std::optional<absl::StatusCode> StatusCodeFromHelperExit(int exit_code);

}  // namespace berth::runtime::lxc

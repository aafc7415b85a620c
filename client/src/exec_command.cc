#include "berth/client/exec_command.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <thread>

#include "berth/client/command_line.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/client/terminal.h"
#include "berth/v1/exec.grpc.pb.h"

namespace berth::client {
namespace {

constexpr size_t kStdinChunk = 128 * 1024;

constexpr char kExecUsage[] =
    "usage: berth exec NAME [--env K=V]... [--cwd DIR] [--user UID[:GID]] [-t|-T] -- CMD "
    "[ARGS...]\n"
    "       berth shell NAME\n"
    "Runs CMD inside the running container NAME; its exit code becomes berth's. stdout and\n"
    "stderr stay apart; stdin is forwarded until EOF. -t gives it a terminal (raw mode here,\n"
    "window size and resizes forwarded, Ctrl-C goes to the process); -T (default) pipes.\n";

struct ExecArgs {
  std::string socket;
  bool debug = false;
  std::string name;
  v1::ExecStart start;
  bool tty = false;
};

// nullopt and a usage line on stderr on error.
std::optional<ExecArgs> Parse(const std::vector<std::string>& args, size_t command_index,
                              bool shell, int& exit_code) {
  ExecArgs a;
  auto usage_error = [&exit_code](const std::string& what) {
    std::cerr << "berth: " << what << "; run 'berth exec --help' for usage\n";
    exit_code = kExitUsage;
    return std::nullopt;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    if (i == command_index) continue;
    const std::string& arg = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (arg == "-h" || arg == "--help") {
      std::cout << kExecUsage;
      exit_code = kExitOk;
      return std::nullopt;
    } else if (arg == "--socket") {
      if (!value(a.socket)) return usage_error("--socket needs a path");
    } else if (arg == "--debug") {
      a.debug = true;
    } else if (i < command_index) {
      return usage_error(absl::StrCat("unknown option ", arg));
    } else if (arg == "--") {
      if (shell) return usage_error("berth shell takes no command");
      for (++i; i < args.size(); ++i) a.start.add_argv(args[i]);
    } else if (!shell && arg == "--env") {
      if (!value(v) || v.find('=') == std::string::npos || v.front() == '=') {
        return usage_error("--env needs KEY=VALUE");
      }
      (*a.start.mutable_env())[v.substr(0, v.find('='))] = v.substr(v.find('=') + 1);
    } else if (!shell && arg == "--cwd") {
      if (!value(v)) return usage_error("--cwd needs a directory");
      a.start.set_cwd(v);
    } else if (!shell && arg == "--user") {
      if (!value(v)) return usage_error("--user needs UID[:GID]");
      const size_t colon = v.find(':');
      uint32_t uid = 0;
      uint32_t gid = 0;
      if (!absl::SimpleAtoi(v.substr(0, colon), &uid) ||
          (colon != std::string::npos && !absl::SimpleAtoi(v.substr(colon + 1), &gid))) {
        return usage_error("--user needs numeric UID[:GID]");
      }
      if (colon == std::string::npos) gid = uid;
      a.start.set_uid(uid);
      a.start.set_gid(gid);
    } else if (!shell && (arg == "-t" || arg == "--tty")) {
      a.tty = true;
    } else if (!shell && (arg == "-T" || arg == "--no-tty")) {
      a.tty = false;
    } else if (!arg.empty() && arg[0] == '-' && a.name.empty()) {
      return usage_error(absl::StrCat("unknown option ", arg));
    } else if (a.name.empty()) {
      a.name = arg;
    } else if (!shell) {
      for (; i < args.size(); ++i) a.start.add_argv(args[i]);
    } else {
      return usage_error("berth shell takes one container name");
    }
  }
  if (a.name.empty()) return usage_error("a container name is needed");
  if (shell) {
    a.tty = true;
    for (const char* arg : {"/bin/sh", "-c",
                            "if command -v bash >/dev/null 2>&1; then exec bash -l; "
                            "else exec sh -l; fi"}) {
      a.start.add_argv(arg);
    }
    (*a.start.mutable_env())["USER"] = "root";
  } else if (a.start.argv().empty()) {
    return usage_error("a command is needed after --");
  }
  a.start.set_container(a.name);
  a.start.set_tty(a.tty);
  return a;
}

int Run(ExecArgs a) {
  ::signal(SIGPIPE, SIG_IGN);
  auto channel =
      OpenChannel(a.socket);
  auto stub = v1::Exec::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Exec(&ctx);

  SignalPipe signals({SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT});
  if (!signals.ok()) return kExitFailure;
  if (a.tty) FillWindow(a.start.mutable_window());

  std::optional<RawMode> raw;
  if (a.tty && ::isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);

  v1::ExecRequest first;
  *first.mutable_start() = a.start;
  stream->Write(first);

  const int done_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::optional<v1::ExecExit> exit;
  bool output_failed = false;
  bool started = false;  // The daemon said the process runs (initial metadata, see exec.proto).
  std::thread reader([&] {
    stream->WaitForInitialMetadata();
    started = ctx.GetServerInitialMetadata().contains("berth-exec");
    v1::ExecResponse response;
    while (stream->Read(&response)) {
      if (response.has_exit()) {
        exit = response.exit();
      } else if (response.frame_case() == v1::ExecResponse::kStdout) {
        if (!WriteAll(STDOUT_FILENO, response.stdout())) {
          output_failed = true;
          ctx.TryCancel();
        }
      } else if (response.frame_case() == v1::ExecResponse::kStderr) {
        (void)WriteAll(STDERR_FILENO, response.stderr());
      }
    }
    const uint64_t one = 1;
    (void)!::write(done_fd, &one, sizeof(one));
  });

  bool stdin_open = true;
  std::string buf(kStdinChunk, '\0');
  while (true) {
    pollfd fds[3] = {{done_fd, POLLIN, 0},
                     {signals.fd(), POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 3, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || (fds[0].revents & POLLIN) != 0) break;
    if ((fds[1].revents & POLLIN) != 0) {
      for (const char c : signals.Take()) {
        const int sig = static_cast<unsigned char>(c);
        if (sig == SIGWINCH && !a.tty) continue;
        v1::ExecRequest req;
        if (sig == SIGWINCH) {
          FillWindow(req.mutable_resize());
        } else {
          req.set_signal(sig);
        }
        if (!stream->Write(req)) break;
      }
    }
    if ((fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      v1::ExecRequest req;
      if (n <= 0) {
        stdin_open = false;
        req.set_stdin_eof(true);
      } else {
        req.set_stdin(buf.data(), static_cast<size_t>(n));
      }
      if (!stream->Write(req)) stdin_open = false;
    }
  }
  stream->WritesDone();
  reader.join();
  const grpc::Status status = stream->Finish();
  raw.reset();
  ::close(done_fd);
  if (output_failed) return kExitFailure;
  if (status.ok() && exit.has_value()) return exit->code();
  grpc::Status error = status;
  if (status.ok())
    error = grpc::Status(grpc::StatusCode::INTERNAL, "the stream ended without an exit status");
  ErrorContext context = CallContext(a.socket, "Exec", error);
  context.session_up = started;
  context.after_loss = "the container keeps running; the process was ended with its session";
  return ReportCallError(error, context, a.debug, std::cerr);
}

}  // namespace

std::optional<int> RunExecCommandLine(const std::vector<std::string>& args,
                                      const Environment& env) {
  const size_t index = ParseLeadingOptions(args).command_index;
  if (index >= args.size() || (args[index] != "exec" && args[index] != "shell")) {
    return std::nullopt;
  }
  int exit_code = kExitUsage;
  std::optional<ExecArgs> parsed = Parse(args, index, args[index] == "shell", exit_code);
  if (!parsed.has_value()) return exit_code;
  if (parsed->socket.empty()) parsed->socket = env.berth_socket.value_or(kDefaultSocketPath);
  return Run(*std::move(parsed));
}

}  // namespace berth::client

#include "berth/client/console_command.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <thread>

#include "berth/client/command_line.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/client/terminal.h"
#include "berth/v1/console.grpc.pb.h"

namespace berth::client {
namespace {

constexpr size_t kInputChunk = 64 * 1024;
// What the daemon's initial metadata says once the console is attached (see console.proto).
constexpr char kAttachedKey[] = "berth-console";

constexpr char kConsoleUsage[] =
    "usage: berth console NAME [--show-log]\n"
    "Attaches this terminal to the console of the running container NAME (raw mode; window\n"
    "size and resizes forwarded). Ctrl-a q detaches (the container keeps running); Ctrl-a a\n"
    "sends a Ctrl-a. One client at a time per console.\n"
    "  --show-log  print the last 64 KiB the console printed (running or stopped) and exit\n";

struct ConsoleArgs {
  std::string socket;
  bool debug = false;
  std::string name;
  bool show_log = false;
};

// nullopt and a usage line on stderr (or the help on stdout) when there is nothing to run.
std::optional<ConsoleArgs> Parse(const std::vector<std::string>& args, size_t command_index,
                                 int& exit_code) {
  ConsoleArgs a;
  auto usage_error = [&exit_code](const std::string& what) {
    std::cerr << "berth: " << what << "; run 'berth console --help' for usage\n";
    exit_code = kExitUsage;
    return std::nullopt;
  };
  bool names_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i == command_index) continue;
    const std::string& arg = args[i];
    if (!names_only && (arg == "-h" || arg == "--help")) {
      std::cout << kConsoleUsage;
      exit_code = kExitOk;
      return std::nullopt;
    } else if (!names_only && arg == "--socket") {
      if (i + 1 >= args.size()) return usage_error("--socket needs a path");
      a.socket = args[++i];
    } else if (!names_only && arg == "--debug") {
      a.debug = true;
    } else if (i < command_index) {
      return usage_error(absl::StrCat("unknown option ", arg));
    } else if (!names_only && arg == "--show-log") {
      a.show_log = true;
    } else if (!names_only && arg == "--") {
      names_only = true;
    } else if (!names_only && !arg.empty() && arg[0] == '-') {
      return usage_error(absl::StrCat("unknown option ", arg));
    } else if (a.name.empty()) {
      a.name = arg;
    } else {
      return usage_error("berth console takes one container name");
    }
  }
  if (a.name.empty()) return usage_error("a container name is needed");
  return a;
}

int Fail(const grpc::Status& status, const ConsoleArgs& a, const char* rpc, bool reached,
         bool attached = false) {
  ErrorContext context = CallContext(a.socket, rpc, status);
  context.reached_daemon = reached;
  context.session_up = attached;
  context.after_loss = absl::StrCat("the container keeps running: attach again with berth console ",
                                    a.name);
  return ReportCallError(status, context, a.debug, std::cerr);
}

int ShowLog(const ConsoleArgs& a, const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::Console::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + kDefaultDeadline);
  v1::GetConsoleLogRequest request;
  request.set_container(a.name);
  v1::GetConsoleLogResponse response;
  const grpc::Status status = stub->GetLog(&ctx, request, &response);
  if (!status.ok()) {
    return Fail(status, a, "GetLog", status.error_code() != grpc::StatusCode::UNAVAILABLE);
  }
  if (!WriteAll(STDOUT_FILENO, response.data())) return kExitFailure;
  return kExitOk;
}

int Attach(const ConsoleArgs& a, const std::shared_ptr<grpc::Channel>& channel) {
  ::signal(SIGPIPE, SIG_IGN);
  auto stub = v1::Console::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->Attach(&ctx);

  SignalPipe signals({SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT});
  if (!signals.ok()) return kExitFailure;
  v1::ConsoleRequest first;
  first.mutable_start()->set_container(a.name);
  FillWindow(first.mutable_start()->mutable_window());
  stream->Write(first);

  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  std::optional<RawMode> raw;
  const int done_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::atomic<bool> attached = false;
  std::string closed_reason;
  bool output_failed = false;
  std::thread reader([&] {
    // The daemon sends its initial metadata once the console is attached; an error before that
    // ends the stream without it.
    stream->WaitForInitialMetadata();
    const auto& metadata = ctx.GetServerInitialMetadata();
    if (metadata.find(kAttachedKey) != metadata.end()) {
      attached = true;
      std::cerr << "berth: attached to the console of \"" << a.name << "\"; Ctrl-a q detaches"
                << (interactive ? "\r\n" : "\n") << std::flush;
    }
    v1::ConsoleResponse response;
    while (stream->Read(&response)) {
      if (response.frame_case() == v1::ConsoleResponse::kOutput) {
        if (!WriteAll(STDOUT_FILENO, response.output())) {
          output_failed = true;
          ctx.TryCancel();
        }
      } else if (response.frame_case() == v1::ConsoleResponse::kClosed) {
        closed_reason = response.closed();
      }
    }
    const uint64_t one = 1;
    (void)!::write(done_fd, &one, sizeof(one));
  });
  if (interactive) raw.emplace(STDIN_FILENO);

  ConsoleEscape escape;
  bool detach = false;
  bool stdin_open = true;
  std::string buf(kInputChunk, '\0');
  while (!detach) {
    pollfd fds[3] = {{done_fd, POLLIN, 0},
                     {signals.fd(), POLLIN, 0},
                     {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    const int ready = ::poll(fds, 3, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || (fds[0].revents & POLLIN) != 0) break;
    if ((fds[1].revents & POLLIN) != 0) {
      for (const char c : signals.Take()) {
        if (c == SIGWINCH) {
          v1::ConsoleRequest req;
          FillWindow(req.mutable_resize());
          (void)stream->Write(req);
        } else {
          detach = true;  // SIGTERM, SIGHUP, ...: detach cleanly, the container runs on
        }
      }
    }
    if (!detach && (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        // No more keystrokes (stdin is a file or a closed pipe): detach.
        stdin_open = false;
        detach = true;
        break;
      }
      v1::ConsoleRequest req;
      req.set_input(escape.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), detach));
      if (!req.input().empty() && !stream->Write(req)) stdin_open = false;
    }
  }
  stream->WritesDone();  // the daemon ends the session OK
  reader.join();
  const grpc::Status status = stream->Finish();
  raw.reset();
  ::close(done_fd);
  if (output_failed) return kExitFailure;
  if (status.ok()) {
    if (detach && attached)
      std::cerr << "berth: detached from the console of \"" << a.name << "\"\n";
    if (!closed_reason.empty()) std::cerr << "berth: " << closed_reason << "\n";
    return kExitOk;
  }
  return Fail(status, a, "Attach", status.error_code() != grpc::StatusCode::UNAVAILABLE, attached);
}

}  // namespace

std::string ConsoleEscape::Feed(std::string_view typed, bool& detach) {
  std::string out;
  out.reserve(typed.size());
  for (const char c : typed) {
    if (!prefix_pending_) {
      if (c == kPrefix) {
        prefix_pending_ = true;
      } else {
        out.push_back(c);
      }
      continue;
    }
    prefix_pending_ = false;
    if (c == 'q') {
      detach = true;
      return out;
    }
    if (c == 'a') {
      out.push_back(kPrefix);
    } else {
      out.push_back(kPrefix);
      out.push_back(c);
    }
  }
  return out;
}

std::optional<int> RunConsoleCommandLine(const std::vector<std::string>& args,
                                         const Environment& env) {
  const size_t index = ParseLeadingOptions(args).command_index;
  if (index >= args.size() || args[index] != "console") return std::nullopt;
  int exit_code = kExitUsage;
  std::optional<ConsoleArgs> parsed = Parse(args, index, exit_code);
  if (!parsed.has_value()) return exit_code;
  if (parsed->socket.empty()) parsed->socket = env.berth_socket.value_or(kDefaultSocketPath);
  auto channel = OpenChannel(parsed->socket);
  return parsed->show_log ? ShowLog(*parsed, channel) : Attach(*parsed, channel);
}

}  // namespace berth::client

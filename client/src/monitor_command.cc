#include "berth/client/monitor_command.h"

#include <absl/strings/ascii.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "berth/client/command_line.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/v1/events.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kMonitorUsage[] =
    "usage: berth monitor [--type LIST]... [--container NAME]... [--since ID]\n"
    "                     [--format table|json]\n"
    "Prints berthd's events as they happen until Ctrl-C. LIST is comma-separated groups\n"
    "(lifecycle, config, restart, operation, daemon) or types (created, started, stopped,\n"
    "exited, frozen, unfrozen, renamed, deleted, config-changed, restarting, restart-given-up,\n"
    "operation, daemon-started, daemon-reconciled). --since ID first replays the stored events\n"
    "after ID (0: all kept). --format json prints one object per line. When berthd restarts,\n"
    "monitor reconnects and resumes after the last event it printed.\n";

struct TypeName {
  v1::EventType type;
  const char* name;
  const char* group;
};
constexpr TypeName kTypeNames[] = {
    {v1::EVENT_TYPE_CREATED, "created", "lifecycle"},
    {v1::EVENT_TYPE_STARTED, "started", "lifecycle"},
    {v1::EVENT_TYPE_STOPPED, "stopped", "lifecycle"},
    {v1::EVENT_TYPE_EXITED, "exited", "lifecycle"},
    {v1::EVENT_TYPE_FROZEN, "frozen", "lifecycle"},
    {v1::EVENT_TYPE_UNFROZEN, "unfrozen", "lifecycle"},
    {v1::EVENT_TYPE_RENAMED, "renamed", "lifecycle"},
    {v1::EVENT_TYPE_DELETED, "deleted", "lifecycle"},
    {v1::EVENT_TYPE_CONFIG_CHANGED, "config-changed", "config"},
    {v1::EVENT_TYPE_RESTARTING, "restarting", "restart"},
    {v1::EVENT_TYPE_RESTART_GIVEN_UP, "restart-given-up", "restart"},
    {v1::EVENT_TYPE_OPERATION, "operation", "operation"},
    {v1::EVENT_TYPE_DAEMON_STARTED, "daemon-started", "daemon"},
    {v1::EVENT_TYPE_DAEMON_RECONCILED, "daemon-reconciled", "daemon"},
};

// Backoff between attempts to resubscribe.
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

struct MonitorArgs {
  std::string socket;
  bool debug = false;
  std::vector<v1::EventType> types;
  std::vector<std::string> containers;
  std::optional<uint64_t> since;
  OutputFormat format = OutputFormat::kTable;
};

int UsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth monitor --help' for usage\n";
  return kExitUsage;
}

// Ctrl-C and SIGTERM end the monitor: a thread waits for them (blocked everywhere else), cancels
// the call in flight and wakes the backoff sleep.
class Interrupts {
 public:
  Interrupts() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    sigaddset(&signals_, SIGUSR1);  // Our own wake-up to end the thread.
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] {
      int sig = 0;
      sigwait(&signals_, &sig);
      absl::MutexLock lock(&mu_);
      interrupted_ = sig != SIGUSR1;
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    });
  }
  ~Interrupts() {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

  // The call `context` belongs to is cancelled on an interrupt (nullptr: none in flight).
  void SetCall(grpc::ClientContext* context) {
    absl::MutexLock lock(&mu_);
    context_ = context;
    if (context_ != nullptr && stopping_) context_->TryCancel();
  }
  bool interrupted() {
    absl::MutexLock lock(&mu_);
    return interrupted_;
  }
  // Sleeps for `d` or until an interrupt; true when interrupted.
  bool SleepFor(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
    return interrupted_;
  }

 private:
  sigset_t signals_;
  std::thread thread_;
  absl::Mutex mu_;
  grpc::ClientContext* context_ = nullptr;
  bool stopping_ = false;
  bool interrupted_ = false;
};

int ReportStatus(const grpc::Status& status, const MonitorArgs& a, bool reached) {
  ErrorContext context = CallContext(a.socket, "Subscribe", status);
  context.reached_daemon = reached;
  return ReportCallError(status, context, a.debug, std::cerr);
}

int Monitor(const MonitorArgs& a) {
  Interrupts interrupts;
  const absl::TimeZone zone = absl::LocalTimeZone();
  std::optional<uint64_t> since = a.since;  // Advances with every event printed.
  absl::Duration backoff = kFirstBackoff;
  bool received_any = false;
  bool warned = false;
  while (true) {
    // A fresh channel per attempt: a restarted berthd is reached at once, without waiting for
    // the old channel's reconnect backoff.
    auto channel =
        OpenChannel(a.socket);
    auto stub = v1::Events::NewStub(channel);
    v1::SubscribeRequest request;
    for (v1::EventType type : a.types) request.add_types(type);
    for (const std::string& name : a.containers) request.add_containers(name);
    if (since.has_value()) request.set_since(*since);
    grpc::ClientContext context;
    interrupts.SetCall(&context);
    std::unique_ptr<grpc::ClientReader<v1::Event>> reader = stub->Subscribe(&context, request);
    v1::Event event;
    bool got_any = false;
    while (reader->Read(&event)) {
      got_any = true;
      std::cout << FormatEvent(event, a.format, zone) << std::flush;
      if (!std::cout) {
        context.TryCancel();
        break;
      }
      since = event.id();
    }
    const grpc::Status status = reader->Finish();
    interrupts.SetCall(nullptr);
    if (interrupts.interrupted()) return kExitOk;
    if (!std::cout) return kExitFailure;  // stdout is gone (closed pipe).
    if (got_any) {
      received_any = true;
      backoff = kFirstBackoff;
    }
    const bool resumable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                           status.ok();
    if (!resumable) return ReportStatus(status, a, /*reached=*/true);
    if (!received_any && !warned) {
      // berthd may be starting: say so once, then keep trying.
      std::cerr << "berth: " << (status.ok() ? "berthd ended the stream" : status.error_message())
                << "; retrying until berthd at " << a.socket << " answers (Ctrl-C to stop)\n";
      warned = true;
    } else if (a.debug) {
      std::cerr << "berth: debug: Subscribe ended with code " << status.error_code() << ": "
                << status.error_message() << "; resubscribing"
                << (since.has_value() ? absl::StrCat(" after id ", *since) : std::string())
                << "\n";
    }
    if (interrupts.SleepFor(backoff)) return kExitOk;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace

std::string EventTypeName(v1::EventType type) {
  for (const TypeName& t : kTypeNames) {
    if (t.type == type) return t.name;
  }
  return absl::StrCat("unknown-", static_cast<int>(type));
}

absl::StatusOr<std::vector<v1::EventType>> ParseEventTypes(const std::string& list) {
  std::vector<v1::EventType> types;
  for (absl::string_view word : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    std::string name(absl::StripAsciiWhitespace(word));
    std::replace(name.begin(), name.end(), '_', '-');
    bool known = false;
    for (const TypeName& t : kTypeNames) {
      if (name == t.name || name == t.group) {
        types.push_back(t.type);
        known = true;
      }
    }
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown event type \"", name,
          "\"; use lifecycle, config, restart, operation, daemon or a type such as started"));
    }
  }
  if (types.empty()) return absl::InvalidArgumentError("--type needs at least one type");
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  return types;
}

std::string FormatEvent(const v1::Event& event, OutputFormat format, const absl::TimeZone& zone) {
  const std::string state =
      event.state() == v1::STATE_UNSPECIFIED ? std::string() : StateName(event.state());
  if (format == OutputFormat::kTable) {
    std::string detail = event.detail();
    if (event.has_exit_code()) {
      absl::StrAppend(&detail, detail.empty() ? "" : "; ", "exit code ", event.exit_code());
    }
    char line[160];
    std::snprintf(line, sizeof(line), "%-6llu %s  %-17s %-20s %-8s ",
                  static_cast<unsigned long long>(event.id()),
                  FormatLocalTime(event.time(), zone).c_str(), EventTypeName(event.type()).c_str(),
                  event.container().empty() ? "-" : event.container().c_str(),
                  state.empty() ? "-" : state.c_str());
    std::string text = absl::StrCat(line, detail);
    text.erase(text.find_last_not_of(' ') + 1);
    return text + "\n";
  }
  nlohmann::ordered_json json = {
      {"id", event.id()},
      {"time", FormatRfc3339(event.time())},
      {"type", EventTypeName(event.type())},
      {"container", event.container()},
      {"state", state},
      {"detail", event.detail()},
  };
  if (event.has_exit_code()) json["exit_code"] = event.exit_code();
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<int> RunMonitorCommandLine(const std::vector<std::string>& args,
                                         const Environment& env) {
  MonitorArgs a;
  const LeadingOptions leading = ParseLeadingOptions(args);
  a.socket = leading.socket;
  a.debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || args[index] != "monitor") return std::nullopt;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    // "--opt value" and "--opt=value".
    std::string option = arg;
    std::optional<std::string> inline_value;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      option = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value.has_value()) return inline_value;
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (option == "-h" || option == "--help") {
      std::cout << kMonitorUsage;
      return kExitOk;
    } else if (option == "--debug") {
      a.debug = true;
    } else if (option == "--socket") {
      std::optional<std::string> v = value();
      if (!v.has_value() || v->empty()) return UsageError("--socket needs a path");
      a.socket = *v;
    } else if (option == "--type" || option == "-t") {
      std::optional<std::string> v = value();
      if (!v.has_value()) return UsageError("--type needs a list such as lifecycle,operation");
      absl::StatusOr<std::vector<v1::EventType>> types = ParseEventTypes(*v);
      if (!types.ok()) return UsageError(std::string(types.status().message()));
      a.types.insert(a.types.end(), types->begin(), types->end());
    } else if (option == "--container" || option == "-c") {
      std::optional<std::string> v = value();
      if (!v.has_value() || v->empty()) return UsageError("--container needs a container name");
      a.containers.push_back(*v);
    } else if (option == "--since") {
      std::optional<std::string> v = value();
      uint64_t since = 0;
      if (!v.has_value() || !absl::SimpleAtoi(*v, &since)) {
        return UsageError("--since needs an event id (a whole number; 0 replays all kept)");
      }
      a.since = since;
    } else if (option == "--format") {
      std::optional<std::string> v = value();
      if (v == "table") {
        a.format = OutputFormat::kTable;
      } else if (v == "json") {
        a.format = OutputFormat::kJson;
      } else {
        return UsageError("--format must be table or json");
      }
    } else {
      return UsageError(absl::StrCat("unknown argument ", arg));
    }
  }
  if (a.socket.empty()) a.socket = env.berth_socket.value_or(kDefaultSocketPath);
  ::signal(SIGPIPE, SIG_IGN);
  return Monitor(a);
}

}  // namespace berth::client

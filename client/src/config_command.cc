#include "berth/client/config_command.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string_view>

#include "berth/client/command_line.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/client/output.h"
#include "berth/client/profile_command.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/system.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kConfigUsage[] =
    "usage: berth config set NAME KEY=VALUE...     set keys (live where possible)\n"
    "       berth config get NAME KEY              print one key's value (nothing if unset)\n"
    "       berth config unset NAME KEY...         remove keys (back to their defaults)\n"
    "       berth config show NAME [--expanded]    the config as YAML; --expanded merges its\n"
    "                                              profiles (saying which key came from which),\n"
    "                                              lists devices and unset keys' defaults\n"
    "       berth config edit NAME                 edit the YAML in $VISUAL/$EDITOR (vi);\n"
    "                                              from stdin when stdin is not a terminal\n"
    "       berth config keys [--format F]         every key: type, default, live, help\n"
    "       berth config device add NAME DEV TYPE KEY=VALUE...   e.g. data disk source=/srv\n"
    "                                              path=/data [readonly=true]; at next start\n"
    "       berth config device list NAME | remove NAME DEV...\n"
    "Options: --socket PATH, --debug; keys: --format table|json|yaml|csv.\n";

struct ConfigArgs {
  std::string socket;
  bool debug = false;
  bool expanded = false;
  std::string format = "table";
  std::string verb;
  std::vector<std::string> positional;
};

int UsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth config --help' for usage\n";
  return kExitUsage;
}

int ReportStatus(const grpc::Status& status, const ConfigArgs& a, const char* rpc) {
  return ReportCallError(status, CallContext(a.socket, rpc, status), a.debug, std::cerr);
}

void SetDeadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + kDefaultDeadline);
}

class Client {
 public:
  Client(const ConfigArgs& a, std::shared_ptr<grpc::Channel> channel)
      : a_(a),
        containers_(v1::Containers::NewStub(channel)),
        system_(v1::System::NewStub(channel)) {}

  // The container's definition, or the exit code of the failure (already reported).
  std::optional<v1::Container> Get(const std::string& name, int* code) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::GetContainerRequest request;
    request.set_name(name);
    request.set_view(v1::CONTAINER_VIEW_DEFINITION);
    v1::Container container;
    grpc::Status status = containers_->GetContainer(&ctx, request, &container);
    if (!status.ok()) {
      *code = ReportStatus(status, a_, "GetContainer");
      return std::nullopt;
    }
    return container;
  }

  int Update(const std::string& name, int64_t revision, const ConfigChange& change) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::UpdateContainerConfigRequest request;
    request.set_name(name);
    request.set_expected_revision(revision);
    for (const auto& [key, value] : change.set) (*request.mutable_set())[key] = value;
    for (const std::string& key : change.unset) request.add_unset(key);
    v1::UpdateContainerConfigResponse response;
    grpc::Status status = containers_->UpdateContainerConfig(&ctx, request, &response);
    if (!status.ok()) return ReportStatus(status, a_, "UpdateContainerConfig");
    for (const std::string& notice : response.notices()) {
      std::cerr << "berth: note: " << notice << "\n";
    }
    return kExitOk;
  }

  std::optional<v1::ListConfigKeysResponse> Keys(int* code) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ListConfigKeysResponse response;
    grpc::Status status = system_->ListConfigKeys(&ctx, v1::ListConfigKeysRequest(), &response);
    if (!status.ok()) {
      *code = ReportStatus(status, a_, "ListConfigKeys");
      return std::nullopt;
    }
    return response;
  }

 private:
  const ConfigArgs& a_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::System::Stub> system_;
};

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

// The editor command is the user's own and may carry arguments, so it goes through the shell,
// with the path passed as "$1" (never spliced into the command line).
bool RunEditor(const std::string& path) {
  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
  if (editor == nullptr || *editor == '\0') editor = "vi";
  // Built before fork: the child of a process with gRPC's threads may only exec.
  const std::string command = absl::StrCat(editor, " \"$1\"");
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), "sh", path.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

std::optional<std::string> ReadEditedText(const std::string& kind, const std::string& initial) {
  if (!::isatty(STDIN_FILENO)) {
    return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::string path = absl::StrCat("/tmp/berth-", kind, "-XXXXXX.yaml");
  const int fd = ::mkstemps(path.data(), 5);
  if (fd < 0) {
    std::cerr << "berth: cannot make a temporary file in /tmp\n";
    return std::nullopt;
  }
  const bool written =
      ::write(fd, initial.data(), initial.size()) == static_cast<ssize_t>(initial.size());
  ::close(fd);
  const bool edited = written && RunEditor(path);
  std::ifstream in(path);
  std::string text(std::istreambuf_iterator<char>(in), (std::istreambuf_iterator<char>()));
  ::unlink(path.c_str());
  if (!edited) {
    std::cerr << "berth: the editor failed; nothing was changed\n";
    return std::nullopt;
  }
  return text;
}


namespace {

int Edit(Client& client, const std::string& name) {
  int code = kExitOk;
  std::optional<v1::Container> container = client.Get(name, &code);
  if (!container.has_value()) return code;
  const std::map<std::string, std::string> before = ToMap(container->config());
  const std::optional<std::string> text = ReadEditedText(
      "config",
      absl::StrCat("# The config of container ", name,
                   ". Change, add or remove keys; save and quit to apply.\n"
                   "# 'berth config keys' lists the keys. An empty file removes every key.\n",
                   ConfigToYaml(before)));
  if (!text.has_value()) return kExitFailure;
  std::string error;
  std::optional<std::map<std::string, std::string>> after = ConfigFromYaml(*text, &error);
  if (!after.has_value()) {
    std::cerr << "berth: the edited config is not valid: " << error << "; nothing was changed\n";
    return kExitInvalidArgument;
  }
  const ConfigChange change = DiffConfig(before, *after);
  if (change.set.empty() && change.unset.empty()) return kExitOk;  // nothing to do
  // The revision read above: a change made meanwhile by someone else is not overwritten.
  return client.Update(name, container->revision(), change);
}

int Run(const ConfigArgs& a) {
  ::signal(SIGPIPE, SIG_IGN);
  auto channel =
      OpenChannel(a.socket);
  Client client(a, channel);
  const std::vector<std::string>& p = a.positional;
  int code = kExitOk;
  if (a.verb == "keys") {
    if (!p.empty()) return UsageError("berth config keys takes no arguments");
    std::optional<v1::ListConfigKeysResponse> keys = client.Keys(&code);
    if (!keys.has_value()) return code;
    OutputFormat format = OutputFormat::kTable;
    if (a.format == "json") format = OutputFormat::kJson;
    if (a.format == "yaml") format = OutputFormat::kYaml;
    if (a.format == "csv") format = OutputFormat::kCsv;
    std::cout << FormatConfigKeys(*keys, format);
    return kExitOk;
  }
  if (a.verb == "device") return RunContainerDeviceCommand(a.socket, a.debug, p);
  if (p.empty()) return UsageError(absl::StrCat("berth config ", a.verb, " needs NAME"));
  const std::string& name = p[0];
  if (a.verb == "set") {
    if (p.size() < 2) return UsageError("berth config set needs NAME and KEY=VALUE...");
    ConfigChange change;
    for (size_t i = 1; i < p.size(); ++i) {
      const size_t eq = p[i].find('=');
      if (eq == std::string::npos || eq == 0) {
        return UsageError(absl::StrCat("expected KEY=VALUE, got \"", p[i], "\""));
      }
      change.set[p[i].substr(0, eq)] = p[i].substr(eq + 1);
    }
    return client.Update(name, 0, change);
  }
  if (a.verb == "unset") {
    if (p.size() < 2) return UsageError("berth config unset needs NAME and KEY...");
    ConfigChange change;
    change.unset.assign(p.begin() + 1, p.end());
    return client.Update(name, 0, change);
  }
  if (a.verb == "get") {
    if (p.size() != 2) return UsageError("berth config get needs NAME and one KEY");
    std::optional<v1::Container> container = client.Get(name, &code);
    if (!container.has_value()) return code;
    auto it = container->config().find(p[1]);
    if (it != container->config().end()) std::cout << it->second << "\n";
    return kExitOk;
  }
  if (a.verb == "show") {
    if (p.size() != 1) return UsageError("berth config show needs NAME only");
    if (!a.expanded) {
      std::optional<v1::Container> container = client.Get(name, &code);
      if (!container.has_value()) return code;
      std::cout << ConfigToYaml(ToMap(container->config()));
      return kExitOk;
    }
    std::set<std::string> shown;
    if (int shown_code = ShowExpandedConfig(a.socket, a.debug, name, &shown);
        shown_code != kExitOk) {
      return shown_code;
    }
    std::optional<v1::ListConfigKeysResponse> keys = client.Keys(&code);
    if (!keys.has_value()) return code;
    for (const v1::ConfigKey& key : keys->keys()) {
      if (key.default_value().empty() || shown.contains(key.name())) continue;
      std::cout << "# " << key.name() << ": " << key.default_value() << " (default)\n";
    }
    return kExitOk;
  }
  if (a.verb == "edit") {
    if (p.size() != 1) return UsageError("berth config edit needs NAME only");
    return Edit(client, name);
  }
  return UsageError(absl::StrCat("unknown config command \"", a.verb, "\""));
}

}  // namespace

std::string ConfigToYaml(const std::map<std::string, std::string>& config) {
  if (config.empty()) return "{}\n";
  std::string out;
  for (const auto& [key, value] : config) {
    YAML::Emitter key_text;
    key_text << key;
    absl::StrAppend(&out, key_text.c_str(), ":");
    // Multi-line values (raw.lxc) as a literal block, written by hand: yaml-cpp has no "|-", and
    // the value must come back exactly. Values a block cannot carry (a first line starting with a
    // space, several trailing newlines) are double-quoted, as every single-line value is (so
    // "true" and "2" stay strings).
    const bool block =
        value.find('\n') != std::string::npos && value.front() != ' ' && !value.ends_with("\n\n");
    if (!block) {
      YAML::Emitter quoted;
      quoted << YAML::DoubleQuoted << value;
      absl::StrAppend(&out, " ", quoted.c_str(), "\n");
      continue;
    }
    const bool trailing_newline = value.back() == '\n';
    absl::StrAppend(&out, trailing_newline ? " |\n" : " |-\n");
    std::string_view rest(value);
    if (trailing_newline) rest.remove_suffix(1);
    while (true) {
      const size_t eol = rest.find('\n');
      const std::string_view line = rest.substr(0, eol);
      absl::StrAppend(&out, line.empty() ? "" : "  ", std::string(line), "\n");
      if (eol == std::string_view::npos) break;
      rest.remove_prefix(eol + 1);
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ConfigFromYaml(const std::string& text,
                                                                 std::string* error) {
  try {
    YAML::Node root = YAML::Load(text);
    std::map<std::string, std::string> config;
    if (root.IsNull()) return config;
    if (!root.IsMap()) {
      *error = "it must be a map of KEY: VALUE";
      return std::nullopt;
    }
    for (const auto& entry : root) {
      if (!entry.first.IsScalar()) {
        *error = "every key must be a plain string";
        return std::nullopt;
      }
      const std::string key = entry.first.as<std::string>();
      if (!entry.second.IsScalar()) {
        *error = absl::StrCat("the value of ", key,
                              " must be a string or number (quote it), not a list, map or null");
        return std::nullopt;
      }
      if (!config.emplace(key, entry.second.as<std::string>()).second) {
        *error = absl::StrCat("key ", key, " is given twice");
        return std::nullopt;
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    *error = absl::StrCat("not YAML: ", e.what());
    return std::nullopt;
  }
}

ConfigChange DiffConfig(const std::map<std::string, std::string>& before,
                        const std::map<std::string, std::string>& after) {
  ConfigChange change;
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    if (it == before.end() || it->second != value) change.set[key] = value;
  }
  for (const auto& [key, value] : before) {
    if (!after.contains(key)) change.unset.push_back(key);
  }
  return change;
}

std::optional<int> RunConfigCommandLine(const std::vector<std::string>& args,
                                        const Environment& env) {
  ConfigArgs a;
  const LeadingOptions leading = ParseLeadingOptions(args);
  a.socket = leading.socket;
  a.debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || args[index] != "config") return std::nullopt;
  bool options_done = false;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.empty() || arg[0] != '-') {
      if (a.verb.empty()) {
        a.verb = arg;
      } else {
        a.positional.push_back(arg);
      }
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kConfigUsage;
      return kExitOk;
    } else if (arg == "--socket") {
      if (i + 1 >= args.size()) return UsageError("--socket needs a path");
      a.socket = args[++i];
    } else if (arg == "--debug") {
      a.debug = true;
    } else if (arg == "--expanded") {
      a.expanded = true;
    } else if (arg == "--format") {
      if (i + 1 >= args.size()) return UsageError("--format needs table, json, yaml or csv");
      a.format = args[++i];
      static const std::set<std::string> kFormats = {"table", "json", "yaml", "csv"};
      if (!kFormats.contains(a.format)) {
        return UsageError("--format must be table, json, yaml or csv");
      }
    } else {
      return UsageError(absl::StrCat("unknown option ", arg));
    }
  }
  static const std::set<std::string> kVerbs = {"set",  "get",  "unset", "show",
                                               "edit", "keys", "device"};
  if (!kVerbs.contains(a.verb)) {
    return UsageError(a.verb.empty() ? "berth config needs set, get, unset, show, edit or keys"
                                     : absl::StrCat("unknown config command \"", a.verb, "\""));
  }
  if (a.expanded && a.verb != "show") return UsageError("--expanded is for config show only");
  if (a.format != "table" && a.verb != "keys") return UsageError("--format is for config keys");
  if (a.socket.empty()) a.socket = env.berth_socket.value_or(kDefaultSocketPath);
  return Run(a);
}

}  // namespace berth::client

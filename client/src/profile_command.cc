#include "berth/client/profile_command.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>

#include "berth/client/config_command.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/profiles.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kProfileUsage[] =
    "usage: berth profile create NAME [--description TEXT] [KEY=VALUE...]\n"
    "       berth profile list                      every profile, how many containers use it\n"
    "       berth profile show NAME                 description, config, devices as YAML\n"
    "       berth profile get NAME KEY              one key's value (nothing if unset)\n"
    "       berth profile set NAME KEY=VALUE...     set keys (live on running users)\n"
    "       berth profile unset NAME KEY...         remove keys\n"
    "       berth profile edit NAME                 edit the YAML in $VISUAL/$EDITOR (vi);\n"
    "                                               from stdin when stdin is not a terminal\n"
    "       berth profile delete NAME               refused for default and profiles in use\n"
    "       berth profile assign CONTAINER P1[,P2...]   the container's profiles, in order\n"
    "       berth profile device add NAME DEV TYPE KEY=VALUE...\n"
    "       berth profile device list NAME | remove NAME DEV...\n"
    "Options: --socket PATH, --debug.\n";

void SetDeadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + kDefaultDeadline);
}

int UsageError(const std::string& what, const char* command) {
  std::cerr << "berth: " << what << "; run 'berth " << command << " --help' for usage\n";
  return kExitUsage;
}

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

// KEY=VALUE words into a map; nullopt (usage error reported) for a word without '='.
std::optional<std::map<std::string, std::string>> ParseAssignments(
    const std::vector<std::string>& words, const char* command) {
  std::map<std::string, std::string> out;
  for (const std::string& word : words) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      UsageError(absl::StrCat("expected KEY=VALUE, got \"", word, "\""), command);
      return std::nullopt;
    }
    out[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return out;
}

class Client {
 public:
  Client(const std::string& socket, bool debug)
      : socket_(socket),
        debug_(debug),
        channel_(grpc::CreateChannel(absl::StrCat("unix:", socket),
                                     grpc::InsecureChannelCredentials())),
        profiles_(v1::Profiles::NewStub(channel_)),
        containers_(v1::Containers::NewStub(channel_)) {}

  int Report(const grpc::Status& status, const char* rpc) {
    return ReportCallError(status, CallContext(socket_, rpc, status), debug_, std::cerr);
  }

  std::optional<v1::Profile> Get(const std::string& name, int* code) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::GetProfileRequest request;
    request.set_name(name);
    v1::Profile profile;
    grpc::Status status = profiles_->GetProfile(&ctx, request, &profile);
    if (!status.ok()) {
      *code = Report(status, "GetProfile");
      return std::nullopt;
    }
    return profile;
  }

  int Update(const v1::UpdateProfileRequest& request) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::UpdateProfileResponse response;
    grpc::Status status = profiles_->UpdateProfile(&ctx, request, &response);
    if (!status.ok()) return Report(status, "UpdateProfile");
    for (const std::string& notice : response.notices()) {
      std::cerr << "berth: note: " << notice << "\n";
    }
    return kExitOk;
  }

  v1::Profiles::Stub& profiles() { return *profiles_; }
  v1::Containers::Stub& containers() { return *containers_; }

 private:
  const std::string socket_;
  const bool debug_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Profiles::Stub> profiles_;
  std::unique_ptr<v1::Containers::Stub> containers_;
};

void PrintNotices(const v1::UpdateContainerConfigResponse& response) {
  for (const std::string& notice : response.notices()) {
    std::cerr << "berth: note: " << notice << "\n";
  }
}

// One device as a YAML flow-free block under `indent`.
std::string DeviceToYaml(const v1::Device& device, const std::string& indent) {
  std::map<std::string, std::string> fields = ToMap(device.options());
  fields["type"] = device.type();
  std::string out;
  // ConfigToYaml quotes every value and keeps multi-line values exact; indent its lines.
  for (absl::string_view line : absl::StrSplit(ConfigToYaml(fields), '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, indent, line, "\n");
  }
  return out;
}

std::string DevicesToYaml(const google::protobuf::Map<std::string, v1::Device>& devices) {
  if (devices.empty()) return "devices: {}\n";
  std::string out = "devices:\n";
  std::map<std::string, v1::Device> sorted(devices.begin(), devices.end());
  for (const auto& [name, device] : sorted) {
    YAML::Emitter key;
    key << name;
    absl::StrAppend(&out, "  ", key.c_str(), ":\n", DeviceToYaml(device, "    "));
  }
  return out;
}

std::string ProfileToYaml(const v1::Profile& profile) {
  YAML::Emitter description;
  description << YAML::DoubleQuoted << profile.description();
  std::string out = absl::StrCat("description: ", description.c_str(), "\n");
  const std::string config = ConfigToYaml(ToMap(profile.config()));
  if (config == "{}\n") {
    absl::StrAppend(&out, "config: {}\n");
  } else {
    absl::StrAppend(&out, "config:\n");
    for (absl::string_view line : absl::StrSplit(config, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  absl::StrAppend(&out, DevicesToYaml(profile.devices()));
  return out;
}

struct EditedProfile {
  std::string description;
  std::map<std::string, std::string> config;
  std::map<std::string, v1::Device> devices;
};

std::optional<std::map<std::string, std::string>> ScalarMap(const YAML::Node& node,
                                                            const std::string& what,
                                                            std::string* error) {
  std::map<std::string, std::string> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsMap()) {
    *error = absl::StrCat(what, " must be a map of KEY: VALUE");
    return std::nullopt;
  }
  for (const auto& entry : node) {
    if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
      *error = absl::StrCat("every entry of ", what, " must be KEY: VALUE with a plain value");
      return std::nullopt;
    }
    out[entry.first.as<std::string>()] = entry.second.as<std::string>();
  }
  return out;
}

std::optional<EditedProfile> ProfileFromYaml(const std::string& text, std::string* error) {
  try {
    YAML::Node root = YAML::Load(text);
    EditedProfile out;
    if (root.IsNull()) return out;
    if (!root.IsMap()) {
      *error = "it must be a map with description, config and devices";
      return std::nullopt;
    }
    for (const auto& entry : root) {
      const std::string key = entry.first.as<std::string>();
      if (key != "description" && key != "config" && key != "devices") {
        *error = absl::StrCat("unknown field ", key, "; use description, config and devices");
        return std::nullopt;
      }
    }
    if (root["description"] && !root["description"].IsNull()) {
      if (!root["description"].IsScalar()) {
        *error = "description must be text";
        return std::nullopt;
      }
      out.description = root["description"].as<std::string>();
    }
    auto config = ScalarMap(root["config"], "config", error);
    if (!config.has_value()) return std::nullopt;
    out.config = *std::move(config);
    const YAML::Node devices = root["devices"];
    if (devices && !devices.IsNull()) {
      if (!devices.IsMap()) {
        *error = "devices must be a map of NAME: {type: ..., KEY: VALUE}";
        return std::nullopt;
      }
      for (const auto& entry : devices) {
        const std::string name = entry.first.as<std::string>();
        auto fields = ScalarMap(entry.second, absl::StrCat("device ", name), error);
        if (!fields.has_value()) return std::nullopt;
        v1::Device device;
        auto type = fields->find("type");
        if (type == fields->end()) {
          *error = absl::StrCat("device ", name, " needs a type (disk, nic or proxy)");
          return std::nullopt;
        }
        device.set_type(type->second);
        fields->erase(type);
        device.mutable_options()->insert(fields->begin(), fields->end());
        out.devices[name] = device;
      }
    }
    return out;
  } catch (const YAML::Exception& e) {
    *error = absl::StrCat("not YAML: ", e.what());
    return std::nullopt;
  }
}

bool SameDevice(const v1::Device& a, const v1::Device& b) {
  return a.type() == b.type() && ToMap(a.options()) == ToMap(b.options());
}

int Edit(Client& client, const std::string& name) {
  int code = kExitOk;
  std::optional<v1::Profile> profile = client.Get(name, &code);
  if (!profile.has_value()) return code;
  const std::optional<std::string> text = ReadEditedText(
      "profile",
      absl::StrCat("# Profile ", name,
                   ". Change description, config keys and devices; save and quit to apply.\n",
                   ProfileToYaml(*profile)));
  if (!text.has_value()) return kExitFailure;
  std::string error;
  std::optional<EditedProfile> after = ProfileFromYaml(*text, &error);
  if (!after.has_value()) {
    std::cerr << "berth: the edited profile is not valid: " << error << "; nothing was changed\n";
    return kExitInvalidArgument;
  }
  v1::UpdateProfileRequest request;
  request.set_name(name);
  // The revision read above: a change made meanwhile by someone else is not overwritten.
  request.set_expected_revision(profile->revision());
  if (after->description != profile->description()) request.set_description(after->description);
  const ConfigChange change = DiffConfig(ToMap(profile->config()), after->config);
  request.mutable_set()->insert(change.set.begin(), change.set.end());
  for (const std::string& key : change.unset) request.add_unset(key);
  for (const auto& [device, value] : profile->devices()) {
    auto it = after->devices.find(device);
    if (it == after->devices.end() || !SameDevice(it->second, value)) {
      request.add_remove_devices(device);
    }
  }
  for (const auto& [device, value] : after->devices) {
    auto it = profile->devices().find(device);
    if (it == profile->devices().end() || !SameDevice(it->second, value)) {
      (*request.mutable_add_devices())[device] = value;
    }
  }
  if (!request.has_description() && request.set().empty() && request.unset().empty() &&
      request.add_devices().empty() && request.remove_devices().empty()) {
    return kExitOk;  // nothing to do
  }
  return client.Update(request);
}

int List(Client& client) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::ListProfilesResponse response;
  grpc::Status status = client.profiles().ListProfiles(&ctx, v1::ListProfilesRequest(), &response);
  if (!status.ok()) return client.Report(status, "ListProfiles");
  std::vector<std::vector<std::string>> rows = {{"NAME", "KEYS", "DEVICES", "USERS", "DESCRIPTION"}};
  for (const v1::Profile& p : response.profiles()) {
    rows.push_back({p.name(), std::to_string(p.config_size()), std::to_string(p.devices_size()),
                    std::to_string(p.used_by_size()),
                    p.description()});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&line, row[i]);
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
  return kExitOk;
}

// `device add|list|remove OWNER ...` for a profile (is_profile) or a container.
int DeviceCommand(Client& client, bool is_profile, const std::vector<std::string>& p) {
  const char* command = is_profile ? "profile" : "config";
  if (p.size() < 2) {
    return UsageError(absl::StrCat("berth ", command, " device needs add, list or remove and NAME"),
                      command);
  }
  const std::string& verb = p[0];
  const std::string& owner = p[1];
  if (verb == "list") {
    if (p.size() != 2) return UsageError("device list takes NAME only", command);
    google::protobuf::Map<std::string, v1::Device> devices;
    int code = kExitOk;
    if (is_profile) {
      std::optional<v1::Profile> profile = client.Get(owner, &code);
      if (!profile.has_value()) return code;
      devices = profile->devices();
    } else {
      grpc::ClientContext ctx;
      SetDeadline(ctx);
      v1::GetContainerRequest request;
      request.set_name(owner);
      request.set_view(v1::CONTAINER_VIEW_DEFINITION);
      v1::Container container;
      grpc::Status status = client.containers().GetContainer(&ctx, request, &container);
      if (!status.ok()) return client.Report(status, "GetContainer");
      devices = container.devices();
    }
    std::map<std::string, v1::Device> sorted(devices.begin(), devices.end());
    for (const auto& [name, device] : sorted) {
      std::vector<std::string> options;
      for (const auto& [key, value] : ToMap(device.options())) {
        options.push_back(absl::StrCat(key, "=", value));
      }
      std::cout << name << "  " << device.type() << "  " << absl::StrJoin(options, " ") << "\n";
    }
    return kExitOk;
  }
  google::protobuf::Map<std::string, v1::Device> add;
  std::vector<std::string> remove;
  if (verb == "add") {
    if (p.size() < 4) {
      return UsageError("device add needs NAME, DEVICE, TYPE and KEY=VALUE options", command);
    }
    std::string error;
    std::optional<DeviceArgs> args =
        ParseDeviceArgs(std::vector<std::string>(p.begin() + 3, p.end()), &error);
    if (!args.has_value()) return UsageError(error, command);
    v1::Device& device = add[p[2]];
    device.set_type(args->type);
    device.mutable_options()->insert(args->options.begin(), args->options.end());
  } else if (verb == "remove") {
    if (p.size() < 3) return UsageError("device remove needs NAME and DEVICE...", command);
    remove.assign(p.begin() + 2, p.end());
  } else {
    return UsageError(absl::StrCat("unknown device command \"", verb, "\""), command);
  }
  if (is_profile) {
    v1::UpdateProfileRequest request;
    request.set_name(owner);
    *request.mutable_add_devices() = add;
    for (const std::string& d : remove) request.add_remove_devices(d);
    return client.Update(request);
  }
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::UpdateContainerDevicesRequest request;
  request.set_name(owner);
  *request.mutable_add() = add;
  for (const std::string& d : remove) request.add_remove(d);
  v1::UpdateContainerConfigResponse response;
  grpc::Status status = client.profiles().UpdateContainerDevices(&ctx, request, &response);
  if (!status.ok()) return client.Report(status, "UpdateContainerDevices");
  PrintNotices(response);
  return kExitOk;
}

int Run(const std::string& socket, bool debug, const std::string& verb,
        const std::vector<std::string>& p, const std::optional<std::string>& description) {
  ::signal(SIGPIPE, SIG_IGN);
  Client client(socket, debug);
  int code = kExitOk;
  if (verb == "list") {
    if (!p.empty()) return UsageError("berth profile list takes no arguments", "profile");
    return List(client);
  }
  if (verb == "device") return DeviceCommand(client, /*is_profile=*/true, p);
  if (p.empty()) return UsageError(absl::StrCat("berth profile ", verb, " needs NAME"), "profile");
  const std::string& name = p[0];
  const std::vector<std::string> rest(p.begin() + 1, p.end());
  if (description.has_value() && verb != "create") {
    return UsageError("--description is for profile create (use edit to change it)", "profile");
  }
  if (verb == "create") {
    auto config = ParseAssignments(rest, "profile");
    if (!config.has_value()) return kExitUsage;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::CreateProfileRequest request;
    request.set_name(name);
    request.set_description(description.value_or(""));
    request.mutable_config()->insert(config->begin(), config->end());
    v1::Profile profile;
    grpc::Status status = client.profiles().CreateProfile(&ctx, request, &profile);
    if (!status.ok()) return client.Report(status, "CreateProfile");
    return kExitOk;
  }
  if (verb == "show") {
    if (!rest.empty()) return UsageError("berth profile show needs NAME only", "profile");
    std::optional<v1::Profile> profile = client.Get(name, &code);
    if (!profile.has_value()) return code;
    std::cout << ProfileToYaml(*profile) << "used_by: [" << absl::StrJoin(profile->used_by(), ", ")
              << "]\n";
    return kExitOk;
  }
  if (verb == "get") {
    if (rest.size() != 1) return UsageError("berth profile get needs NAME and one KEY", "profile");
    std::optional<v1::Profile> profile = client.Get(name, &code);
    if (!profile.has_value()) return code;
    auto it = profile->config().find(rest[0]);
    if (it != profile->config().end()) std::cout << it->second << "\n";
    return kExitOk;
  }
  if (verb == "set" || verb == "unset") {
    if (rest.empty()) {
      return UsageError(absl::StrCat("berth profile ", verb, " needs NAME and ",
                                     verb == "set" ? "KEY=VALUE..." : "KEY..."),
                        "profile");
    }
    v1::UpdateProfileRequest request;
    request.set_name(name);
    if (verb == "set") {
      auto config = ParseAssignments(rest, "profile");
      if (!config.has_value()) return kExitUsage;
      request.mutable_set()->insert(config->begin(), config->end());
    } else {
      for (const std::string& key : rest) request.add_unset(key);
    }
    return client.Update(request);
  }
  if (verb == "edit") {
    if (!rest.empty()) return UsageError("berth profile edit needs NAME only", "profile");
    return Edit(client, name);
  }
  if (verb == "delete") {
    if (!rest.empty()) return UsageError("berth profile delete needs NAME only", "profile");
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::DeleteProfileRequest request;
    request.set_name(name);
    v1::DeleteProfileResponse response;
    grpc::Status status = client.profiles().DeleteProfile(&ctx, request, &response);
    if (!status.ok()) return client.Report(status, "DeleteProfile");
    return kExitOk;
  }
  if (verb == "assign") {
    if (rest.size() != 1) {
      return UsageError("berth profile assign needs CONTAINER and PROFILE[,PROFILE...]",
                        "profile");
    }
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::SetContainerProfilesRequest request;
    request.set_name(name);
    // An empty list ("") leaves the container with its own config only.
    for (absl::string_view profile : absl::StrSplit(rest[0], ',', absl::SkipEmpty())) {
      request.add_profiles(std::string(profile));
    }
    v1::UpdateContainerConfigResponse response;
    grpc::Status status = client.profiles().SetContainerProfiles(&ctx, request, &response);
    if (!status.ok()) return client.Report(status, "SetContainerProfiles");
    PrintNotices(response);
    return kExitOk;
  }
  return UsageError(absl::StrCat("unknown profile command \"", verb, "\""), "profile");
}

}  // namespace

std::optional<DeviceArgs> ParseDeviceArgs(const std::vector<std::string>& words,
                                          std::string* error) {
  if (words.empty()) {
    *error = "a device needs a TYPE (disk, nic or proxy)";
    return std::nullopt;
  }
  DeviceArgs out;
  out.type = words[0];
  for (size_t i = 1; i < words.size(); ++i) {
    const size_t eq = words[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      *error = absl::StrCat("expected KEY=VALUE, got \"", words[i], "\"");
      return std::nullopt;
    }
    if (!out.options.emplace(words[i].substr(0, eq), words[i].substr(eq + 1)).second) {
      *error = absl::StrCat("option ", words[i].substr(0, eq), " is given twice");
      return std::nullopt;
    }
  }
  return out;
}

int RunContainerDeviceCommand(const std::string& socket, bool debug,
                              const std::vector<std::string>& positional) {
  ::signal(SIGPIPE, SIG_IGN);
  Client client(socket, debug);
  return DeviceCommand(client, /*is_profile=*/false, positional);
}

int ShowExpandedConfig(const std::string& socket, bool debug, const std::string& name,
                       std::set<std::string>* keys) {
  ::signal(SIGPIPE, SIG_IGN);
  Client client(socket, debug);
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::GetExpandedConfigRequest request;
  request.set_name(name);
  v1::ExpandedConfig expanded;
  grpc::Status status = client.profiles().GetExpandedConfig(&ctx, request, &expanded);
  if (!status.ok()) return client.Report(status, "GetExpandedConfig");
  std::cout << "# profiles: "
            << (expanded.profiles().empty() ? "(none)" : absl::StrJoin(expanded.profiles(), ", "))
            << "\n";
  std::map<std::string, v1::ExpandedConfig::Value> config(expanded.config().begin(),
                                                         expanded.config().end());
  if (config.empty()) std::cout << "{}\n";
  for (const auto& [key, value] : config) {
    keys->insert(key);
    std::string line = ConfigToYaml({{key, value.value()}});
    if (!value.profile().empty()) {
      // After the value's (last) line, so the YAML stays valid.
      if (!line.empty() && line.back() == '\n') line.pop_back();
      absl::StrAppend(&line, "  # from profile ", value.profile(), "\n");
    }
    std::cout << line;
  }
  std::map<std::string, v1::ExpandedConfig::ExpandedDevice> devices(expanded.devices().begin(),
                                                                    expanded.devices().end());
  for (const auto& [device, value] : devices) {
    std::cout << "# device " << device << " (" << value.device().type() << ")"
              << (value.profile().empty() ? "" : absl::StrCat(" from profile ", value.profile()))
              << ":";
    for (const auto& [key, option] : ToMap(value.device().options())) {
      std::cout << " " << key << "=" << option;
    }
    std::cout << "\n";
  }
  return kExitOk;
}

std::optional<int> RunProfileCommandLine(const std::vector<std::string>& args,
                                         const Environment& env) {
  const LeadingOptions leading = ParseLeadingOptions(args);
  std::string socket = leading.socket;
  bool debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || args[index] != "profile") return std::nullopt;
  std::string verb;
  std::vector<std::string> positional;
  std::optional<std::string> description;
  bool options_done = false;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.empty() || arg[0] != '-') {
      if (verb.empty()) {
        verb = arg;
      } else {
        positional.push_back(arg);
      }
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << kProfileUsage;
      return kExitOk;
    } else if (arg == "--socket") {
      if (i + 1 >= args.size()) return UsageError("--socket needs a path", "profile");
      socket = args[++i];
    } else if (arg == "--debug") {
      debug = true;
    } else if (arg == "--description") {
      if (i + 1 >= args.size()) return UsageError("--description needs text", "profile");
      description = args[++i];
    } else {
      return UsageError(absl::StrCat("unknown option ", arg), "profile");
    }
  }
  static const std::set<std::string> kVerbs = {"create", "list", "show",   "get",    "set",
                                               "unset",  "edit", "delete", "assign", "device"};
  if (!kVerbs.contains(verb)) {
    return UsageError(verb.empty() ? "berth profile needs create, list, show, get, set, unset, "
                                     "edit, delete, assign or device"
                                   : absl::StrCat("unknown profile command \"", verb, "\""),
                      "profile");
  }
  if (socket.empty()) socket = env.berth_socket.value_or(kDefaultSocketPath);
  return Run(socket, debug, verb, positional, description);
}

}  // namespace berth::client

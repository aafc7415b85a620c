#include "berth/client/command_line.h"

#include <absl/strings/str_cat.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "berth/client/exit_codes.h"

namespace berth::client {
namespace {

using StringMap = google::protobuf::Map<std::string, std::string>;

// KEY=VALUE with a non-empty key; the value may be empty and may hold '='.
CLI::Validator KeyValueValidator() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        const size_t eq = input.find('=');
        if (eq == std::string::npos || eq == 0) {
          return absl::StrCat("expected KEY=VALUE, got \"", input, "\"");
        }
        return "";
      },
      "KEY=VALUE", "KEY=VALUE");
}

// Later occurrences of a key replace earlier ones. Inputs passed KeyValueValidator.
void FillMap(const std::vector<std::string>& pairs, StringMap& map) {
  for (const std::string& pair : pairs) {
    const size_t eq = pair.find('=');
    map[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
}

// Everything any subcommand binds; only the chosen subcommand's fields are filled.
struct Arguments {
  std::string socket;
  bool debug = false;
  std::string format = "table";
  std::string name;
  std::string new_name;
  std::string template_name;
  std::vector<std::string> template_args;
  std::string image;
  std::vector<std::string> labels;
  std::vector<std::string> config;
  std::vector<std::string> profiles;
  int32_t stop_timeout = 0;
  int32_t wait_timeout = 0;
  std::string state = "stopped";
  bool force = false;
};

// One value per occurrence, so `-l a=b NAME` leaves NAME to the positional.
CLI::Option* AddRepeated(CLI::App* app, const std::string& flags, std::vector<std::string>& into,
                         const std::string& help) {
  return app->add_option(flags, into, help)->allow_extra_args(false)->type_name("KEY=VALUE");
}

void AddName(CLI::App* app, Arguments& a) {
  app->add_option("NAME", a.name, "Container name")->required();
}

void AddFormat(CLI::App* app, Arguments& a) {
  app->add_option("--format", a.format, "Output format")
      ->check(CLI::IsMember({"table", "json", "yaml", "csv"}))
      ->default_str("table");
}

void AddCreateOptions(CLI::App* app, Arguments& a) {
  AddName(app, a);
  auto* image = app->add_option("--image", a.image,
                                "Image (alias or fingerprint prefix) for the root filesystem, "
                                "shared copy-on-write, e.g. busybox");
  auto* from_template = app->add_option("--template", a.template_name,
                                        "LXC template for the root filesystem, e.g. busybox");
  image->excludes(from_template);
  from_template->excludes(image);
  app->add_option("--template-arg", a.template_args, "Argument passed to the template (repeatable)")
      ->allow_extra_args(false)
      ->type_name("ARG");
  AddRepeated(app, "-l,--label", a.labels, "Label KEY=VALUE (repeatable)")
      ->check(KeyValueValidator());
  AddRepeated(app, "-c,--config", a.config, "Config KEY=VALUE (repeatable)")
      ->check(KeyValueValidator());
  AddRepeated(app, "-p,--profile", a.profiles,
              "Profile to apply, in order (repeatable; default: the default profile)");
}

void AddStopOptions(CLI::App* app, Arguments& a) {
  AddName(app, a);
  app->add_option(
         "--timeout", a.stop_timeout,
         "Seconds to wait for a clean shutdown before killing (0: the daemon's default, 30)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  app->add_flag("--force", a.force, "Kill at once, without a clean shutdown");
}

OutputFormat ToFormat(const std::string& format) {
  if (format == "json") return OutputFormat::kJson;
  if (format == "yaml") return OutputFormat::kYaml;
  if (format == "csv") return OutputFormat::kCsv;
  return OutputFormat::kTable;
}

v1::State ToState(const std::string& state) {
  if (state == "running") return v1::STATE_RUNNING;
  if (state == "frozen") return v1::STATE_FROZEN;
  return v1::STATE_STOPPED;
}

std::chrono::milliseconds StopDeadline(int32_t timeout_seconds) {
  const std::chrono::seconds timeout =
      timeout_seconds == 0 ? kDefaultStopTimeout : std::chrono::seconds(timeout_seconds);
  return timeout + kStopDeadlineSlack;
}

ParseResult UsageError(const std::string& what) {
  ParseResult result;
  result.exit_code = kExitUsage;
  result.err = absl::StrCat("berth: ", what, "; run 'berth --help' for usage\n");
  return result;
}

}  // namespace

ParseResult ParseCommandLine(const std::vector<std::string>& args, const Environment& env) {
  Arguments a;
  CLI::App app{"berth: the command-line client of berthd, the system container manager", "berth"};
  app.require_subcommand(1);
  // exec, shell and console stream stdio and are parsed by exec_command.cc and
  // console_command.cc before this parser runs.
  app.footer(
      "Inside containers (see 'berth exec --help', 'berth console --help'):\n"
      "  exec NAME -- CMD [ARGS...]  Run a command in a running container\n"
      "  shell NAME                  Open a login shell with a terminal in a running container\n"
      "  console NAME [--show-log]   Attach to a running container's console (Ctrl-a q "
      "detaches)\n"
      "Events (see 'berth monitor --help'):\n"
      "  monitor [--type LIST] [--container NAME] [--since ID]  Print events as they happen\n"
      "Configuration (see 'berth config --help'):\n"
      "  config set|get|unset|show|edit|keys  A container's config keys and limits\n"
      "Snapshots and copies (see 'berth snapshot --help', 'berth copy --help'):\n"
      "  snapshot create|list|restore|delete  Save and restore a container's files and config\n"
      "  copy NAME NEW_NAME                   A stopped copy of a container\n"

      "Remote control (see 'berth remote --help', 'berth config trust --help'):\n"
      "  --remote NAME COMMAND..., NAME:CONTAINER  Send a command to a remote berthd\n"
      "  remote add|list|switch|remove         The remotes this client knows\n"
      "  config trust add-token|add|list|remove  Who may control this berthd over TCP");
  // Global options are also accepted after the subcommand: `berth version --socket PATH`.
  app.fallthrough();
  app.add_option("--socket", a.socket,
                 absl::StrCat("berthd's Unix socket (default: $BERTH_SOCKET, else ",
                              kDefaultSocketPath, ")"))
      ->type_name("PATH");
  app.add_flag("--debug", a.debug, "On error, also print the gRPC code and details");

  CLI::App* launch = app.add_subcommand("launch", "Create a container and start it");
  AddCreateOptions(launch, a);
  CLI::App* create = app.add_subcommand("create", "Create a container without starting it");
  AddCreateOptions(create, a);

  CLI::App* list = app.add_subcommand("list", "List containers");
  AddFormat(list, a);
  AddRepeated(list, "-l,--label", a.labels,
              "Only containers with this label KEY=VALUE (repeatable)")
      ->check(KeyValueValidator());

  CLI::App* info = app.add_subcommand("info", "Show a container's definition and live status");
  AddName(info, a);
  AddFormat(info, a);

  CLI::App* start = app.add_subcommand("start", "Start a container");
  AddName(start, a);
  CLI::App* stop = app.add_subcommand("stop", "Stop a container");
  AddStopOptions(stop, a);
  CLI::App* restart = app.add_subcommand("restart", "Stop a container, then start it");
  AddStopOptions(restart, a);
  CLI::App* pause = app.add_subcommand("pause", "Freeze a container's processes");
  AddName(pause, a);
  CLI::App* resume = app.add_subcommand("resume", "Thaw a paused container");
  AddName(resume, a);

  CLI::App* rename = app.add_subcommand("rename", "Rename a stopped container");
  AddName(rename, a);
  rename->add_option("NEW_NAME", a.new_name, "The new name")->required();

  CLI::App* del = app.add_subcommand("delete", "Delete a container");
  AddName(del, a);
  del->add_flag("--force", a.force, "Stop the container first if it is running");

  CLI::App* wait = app.add_subcommand("wait", "Wait until a container reaches a state");
  AddName(wait, a);
  wait->add_option("--state", a.state, "The state to wait for")
      ->check(CLI::IsMember({"stopped", "running", "frozen"}))
      ->default_str("stopped");
  CLI::Option* wait_timeout = wait->add_option("--timeout", a.wait_timeout,
                                               "Give up after this many seconds (default: never)")
                                  ->check(CLI::Range(1, std::numeric_limits<int32_t>::max()));

  CLI::App* version = app.add_subcommand("version", "Show client and daemon versions");
  AddFormat(version, a);
  CLI::App* host = app.add_subcommand("host", "Show host facts and container counts");
  AddFormat(host, a);

  try {
    // CLI11 takes the arguments last-first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    ParseResult result;
    result.out = app.help();
    return result;
  } catch (const CLI::CallForAllHelp&) {
    ParseResult result;
    result.out = app.help("", CLI::AppFormatMode::All);
    return result;
  } catch (const CLI::ParseError& error) {
    // CLI11 reports an unknown command as a missing one; name it instead.
    const std::vector<std::string> rest = app.remaining();
    if (app.get_subcommands().empty() && !rest.empty() && !rest.front().starts_with("-")) {
      return UsageError(absl::StrCat("unknown command \"", rest.front(), "\""));
    }
    if (app.get_subcommands().empty() && rest.empty() &&
        dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
      return UsageError("a command is required");
    }
    return UsageError(error.what());
  }

  Invocation inv;
  inv.debug = a.debug;
  inv.format = ToFormat(a.format);
  if (!a.socket.empty()) {
    inv.socket_path = a.socket;
  } else if (env.berth_socket.has_value() && !env.berth_socket->empty()) {
    inv.socket_path = *env.berth_socket;
  }

  if (app.got_subcommand(launch) || app.got_subcommand(create)) {
    if (a.image.empty() && a.template_name.empty()) {
      return UsageError("say where the root filesystem comes from: --image REF or --template NAME");
    }
    if (!a.image.empty() && !a.template_args.empty()) {
      return UsageError("--template-arg is for --template, not --image");
    }
    v1::CreateContainerRequest request;
    request.set_name(a.name);
    if (!a.image.empty()) {
      request.mutable_source()->mutable_image()->set_image(a.image);
    } else {
      v1::TemplateSource* source = request.mutable_source()->mutable_template_();
      source->set_name(a.template_name);
      for (const std::string& arg : a.template_args) source->add_args(arg);
    }
    FillMap(a.labels, *request.mutable_labels());
    FillMap(a.config, *request.mutable_config());
    for (const std::string& profile : a.profiles) request.add_profiles(profile);
    request.set_start(app.got_subcommand(launch));
    inv.request = std::move(request);
  } else if (app.got_subcommand(list)) {
    v1::ListContainersRequest request;
    request.set_view(v1::CONTAINER_VIEW_FULL);
    FillMap(a.labels, *request.mutable_label_selector());
    inv.request = std::move(request);
  } else if (app.got_subcommand(info)) {
    v1::GetContainerRequest request;
    request.set_name(a.name);
    request.set_view(v1::CONTAINER_VIEW_FULL);
    inv.request = std::move(request);
  } else if (app.got_subcommand(start)) {
    v1::StartContainerRequest request;
    request.set_name(a.name);
    inv.request = std::move(request);
  } else if (app.got_subcommand(stop)) {
    v1::StopContainerRequest request;
    request.set_name(a.name);
    request.set_timeout_seconds(a.stop_timeout);
    request.set_force(a.force);
    inv.request = std::move(request);
    inv.deadline = StopDeadline(a.stop_timeout);
  } else if (app.got_subcommand(restart)) {
    v1::RestartContainerRequest request;
    request.set_name(a.name);
    request.set_timeout_seconds(a.stop_timeout);
    request.set_force(a.force);
    inv.request = std::move(request);
    inv.deadline = StopDeadline(a.stop_timeout);
  } else if (app.got_subcommand(pause)) {
    v1::FreezeContainerRequest request;
    request.set_name(a.name);
    inv.request = std::move(request);
  } else if (app.got_subcommand(resume)) {
    v1::UnfreezeContainerRequest request;
    request.set_name(a.name);
    inv.request = std::move(request);
  } else if (app.got_subcommand(rename)) {
    v1::RenameContainerRequest request;
    request.set_name(a.name);
    request.set_new_name(a.new_name);
    inv.request = std::move(request);
  } else if (app.got_subcommand(del)) {
    v1::DeleteContainerRequest request;
    request.set_name(a.name);
    request.set_force(a.force);
    inv.request = std::move(request);
  } else if (app.got_subcommand(wait)) {
    v1::WaitContainerRequest request;
    request.set_name(a.name);
    request.set_state(ToState(a.state));
    inv.request = std::move(request);
    // The request carries no timeout: the call's deadline is the timeout.
    inv.deadline =
        wait_timeout->count() > 0
            ? std::optional<std::chrono::milliseconds>(std::chrono::seconds(a.wait_timeout))
            : std::nullopt;
  } else if (app.got_subcommand(version)) {
    inv.request = v1::GetVersionRequest();
  } else if (app.got_subcommand(host)) {
    inv.request = v1::GetHostInfoRequest();
  } else {
    return UsageError("a command is required");
  }

  ParseResult result;
  result.invocation = std::move(inv);
  return result;
}

LeadingOptions ParseLeadingOptions(const std::vector<std::string>& args) {
  LeadingOptions out;
  size_t& i = out.command_index;
  while (i < args.size()) {
    if (args[i] == "--socket" && i + 1 < args.size()) {
      out.socket = args[i + 1];
      i += 2;
    } else if (args[i] == "--debug") {
      out.debug = true;
      ++i;
    } else {
      break;
    }
  }
  return out;
}

}  // namespace berth::client

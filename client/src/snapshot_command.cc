#include "berth/client/snapshot_command.h"

#include <absl/strings/str_cat.h>
#include <absl/time/time.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/v1/snapshots.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kSnapshotUsage[] =
    "usage: berth snapshot create NAME SNAPSHOT            save the container's files, config\n"
    "                                                      and labels (a running one is frozen\n"
    "                                                      while its files are copied)\n"
    "       berth snapshot list NAME [--format table|json] oldest first\n"
    "       berth snapshot restore NAME SNAPSHOT [--restart]\n"
    "                                                      put them back; a running container\n"
    "                                                      needs --restart (stop, restore, start)\n"
    "       berth snapshot delete NAME SNAPSHOT\n"
    "Options: --socket PATH, --debug.\n";

constexpr char kCopyUsage[] =
    "usage: berth copy NAME NEW_NAME   a stopped copy of the container: its files (not its\n"
    "                                  snapshots), config and labels; a running source is\n"
    "                                  frozen while its files are copied\n"
    "Options: --socket PATH, --debug.\n";

// Copying a large root filesystem takes a while; the daemon finishes it whatever the client does.
constexpr std::chrono::minutes kCopyDeadline{30};

struct SnapshotArgs {
  std::string command;  // "snapshot" or "copy"
  std::string socket;
  bool debug = false;
  bool restart = false;
  std::string format = "table";
  std::string verb;  // snapshot only
  std::vector<std::string> positional;
};

int UsageError(const SnapshotArgs& a, const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth " << a.command << " --help' for usage\n";
  return kExitUsage;
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

int Run(const SnapshotArgs& a) {
  auto channel =
      grpc::CreateChannel(absl::StrCat("unix:", a.socket), grpc::InsecureChannelCredentials());
  auto stub = v1::Snapshots::NewStub(channel);
  grpc::ClientContext ctx;
  const bool long_call = a.command == "copy" || a.verb == "create" || a.verb == "restore";
  ctx.set_deadline(std::chrono::system_clock::now() +
                   (long_call ? std::chrono::duration_cast<std::chrono::seconds>(kCopyDeadline)
                              : kDefaultDeadline));
  auto fail = [&](const grpc::Status& status, const char* rpc) {
    return ReportCallError(status, CallContext(a.socket, rpc, status), a.debug, std::cerr);
  };
  const std::vector<std::string>& p = a.positional;
  if (a.command == "copy") {
    v1::CopyContainerRequest request;
    request.set_name(p[0]);
    request.set_new_name(p[1]);
    v1::Container response;
    grpc::Status status = stub->CopyContainer(&ctx, request, &response);
    if (!status.ok()) return fail(status, "CopyContainer");
    std::cout << "Copied " << p[0] << " to " << p[1] << "\n";
    return kExitOk;
  }
  if (a.verb == "create") {
    v1::CreateSnapshotRequest request;
    request.set_container(p[0]);
    request.set_name(p[1]);
    v1::Snapshot response;
    grpc::Status status = stub->CreateSnapshot(&ctx, request, &response);
    if (!status.ok()) return fail(status, "CreateSnapshot");
    std::cout << "Took snapshot " << p[1] << " of " << p[0] << "\n";
    return kExitOk;
  }
  if (a.verb == "list") {
    v1::ListSnapshotsRequest request;
    request.set_container(p[0]);
    v1::ListSnapshotsResponse response;
    grpc::Status status = stub->ListSnapshots(&ctx, request, &response);
    if (!status.ok()) return fail(status, "ListSnapshots");
    if (a.format == "json") {
      nlohmann::json out = nlohmann::json::array();
      for (const v1::Snapshot& s : response.snapshots()) {
        out.push_back(
            {{"name", s.name()},
             {"created", FormatTime(s.created_at())},
             {"config", std::map<std::string, std::string>(s.config().begin(), s.config().end())},
             {"labels", std::map<std::string, std::string>(s.labels().begin(), s.labels().end())}});
      }
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    size_t width = 4;
    for (const v1::Snapshot& s : response.snapshots()) width = std::max(width, s.name().size());
    std::cout << "NAME" << std::string(width - 4 + 2, ' ') << "CREATED\n";
    for (const v1::Snapshot& s : response.snapshots()) {
      std::cout << s.name() << std::string(width - s.name().size() + 2, ' ')
                << FormatTime(s.created_at()) << "\n";
    }
    return kExitOk;
  }
  if (a.verb == "restore") {
    v1::RestoreSnapshotRequest request;
    request.set_container(p[0]);
    request.set_name(p[1]);
    request.set_restart(a.restart);
    v1::Container response;
    grpc::Status status = stub->RestoreSnapshot(&ctx, request, &response);
    if (!status.ok()) return fail(status, "RestoreSnapshot");
    std::cout << "Restored " << p[0] << " from snapshot " << p[1] << "\n";
    return kExitOk;
  }
  v1::DeleteSnapshotRequest request;
  request.set_container(p[0]);
  request.set_name(p[1]);
  v1::DeleteSnapshotResponse response;
  grpc::Status status = stub->DeleteSnapshot(&ctx, request, &response);
  if (!status.ok()) return fail(status, "DeleteSnapshot");
  std::cout << "Deleted snapshot " << p[1] << " of " << p[0] << "\n";
  return kExitOk;
}

}  // namespace

std::optional<int> RunSnapshotCommandLine(const std::vector<std::string>& args,
                                          const Environment& env) {
  SnapshotArgs a;
  const LeadingOptions leading = ParseLeadingOptions(args);
  a.socket = leading.socket;
  a.debug = leading.debug;
  const size_t index = leading.command_index;
  if (index >= args.size() || (args[index] != "snapshot" && args[index] != "copy")) {
    return std::nullopt;
  }
  a.command = args[index];
  const bool is_copy = a.command == "copy";
  bool options_done = false;
  for (size_t i = index + 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.empty() || arg[0] != '-') {
      if (!is_copy && a.verb.empty()) {
        a.verb = arg;
      } else {
        a.positional.push_back(arg);
      }
    } else if (arg == "--") {
      options_done = true;
    } else if (arg == "-h" || arg == "--help") {
      std::cout << (is_copy ? kCopyUsage : kSnapshotUsage);
      return kExitOk;
    } else if (arg == "--socket") {
      if (i + 1 >= args.size()) return UsageError(a, "--socket needs a path");
      a.socket = args[++i];
    } else if (arg == "--debug") {
      a.debug = true;
    } else if (arg == "--restart" && !is_copy) {
      a.restart = true;
    } else if (arg == "--format" && !is_copy) {
      if (i + 1 >= args.size()) return UsageError(a, "--format needs table or json");
      a.format = args[++i];
      if (a.format != "table" && a.format != "json") {
        return UsageError(a, "--format must be table or json");
      }
    } else {
      return UsageError(a, absl::StrCat("unknown option ", arg));
    }
  }
  if (is_copy) {
    if (a.positional.size() != 2) return UsageError(a, "berth copy needs NAME and NEW_NAME");
  } else {
    static const std::set<std::string> kVerbs = {"create", "list", "restore", "delete"};
    if (!kVerbs.contains(a.verb)) {
      return UsageError(a, a.verb.empty()
                               ? "berth snapshot needs create, list, restore or delete"
                               : absl::StrCat("unknown snapshot command \"", a.verb, "\""));
    }
    const size_t wanted = a.verb == "list" ? 1 : 2;
    if (a.positional.size() != wanted) {
      return UsageError(a, absl::StrCat("berth snapshot ", a.verb, " needs ",
                                        wanted == 1 ? "NAME" : "NAME and SNAPSHOT"));
    }
    if (a.restart && a.verb != "restore") {
      return UsageError(a, "--restart is for snapshot restore only");
    }
    if (a.format != "table" && a.verb != "list") {
      return UsageError(a, "--format is for snapshot list only");
    }
  }
  if (a.socket.empty()) a.socket = env.berth_socket.value_or(kDefaultSocketPath);
  return Run(a);
}

}  // namespace berth::client

// berth config trust add-token|add|list|remove: the trust store of the berthd a command goes to.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/tls/certificates.h"
#include "berth/v1/trust.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kTrustUsage[] =
    "usage: berth config trust add-token NAME [--restricted=readonly] [--ttl SECONDS]\n"
    "                                      print a one-time join token (default ttl 3600 s)\n"
    "       berth config trust add CERT.pem [--name NAME] [--restricted=readonly]\n"
    "                                      trust a client certificate\n"
    "       berth config trust list [--format table|json]\n"
    "       berth config trust remove FINGERPRINT   (a unique prefix of 8+ hex digits is enough)\n"
    "Options: --socket PATH, --remote NAME, --debug.\n";

int TrustUsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth config trust --help' for usage\n";
  return kExitUsage;
}

std::string TimeText(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

const char* RoleText(v1::TrustRole role) {
  return role == v1::TRUST_ROLE_READONLY ? "readonly" : "admin";
}

}  // namespace

std::optional<int> RunTrustCommandLine(const std::vector<std::string>& args,
                                       const Environment& env) {
  const LeadingOptions leading = ParseLeadingOptions(args);
  size_t i = leading.command_index;
  if (i + 1 >= args.size() || args[i] != "config" || args[i + 1] != "trust") return std::nullopt;
  std::string socket = leading.socket;
  bool debug = leading.debug;
  std::string verb, name, format = "table";
  v1::TrustRole role = v1::TRUST_ROLE_ADMIN;
  uint32_t ttl = 0;
  std::vector<std::string> positional;
  for (i += 2; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string v;
    if (arg == "-h" || arg == "--help") {
      std::cout << kTrustUsage;
      return kExitOk;
    } else if (arg == "--restricted=readonly" || arg == "--readonly") {
      role = v1::TRUST_ROLE_READONLY;
    } else if (arg == "--restricted") {
      if (!value(&v) || v != "readonly") return TrustUsageError("--restricted takes readonly");
      role = v1::TRUST_ROLE_READONLY;
    } else if (absl::StartsWith(arg, "--restricted=")) {
      return TrustUsageError("--restricted takes readonly");
    } else if (arg == "--ttl") {
      if (!value(&v) || !absl::SimpleAtoi(v, &ttl) || ttl == 0) {
        return TrustUsageError("--ttl needs a number of seconds above 0");
      }
    } else if (arg == "--name") {
      if (!value(&name)) return TrustUsageError("--name needs a value");
    } else if (arg == "--format") {
      if (!value(&format) || (format != "table" && format != "json")) {
        return TrustUsageError("--format takes table or json");
      }
    } else if (arg == "--socket") {
      if (!value(&socket)) return TrustUsageError("--socket needs a path");
    } else if (arg == "--debug") {
      debug = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return TrustUsageError(absl::StrCat("unknown option \"", arg, "\""));
    } else if (verb.empty()) {
      verb = arg;
    } else {
      positional.push_back(arg);
    }
  }
  if (socket.empty()) socket = env.berth_socket.value_or(kDefaultSocketPath);
  auto stub = v1::Trust::NewStub(OpenChannel(socket));
  auto call = [&](const char* rpc, auto&& method) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kDefaultDeadline);
    grpc::Status status = method(&ctx);
    if (!status.ok()) return ReportCallError(status, CallContext(socket, rpc, status), debug, std::cerr);
    return kExitOk;
  };

  if (verb == "add-token") {
    if (positional.size() != 1) return TrustUsageError("config trust add-token needs NAME");
    v1::CreateJoinTokenRequest request;
    request.set_name(positional[0]);
    request.set_role(role);
    request.set_ttl_seconds(ttl);
    v1::CreateJoinTokenResponse response;
    int code = call("CreateJoinToken", [&](grpc::ClientContext* ctx) {
      return stub->CreateJoinToken(ctx, request, &response);
    });
    if (code != kExitOk) return code;
    std::cout << response.token() << "\n";
    std::cerr << "berth: note: the token enrolls one client as \"" << positional[0] << "\" ("
              << RoleText(role) << ") until " << TimeText(response.expires_at())
              << "; on the client: berth remote add NAME HOST:PORT --token TOKEN\n";
    return kExitOk;
  }
  if (verb == "add") {
    if (positional.size() != 1) return TrustUsageError("config trust add needs CERT.pem");
    absl::StatusOr<std::string> pem = tls::ReadFile(positional[0]);
    if (!pem.ok()) {
      std::cerr << "berth: " << pem.status().message() << "\n";
      return absl::IsNotFound(pem.status()) ? kExitNotFound : kExitFailure;
    }
    v1::AddTrustedClientRequest request;
    request.set_certificate_pem(*pem);
    request.set_name(name);
    request.set_role(role);
    v1::TrustedClient response;
    int code = call("AddTrustedClient", [&](grpc::ClientContext* ctx) {
      return stub->AddTrustedClient(ctx, request, &response);
    });
    if (code == kExitOk) {
      std::cout << "Trusted \"" << response.name() << "\" (" << RoleText(response.role())
                << "): " << response.fingerprint() << "\n";
    }
    return code;
  }
  if (verb == "list") {
    if (!positional.empty()) return TrustUsageError("config trust list takes no arguments");
    v1::ListTrustedClientsResponse response;
    int code = call("ListTrustedClients", [&](grpc::ClientContext* ctx) {
      return stub->ListTrustedClients(ctx, v1::ListTrustedClientsRequest(), &response);
    });
    if (code != kExitOk) return code;
    if (format == "json") {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const auto& c : response.clients()) {
        out.push_back({{"fingerprint", c.fingerprint()},
                       {"name", c.name()},
                       {"role", RoleText(c.role())},
                       {"added_at", TimeText(c.added_at())},
                       {"last_seen", c.has_last_seen() ? TimeText(c.last_seen()) : ""}});
      }
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    std::cout << "FINGERPRINT  NAME  ROLE  ADDED  LAST-SEEN\n";
    for (const auto& c : response.clients()) {
      std::cout << c.fingerprint() << "  " << c.name() << "  " << RoleText(c.role()) << "  "
                << TimeText(c.added_at()) << "  "
                << (c.has_last_seen() ? TimeText(c.last_seen()) : "-") << "\n";
    }
    return kExitOk;
  }
  if (verb == "remove") {
    if (positional.size() != 1) return TrustUsageError("config trust remove needs FINGERPRINT");
    v1::RemoveTrustedClientRequest request;
    request.set_fingerprint(positional[0]);
    v1::RemoveTrustedClientResponse response;
    return call("RemoveTrustedClient", [&](grpc::ClientContext* ctx) {
      return stub->RemoveTrustedClient(ctx, request, &response);
    });
  }
  if (verb.empty()) return TrustUsageError("config trust needs a subcommand: add-token, add, list, remove");
  return TrustUsageError(absl::StrCat("unknown config trust subcommand \"", verb, "\""));
}

}  // namespace berth::client

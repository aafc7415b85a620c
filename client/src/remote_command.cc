// berth remote add|list|switch|remove, the client's identity, and the channel every command opens.

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/tls/certificates.h"
#include "berth/v1/trust.grpc.pb.h"

namespace berth::client {
namespace {

constexpr char kRemoteUsage[] =
    "usage: berth remote add NAME HOST:PORT --token TOKEN   enroll with berthd at HOST:PORT\n"
    "       berth remote list                               the remotes (* marks the current one)\n"
    "       berth remote switch NAME|local                  where commands go by default\n"
    "       berth remote remove NAME                        forget a remote\n"
    "Then: berth --remote NAME COMMAND..., or NAME:CONTAINER wherever a container is named.\n";

int RemoteUsageError(const std::string& what) {
  std::cerr << "berth: " << what << "; run 'berth remote --help' for usage\n";
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  std::cerr << "berth: " << status.message() << "\n";
  return status.code() == absl::StatusCode::kInvalidArgument ? kExitInvalidArgument : kExitFailure;
}

// Remote names: what can stand before ':' in NAME:CONTAINER without being mistaken for anything
// else: 1-63 lowercase letters, digits and '-', starting with a letter.
bool IsRemoteName(const std::string& name) {
  if (name.empty() || name.size() > 63 || !absl::ascii_islower(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      return false;
    }
  }
  return name != "local";
}

std::string Path(const std::string& dir, const char* file) { return absl::StrCat(dir, "/", file); }

absl::Status MakePrivateDir(const std::string& dir) {
  // Parents (e.g. ~/.config) as a user's shell would make them; the berth directory itself 0700.
  size_t slash = dir.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string parent = dir.substr(0, slash);
    struct stat st;
    if (stat(parent.c_str(), &st) != 0) {
      for (size_t i = 1; i <= parent.size(); ++i) {
        if (i == parent.size() || parent[i] == '/') mkdir(parent.substr(0, i).c_str(), 0755);
      }
    }
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(
        absl::StrCat("cannot create \"", dir, "\": ", std::strerror(errno)));
  }
  chmod(dir.c_str(), 0700);
  return absl::OkStatus();
}

// This client's key and certificate, created (0600) on first use.
absl::StatusOr<tls::KeyAndCertificate> ClientIdentity(bool create) {
  absl::StatusOr<std::string> dir = ConfigDir();
  if (!dir.ok()) return dir.status();
  if (create) {
    if (auto s = MakePrivateDir(*dir); !s.ok()) return s;
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string name = host[0] != '\0' ? host : "berth-client";
  return tls::LoadOrCreate(Path(*dir, "client.key"), Path(*dir, "client.crt"),
                           {.common_name = name, .dns_names = {}});
}

// Accepts the server's certificate only when its SHA-256 is the pinned fingerprint. There is no
// CA: berthd's certificate is self-signed, and the pin (from the join token) is the trust.
class PinnedServerVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit PinnedServerVerifier(std::string fingerprint) : fingerprint_(std::move(fingerprint)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    std::string pem(request->peer_cert().data(), request->peer_cert().size());
    absl::StatusOr<std::string> got = tls::Fingerprint(pem);
    if (got.ok() && *got == fingerprint_) {
      *sync_status = grpc::Status::OK;
    } else {
      *sync_status = grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          absl::StrCat("the server's certificate ", got.ok() ? *got : "(unreadable)",
                       " is not the pinned ", fingerprint_));
    }
    return true;  // Decided synchronously.
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string fingerprint_;
};

std::shared_ptr<grpc::Channel> PinnedChannel(const std::string& address,
                                             const std::string& fingerprint,
                                             const tls::KeyAndCertificate& identity) {
  using namespace grpc::experimental;
  TlsChannelCredentialsOptions options;
  // The root set is never consulted (verify_server_certs is off: the pin decides), but without
  // one gRPC parses the system's whole CA bundle in every berth process (~0.3 s of a 0.5 s
  // command on the development VM), so it gets the smallest valid one: our own certificate.
  options.set_certificate_provider(std::make_shared<StaticDataCertificateProvider>(
      identity.cert_pem, std::vector<IdentityKeyCertPair>{{identity.key_pem, identity.cert_pem}}));
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // No CA chain and no host name to check: the verifier pins the exact certificate.
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      ExternalCertificateVerifier::Create<PinnedServerVerifier>(fingerprint));
  grpc::ChannelArguments args;
  // Each CLI process makes one connection: no need to wait for the pool's reconnect backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  return grpc::CreateCustomChannel(address, TlsCredentials(options), args);
}

// A channel whose calls fail at once with UNAVAILABLE (nothing listens at an abstract name
// nobody binds) after `why` was printed.
std::shared_ptr<grpc::Channel> BrokenChannel(const absl::Status& why) {
  std::cerr << "berth: " << why.message() << "\n";
  return grpc::CreateChannel("unix:/nonexistent/berth-remote-unavailable",
                             grpc::InsecureChannelCredentials());
}

int Add(const std::vector<std::string>& positional, const std::string& token_text, bool debug) {
  if (positional.size() != 2) return RemoteUsageError("remote add needs NAME and HOST:PORT");
  const std::string& name = positional[0];
  const std::string& address = positional[1];
  if (!IsRemoteName(name)) {
    return RemoteUsageError(absl::StrCat(
        "remote name \"", absl::CHexEscape(name),
        "\" is not valid: use 1-63 lowercase letters, digits and '-', starting with a letter "
        "(and not \"local\")"));
  }
  if (token_text.empty()) return RemoteUsageError("remote add needs --token TOKEN");
  if (address.find(':') == std::string::npos) {
    return RemoteUsageError(absl::StrCat("\"", address, "\" is not HOST:PORT (e.g. 192.0.2.10:8443)"));
  }
  absl::StatusOr<tls::JoinToken> token = tls::ParseJoinToken(token_text);
  if (!token.ok()) return Failure(token.status());
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return Failure(config.status());
  if (config->remotes.count(name)) {
    std::cerr << "berth: a remote named \"" << name
              << "\" exists already; remove it first (berth remote remove " << name << ")\n";
    return kExitAlreadyExists;
  }
  absl::StatusOr<tls::KeyAndCertificate> identity = ClientIdentity(/*create=*/true);
  if (!identity.ok()) return Failure(identity.status());

  auto stub = v1::Trust::NewStub(PinnedChannel(address, token->server_fingerprint, *identity));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  v1::EnrollRequest request;
  request.set_secret(token->secret);
  v1::EnrollResponse response;
  grpc::Status status = stub->Enroll(&ctx, request, &response);
  if (!status.ok()) {
    ErrorContext context = CallContext(address, "Enroll", status);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      // The handshake failing is the usual reason: the pin did not match (another server, or
      // someone in between), or nothing listens there.
      std::cerr << "berth: cannot enroll with berthd at " << address << ": either nothing "
                << "listens there (is listen_tcp set?), or its certificate is not the one the "
                << "token names (" << token->server_fingerprint.substr(0, 16)
                << "...): a different server, or someone in between\n";
      if (debug) std::cerr << "berth: debug: Enroll failed: " << status.error_message() << "\n";
      return kExitUnavailable;
    }
    return ReportCallError(status, context, debug, std::cerr);
  }
  config->remotes[name] = {.address = address, .fingerprint = token->server_fingerprint};
  if (auto s = SaveRemoteConfig(*config); !s.ok()) return Failure(s);
  std::cout << "Remote \"" << name << "\" added: enrolled as \"" << response.client().name()
            << "\" (" << (response.client().role() == v1::TRUST_ROLE_READONLY ? "readonly" : "admin")
            << "); use it with berth --remote " << name << " ... or berth remote switch " << name
            << "\n";
  return kExitOk;
}

int List() {
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return Failure(config.status());
  std::cout << "  NAME  ADDRESS  FINGERPRINT\n";
  std::cout << (config->current == "local" ? "* " : "  ") << "local  unix socket  -\n";
  for (const auto& [name, remote] : config->remotes) {
    std::cout << (config->current == name ? "* " : "  ") << name << "  " << remote.address << "  "
              << remote.fingerprint << "\n";
  }
  return kExitOk;
}

int Switch(const std::string& name) {
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return Failure(config.status());
  if (name != "local" && !config->remotes.count(name)) {
    std::cerr << "berth: no remote named \"" << name << "\"; see berth remote list\n";
    return kExitNotFound;
  }
  config->current = name;
  if (auto s = SaveRemoteConfig(*config); !s.ok()) return Failure(s);
  return kExitOk;
}

int Remove(const std::string& name) {
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return Failure(config.status());
  if (!config->remotes.erase(name)) {
    std::cerr << "berth: no remote named \"" << name << "\"; see berth remote list\n";
    return kExitNotFound;
  }
  if (config->current == name) config->current = "local";
  if (auto s = SaveRemoteConfig(*config); !s.ok()) return Failure(s);
  return kExitOk;
}

}  // namespace

absl::StatusOr<std::string> ConfigDir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return absl::StrCat(xdg, "/berth");
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return absl::StrCat(home, "/.config/berth");
  return absl::FailedPreconditionError(
      "neither XDG_CONFIG_HOME nor HOME is set, so berth has nowhere to keep its remotes");
}

absl::StatusOr<RemoteConfig> LoadRemoteConfig() {
  absl::StatusOr<std::string> dir = ConfigDir();
  // Without a home there are no remotes: every command is local (saving one says why it fails).
  if (!dir.ok()) return RemoteConfig{};
  const std::string path = Path(*dir, "remotes.json");
  absl::StatusOr<std::string> text = tls::ReadFile(path);
  if (absl::IsNotFound(text.status())) return RemoteConfig{};
  if (!text.ok()) return text.status();
  RemoteConfig config;
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", path, "\" is not a berth remotes file; fix it or move it aside"));
  };
  if (!json.is_object()) return bad();
  if (json.contains("current")) {
    if (!json["current"].is_string()) return bad();
    config.current = json["current"].get<std::string>();
  }
  if (json.contains("remotes")) {
    if (!json["remotes"].is_object()) return bad();
    for (const auto& [name, entry] : json["remotes"].items()) {
      if (!entry.is_object() || !entry.contains("address") || !entry["address"].is_string() ||
          !entry.contains("fingerprint") || !entry["fingerprint"].is_string() ||
          !tls::IsFingerprint(entry["fingerprint"].get<std::string>())) {
        return bad();
      }
      config.remotes[name] = {.address = entry["address"].get<std::string>(),
                              .fingerprint = entry["fingerprint"].get<std::string>()};
    }
  }
  return config;
}

absl::Status SaveRemoteConfig(const RemoteConfig& config) {
  absl::StatusOr<std::string> dir = ConfigDir();
  if (!dir.ok()) return dir.status();
  if (auto s = MakePrivateDir(*dir); !s.ok()) return s;
  nlohmann::ordered_json json = {{"current", config.current},
                                 {"remotes", nlohmann::ordered_json::object()}};
  for (const auto& [name, remote] : config.remotes) {
    json["remotes"][name] = {{"address", remote.address}, {"fingerprint", remote.fingerprint}};
  }
  return tls::WritePrivateFile(Path(*dir, "remotes.json"), json.dump(2) + "\n");
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target) {
  if (!absl::StartsWith(target, kRemoteTargetPrefix)) {
    return grpc::CreateChannel(absl::StrCat("unix:", target), grpc::InsecureChannelCredentials());
  }
  const std::string name = target.substr(sizeof kRemoteTargetPrefix - 1);
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return BrokenChannel(config.status());
  auto it = config->remotes.find(name);
  if (it == config->remotes.end()) {
    return BrokenChannel(absl::NotFoundError(absl::StrCat("no remote named \"", name, "\"")));
  }
  absl::StatusOr<tls::KeyAndCertificate> identity = ClientIdentity(/*create=*/false);
  if (!identity.ok()) return BrokenChannel(identity.status());
  return PinnedChannel(it->second.address, it->second.fingerprint, *identity);
}

absl::StatusOr<std::vector<std::string>> SelectTarget(std::vector<std::string> args,
                                                      Environment& env) {
  std::optional<std::string> chosen;
  bool socket_given = false;
  size_t i = 0;
  while (i < args.size()) {
    if (args[i] == "--remote") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--remote needs a remote name");
      chosen = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
    } else if (absl::StartsWith(args[i], "--remote=")) {
      chosen = args[i].substr(9);
      args.erase(args.begin() + i);
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      socket_given = true;
      i += 2;
    } else if (args[i] == "--debug") {
      ++i;
    } else {
      break;
    }
  }
  // `berth remote ...` manages remotes; it does not go to one.
  if (i < args.size() && args[i] == "remote") {
    if (chosen) return absl::InvalidArgumentError("--remote does not apply to berth remote");
    return args;
  }
  absl::StatusOr<RemoteConfig> config = LoadRemoteConfig();
  if (!config.ok()) return config.status();
  // NAME:REST for a known remote NAME, before the command's own "--".
  for (size_t j = i; j < args.size() && args[j] != "--"; ++j) {
    size_t colon = args[j].find(':');
    if (colon == std::string::npos || colon == 0) continue;
    std::string prefix = args[j].substr(0, colon);
    if (!config->remotes.count(prefix) || colon + 1 >= args[j].size()) continue;
    if (chosen && *chosen != prefix) {
      return absl::InvalidArgumentError(absl::StrCat(
          "one command goes to one berthd, but this one names remotes \"", *chosen, "\" and \"",
          prefix, "\""));
    }
    chosen = prefix;
    args[j] = args[j].substr(colon + 1);
  }
  if (!chosen && !socket_given && !(env.berth_socket && !env.berth_socket->empty()) &&
      config->current != "local") {
    chosen = config->current;
  }
  if (!chosen || *chosen == "local") return args;
  if (socket_given) {
    return absl::InvalidArgumentError("give either --socket or a remote, not both");
  }
  if (!config->remotes.count(*chosen)) {
    return absl::NotFoundError(
        absl::StrCat("no remote named \"", *chosen, "\"; see berth remote list"));
  }
  env.berth_socket = absl::StrCat(kRemoteTargetPrefix, *chosen);
  return args;
}

std::optional<int> RunRemoteCommandLine(const std::vector<std::string>& args,
                                        const Environment&) {
  const LeadingOptions leading = ParseLeadingOptions(args);
  size_t i = leading.command_index;
  if (i >= args.size() || args[i] != "remote") return std::nullopt;
  std::vector<std::string> positional;
  std::string token;
  std::string verb;
  for (++i; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kRemoteUsage;
      return kExitOk;
    } else if (arg == "--token") {
      if (i + 1 >= args.size()) return RemoteUsageError("--token needs a value");
      token = args[++i];
    } else if (absl::StartsWith(arg, "--token=")) {
      token = arg.substr(8);
    } else if (!arg.empty() && arg[0] == '-') {
      return RemoteUsageError(absl::StrCat("unknown option \"", arg, "\""));
    } else if (verb.empty()) {
      verb = arg;
    } else {
      positional.push_back(arg);
    }
  }
  if (verb == "add") return Add(positional, token, leading.debug);
  if (!token.empty()) return RemoteUsageError("--token is for remote add only");
  if (verb == "list") {
    if (!positional.empty()) return RemoteUsageError("remote list takes no arguments");
    return List();
  }
  if (verb == "switch" || verb == "remove") {
    if (positional.size() != 1) return RemoteUsageError(absl::StrCat("remote ", verb, " needs NAME"));
    return verb == "switch" ? Switch(positional[0]) : Remove(positional[0]);
  }
  if (verb.empty()) return RemoteUsageError("remote needs a subcommand: add, list, switch, remove");
  return RemoteUsageError(absl::StrCat("unknown remote subcommand \"", verb, "\""));
}

}  // namespace berth::client

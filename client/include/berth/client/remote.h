#pragma once

// Remote control from the client's side: the remotes berth knows (`berth remote ...`), its own
// key and certificate, and the channel every command opens (Unix socket or TLS to a remote).
//
// Files, in $XDG_CONFIG_HOME/berth (else $HOME/.config/berth), directory 0700, files 0600:
//   remotes.json  {"current": "local"|NAME, "remotes": {NAME: {"address", "fingerprint"}}}
//   client.key, client.crt  this client's identity (ECDSA P-256, self-signed), made on first use

#include <grpcpp/channel.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "berth/client/command_line.h"

namespace berth::client {

// A target string that names a remote instead of a socket path: "remote:NAME".
inline constexpr char kRemoteTargetPrefix[] = "remote:";

struct RemoteEntry {
  std::string address;      // HOST:PORT
  std::string fingerprint;  // The server certificate's SHA-256, pinned at `remote add`.
};

struct RemoteConfig {
  std::string current = "local";
  std::map<std::string, RemoteEntry> remotes;
};

// $XDG_CONFIG_HOME/berth or $HOME/.config/berth. FAILED_PRECONDITION when neither is set.
absl::StatusOr<std::string> ConfigDir();
// The remotes file's contents; an empty config when it does not exist yet.
absl::StatusOr<RemoteConfig> LoadRemoteConfig();
absl::Status SaveRemoteConfig(const RemoteConfig& config);

// The channel for `target`: a socket path (insecure, over the Unix socket), or "remote:NAME"
// (TLS with this client's certificate, the server's certificate checked against the pinned
// fingerprint). Never blocks. A remote that cannot be loaded gives a channel whose calls fail
// with UNAVAILABLE (SelectTarget has checked it before, so this is a race at most).
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& target);

// Applies the remote selection to the command line, before any command parses it:
//   `--remote NAME` among the leading options; an argument "NAME:REST" (before any "--") where
//   NAME is a known remote, rewritten to REST (`berth exec prod:web -- uptime`,
//   `berth file push f prod:web/tmp/f`); else, without --socket or BERTH_SOCKET, the current
//   remote of `berth remote switch`.
// A chosen remote becomes env.berth_socket = "remote:NAME". Returns the rewritten arguments, or
// a usage error (an unknown remote, --remote with --socket).
absl::StatusOr<std::vector<std::string>> SelectTarget(std::vector<std::string> args,
                                                      Environment& env);

// `berth remote add|list|switch|remove`; nullopt when `args` is not a remote command.
std::optional<int> RunRemoteCommandLine(const std::vector<std::string>& args,
                                        const Environment& env);

// `berth config trust add-token|add|list|remove`; nullopt when `args` is not one.
std::optional<int> RunTrustCommandLine(const std::vector<std::string>& args,
                                       const Environment& env);

}  // namespace berth::client

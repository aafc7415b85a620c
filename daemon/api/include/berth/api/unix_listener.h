#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace grpc {
class Server;
}

namespace berth::api {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Accepts connections on berthd's Unix socket itself, reads each peer's credentials with
// SO_PEERCRED and hands the connection to gRPC (AddInsecureChannelFromFd). gRPC then names the peer
// "fd:N", which Lookup maps back to the credentials: that is how the API knows who calls.
//
// Threading: one accept thread (Serve .. Stop). Lookup is called from gRPC threads; the peer table
// is guarded by a mutex. Connections handed to gRPC bypass its resource quota, so the listener caps
// them itself: past max_connections a new connection is closed at once and logged.
class UnixListener {
 public:
  struct Options {
    std::string path;
    // Group that may use the socket (directory 0750 root:group, socket 0660); nullopt keeps root's.
    std::optional<gid_t> group;
    int max_connections = 256;
  };

  // Creates the socket's directory (0750) if needed, refuses a socket a live daemon answers on
  // (FAILED_PRECONDITION), replaces a stale one, binds and listens.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Bind(const Options& options);
  // Takes over `fd`, a socket someone else bound and listens on (systemd socket activation hands
  // it over as SD_LISTEN_FDS_START). It must be a listening AF_UNIX stream socket, else
  // INVALID_ARGUMENT (and `fd` is left alone). The listener then owns `fd`, but not the socket
  // file: its owner set its mode and group and removes it, so Stop() does not unlink it.
  // `options.path` is only used in logs (the bound path is read from the socket when it has one);
  // `options.group` is ignored.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Adopt(int fd, Options options);
  ~UnixListener();

  // Starts the accept thread, which gives every connection to `server` (already started).
  void Serve(grpc::Server* server);
  // Stops accepting and removes the socket file (unless adopted). Existing connections are gRPC's
  // to close.
  void Stop();

  // Credentials of the peer gRPC calls `peer` ("fd:N"); nullopt when unknown.
  std::optional<PeerCredentials> Lookup(absl::string_view peer);

  const std::string& path() const { return options_.path; }

 private:
  UnixListener(Options options, int listen_fd, int stop_fd, bool owns_path);
  void AcceptLoop(grpc::Server* server);
  int LiveConnections() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct Peer {
    PeerCredentials creds;
    ino_t inode;  // Tells a live entry from a reused fd number.
  };

  const Options options_;
  const int listen_fd_;
  const int stop_fd_;  // eventfd that wakes the accept loop to stop.
  const bool owns_path_;  // Bound here (remove the file on Stop), not adopted.
  std::thread thread_;
  absl::Mutex mu_;
  std::map<int, Peer> peers_ ABSL_GUARDED_BY(mu_);  // fd -> who connected on it.
};

}  // namespace berth::api

#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace berth {

// berthd's settings. Defaults work out of the box; the config file overrides them and command-line
// flags override the file.
struct DaemonConfig {
  std::string socket_path = "/run/berth/berth.sock";
  // Members of this group may use the socket; if the group does not exist only root may.
  std::string socket_group = "berth";
  std::string state_dir = "/var/lib/berth";
  // Empty means <state_dir>/containers.
  std::string lxc_path;
  std::string log_level = "info";
  // Empty means: next to berthd if there, else the installed libexec path.
  std::string helper_path;
  // The event log (berth monitor --since) keeps at most this many events...
  int64_t events_keep = 10000;
  // ...none older than this many days. Pruned at start and then every few hundred events.
  int64_t events_max_age_days = 7;
  // Remote control: "HOST:PORT" to listen on with mutual TLS (e.g. "[::]:8443"); empty: off.
  std::string listen_tcp;
  // berthd's TLS key and certificate; empty means STATE_DIR/server.key and STATE_DIR/server.crt,
  // created on first start (ECDSA P-256, self-signed, 0600).
  std::string tls_key;
  std::string tls_cert;
};

inline constexpr char kDefaultConfigPath[] = "/etc/berth/berthd.conf";

// Reads `key = value` lines ('#' starts a comment, values may be double-quoted) into `config`.
// Keys: socket, socket_group, state_dir, lxc_path, log_level, helper, listen_tcp, tls_key,
// tls_cert, events_keep, events_max_age_days (whole numbers, at least 1). An unknown key, a line that
// is not `key = value`, or a bad value is INVALID_ARGUMENT naming the file and line; an unreadable
// file is NOT_FOUND/PERMISSION_DENIED naming the path.
absl::Status LoadConfigFile(const std::string& path, DaemonConfig* config);

// Checks values that came from anywhere (file or flags): absolute paths, a known log level,
// positive event retention.
absl::Status ValidateConfig(const DaemonConfig& config);

}  // namespace berth

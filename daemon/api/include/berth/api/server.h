#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "berth/api/events_service.h"
#include "berth/api/console_service.h"
#include "berth/api/profiles_service.h"
#include "berth/api/exec_service.h"
#include "berth/api/files_service.h"
#include "berth/api/images_service.h"
#include "berth/api/remote_access.h"
#include "berth/api/services.h"
#include "berth/api/snapshots_service.h"
#include "berth/api/trust_service.h"
#include "berth/api/unix_listener.h"
#include "grpcpp/server.h"

namespace berth::api {

// berthd's gRPC server: the three berth services, grpc.health.v1 and server reflection, with
// every limit set explicitly, served on a Unix socket the UnixListener accepts on.
//
// Health is NOT_SERVING from Start until SetServing(true) (after start-up reconciliation) and again
// from Drain on.
class Server {
 public:
  struct Options {
    UnixListener::Options listener;
    // A listening socket to adopt (systemd socket activation) instead of binding listener.path.
    int inherited_listen_fd = -1;
    DaemonFacts facts;
    int max_message_bytes = 16 * 1024 * 1024;
    int max_concurrent_streams = 128;
    // The trust store: serves berth.v1.Trust when set. Not owned; outlives the server.
    storage::SqliteTrustStore* trust = nullptr;
    // Remote control over TCP with mutual TLS, when remote.address is set (needs `trust`).
    RemoteListenerOptions remote;
  };

  // Builds and starts the server and the listener. The manager and executor outlive it.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Options& options,
                                                       core::ContainerManager* manager,
                                                       core::Executor* executor,
                                                       core::ImageManager* images = nullptr);
  ~Server();

  void SetServing(bool serving);
  // Stops accepting connections and marks health NOT_SERVING; calls in flight go on.
  void Drain();
  // Waits for calls in flight until `deadline`, then cancels the rest. Call after Drain and after the
  // executor has finished its operations.
  void Shutdown(absl::Time deadline);

  // The TCP port remote clients connect to (the one bound for ":0"); 0 when the listener is off.
  int remote_port() const { return remote_port_; }

 private:
  Server() = default;

  std::unique_ptr<UnixListener> listener_;
  std::unique_ptr<ContainersService> containers_;
  std::unique_ptr<LifecycleService> lifecycle_;
  std::unique_ptr<SystemService> system_;
  std::unique_ptr<ExecService> exec_;
  std::unique_ptr<FilesService> files_;
  std::unique_ptr<EventsService> events_;
  std::unique_ptr<ConsoleService> console_;
  std::unique_ptr<SnapshotsService> snapshots_;
  std::unique_ptr<ImagesService> images_;
  std::unique_ptr<ProfilesService> profiles_;
  std::unique_ptr<TrustService> trust_;
  int remote_port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace berth::api

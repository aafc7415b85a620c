#include "berth/api/server.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "berth/tls/certificates.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace berth::api {

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Options& options,
                                                      core::ContainerManager* manager,
                                                      core::Executor* executor,
                                                      core::ImageManager* images) {
  auto listener = options.inherited_listen_fd >= 0
                      ? UnixListener::Adopt(options.inherited_listen_fd, options.listener)
                      : UnixListener::Bind(options.listener);
  if (!listener.ok()) return listener.status();

  std::unique_ptr<Server> server(new Server());
  server->listener_ = *std::move(listener);
  ServiceDeps deps{manager, executor, server->listener_.get(), images};
  server->containers_ = std::make_unique<ContainersService>(deps);
  server->lifecycle_ = std::make_unique<LifecycleService>(deps);
  server->system_ = std::make_unique<SystemService>(deps, options.facts);
  server->exec_ = std::make_unique<ExecService>(deps);
  server->files_ = std::make_unique<FilesService>(deps);
  server->events_ = std::make_unique<EventsService>(deps);
  server->console_ = std::make_unique<ConsoleService>(deps);
  server->snapshots_ = std::make_unique<SnapshotsService>(deps);
  server->images_ = std::make_unique<ImagesService>(deps);
  server->profiles_ = std::make_unique<ProfilesService>(deps);
  const bool remote = !options.remote.address.empty();
  if (remote && options.trust == nullptr) {
    return absl::InvalidArgumentError("a TCP listener needs the trust store");
  }
  std::string server_fingerprint;
  if (remote) {
    auto fingerprint = tls::Fingerprint(options.remote.identity.cert_pem);
    if (!fingerprint.ok()) return fingerprint.status();
    server_fingerprint = *fingerprint;
  }
  if (options.trust != nullptr) {
    server->trust_ = std::make_unique<TrustService>(deps, options.trust, server_fingerprint);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // No listening port: connections come from the UnixListener only.
  builder.RegisterService(server->containers_.get());
  builder.RegisterService(server->lifecycle_.get());
  builder.RegisterService(server->system_.get());
  builder.RegisterService(server->exec_.get());
  builder.RegisterService(server->files_.get());
  builder.RegisterService(server->events_.get());
  builder.RegisterService(server->console_.get());
  builder.RegisterService(server->snapshots_.get());
  builder.RegisterService(server->images_.get());
  builder.RegisterService(server->profiles_.get());
  if (server->trust_) builder.RegisterService(server->trust_.get());
  if (remote) {
    // Remote clients: TLS with a client certificate, each call decided by the processor. The
    // limits below matter for TCP only: Unix-socket connections skip the handshake and the quota.
    builder.AddListeningPort(
        options.remote.address,
        MakeRemoteCredentials(options.remote,
                              std::make_shared<TrustAuthProcessor>(options.trust)),
        &server->remote_port_);
    builder.AddChannelArgument(
        GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.remote.handshake_timeout)));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_IDLE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(options.remote.max_idle)));
    grpc::ResourceQuota quota("berthd-remote");
    quota.Resize(static_cast<size_t>(options.remote.memory_quota_bytes));
    builder.SetResourceQuota(quota);
  }
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  // Keepalive: clients may ping at most every 10 s without calls; we ping idle clients every 2 h.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 2 * 60 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return absl::InternalError(
        remote ? absl::StrCat("gRPC server failed to start; is listen_tcp \"",
                              options.remote.address, "\" a valid address (e.g. \"[::]:8443\")?")
               : "gRPC server failed to start");
  }
  if (remote && server->remote_port_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on \"", options.remote.address,
                     "\" (listen_tcp): the address is in use or not this host's"));
  }
  server->SetServing(false);
  server->listener_->Serve(server->server_.get());
  return server;
}

Server::~Server() {
  if (listener_) listener_->Stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

void Server::SetServing(bool serving) {
  server_->GetHealthCheckService()->SetServingStatus(serving);
}

void Server::Drain() {
  SetServing(false);
  listener_->Stop();
  events_->Drain();
}

void Server::Shutdown(absl::Time deadline) {
  server_->Shutdown(absl::ToChronoTime(deadline));
}

}  // namespace berth::api

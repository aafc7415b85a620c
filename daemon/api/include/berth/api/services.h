#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "berth/api/unix_listener.h"
#include "berth/core/container_manager.h"
#include "berth/core/executor.h"
#include "berth/core/image_manager.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/lifecycle.grpc.pb.h"
#include "berth/v1/system.grpc.pb.h"

namespace berth::api {

// What every service needs. Pointers are not owned and outlive the services.
struct ServiceDeps {
  core::ContainerManager* manager = nullptr;
  core::Executor* executor = nullptr;
  UnixListener* listener = nullptr;  // May be null (tests on a plain port): peers are then unknown.
  // May be null (tests without images): image calls and creating from an image are UNIMPLEMENTED.
  core::ImageManager* images = nullptr;
};

// The services only convert and forward: each handler checks what the proto alone can tell,
// posts the operation to the executor (handlers never block a gRPC thread), and finishes the call
// from there. The operation runs to its end even if the client goes away.

class ContainersService final : public berth::v1::Containers::CallbackService {
 public:
  explicit ContainersService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateContainer(grpc::CallbackServerContext* ctx,
                                            const berth::v1::CreateContainerRequest* request,
                                            berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* GetContainer(grpc::CallbackServerContext* ctx,
                                         const berth::v1::GetContainerRequest* request,
                                         berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* ListContainers(grpc::CallbackServerContext* ctx,
                                           const berth::v1::ListContainersRequest* request,
                                           berth::v1::ListContainersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateContainer(grpc::CallbackServerContext* ctx,
                                            const berth::v1::UpdateContainerRequest* request,
                                            berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* UpdateContainerConfig(
      grpc::CallbackServerContext* ctx, const berth::v1::UpdateContainerConfigRequest* request,
      berth::v1::UpdateContainerConfigResponse* response) override;
  grpc::ServerUnaryReactor* RenameContainer(grpc::CallbackServerContext* ctx,
                                            const berth::v1::RenameContainerRequest* request,
                                            berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* DeleteContainer(grpc::CallbackServerContext* ctx,
                                            const berth::v1::DeleteContainerRequest* request,
                                            berth::v1::DeleteContainerResponse* response) override;

 private:
  ServiceDeps deps_;
};

class LifecycleService final : public berth::v1::Lifecycle::CallbackService {
 public:
  explicit LifecycleService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* StartContainer(grpc::CallbackServerContext* ctx,
                                           const berth::v1::StartContainerRequest* request,
                                           berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* StopContainer(grpc::CallbackServerContext* ctx,
                                          const berth::v1::StopContainerRequest* request,
                                          berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* RestartContainer(grpc::CallbackServerContext* ctx,
                                             const berth::v1::RestartContainerRequest* request,
                                             berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* FreezeContainer(grpc::CallbackServerContext* ctx,
                                            const berth::v1::FreezeContainerRequest* request,
                                            berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* UnfreezeContainer(grpc::CallbackServerContext* ctx,
                                              const berth::v1::UnfreezeContainerRequest* request,
                                              berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* WaitContainer(grpc::CallbackServerContext* ctx,
                                          const berth::v1::WaitContainerRequest* request,
                                          berth::v1::Container* response) override;

 private:
  ServiceDeps deps_;
};

// Facts about the daemon that main() knows.
struct DaemonFacts {
  std::string liblxc_version;
  std::string state_dir;
  std::string lxc_path;
  absl::Time started_at;
};

class SystemService final : public berth::v1::System::CallbackService {
 public:
  SystemService(ServiceDeps deps, DaemonFacts facts) : deps_(deps), facts_(std::move(facts)) {}

  grpc::ServerUnaryReactor* GetVersion(grpc::CallbackServerContext* ctx,
                                       const berth::v1::GetVersionRequest* request,
                                       berth::v1::Version* response) override;
  grpc::ServerUnaryReactor* GetHostInfo(grpc::CallbackServerContext* ctx,
                                        const berth::v1::GetHostInfoRequest* request,
                                        berth::v1::HostInfo* response) override;
  grpc::ServerUnaryReactor* ListConfigKeys(grpc::CallbackServerContext* ctx,
                                           const berth::v1::ListConfigKeysRequest* request,
                                           berth::v1::ListConfigKeysResponse* response) override;

 private:
  ServiceDeps deps_;
  DaemonFacts facts_;
};

// Logs one audit line for a mutating call: method, container and the caller's uid and pid.
void Audit(const ServiceDeps& deps, grpc::CallbackServerContext* ctx, absl::string_view method,
           absl::string_view container, absl::string_view detail = {});

}  // namespace berth::api

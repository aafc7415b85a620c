#pragma once

#include "berth/api/services.h"
#include "berth/v1/snapshots.grpc.pb.h"

namespace berth::api {

// berth.v1.Snapshots (proto/berth/v1/snapshots.proto): converts and forwards to the
// ContainerManager on the executor, like the other unary services.
class SnapshotsService final : public berth::v1::Snapshots::CallbackService {
 public:
  explicit SnapshotsService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateSnapshot(grpc::CallbackServerContext* ctx,
                                           const berth::v1::CreateSnapshotRequest* request,
                                           berth::v1::Snapshot* response) override;
  grpc::ServerUnaryReactor* ListSnapshots(grpc::CallbackServerContext* ctx,
                                          const berth::v1::ListSnapshotsRequest* request,
                                          berth::v1::ListSnapshotsResponse* response) override;
  grpc::ServerUnaryReactor* RestoreSnapshot(grpc::CallbackServerContext* ctx,
                                            const berth::v1::RestoreSnapshotRequest* request,
                                            berth::v1::Container* response) override;
  grpc::ServerUnaryReactor* DeleteSnapshot(grpc::CallbackServerContext* ctx,
                                           const berth::v1::DeleteSnapshotRequest* request,
                                           berth::v1::DeleteSnapshotResponse* response) override;
  grpc::ServerUnaryReactor* CopyContainer(grpc::CallbackServerContext* ctx,
                                          const berth::v1::CopyContainerRequest* request,
                                          berth::v1::Container* response) override;

 private:
  ServiceDeps deps_;
};

}  // namespace berth::api

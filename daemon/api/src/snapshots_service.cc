#include "berth/api/snapshots_service.h"

#include <string>

#include "berth/api/converters.h"
#include "google/protobuf/util/time_util.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

void ToProto(const storage::SnapshotRecord& record, berth::v1::Snapshot* out) {
  out->set_container(record.container);
  out->set_name(record.name);
  *out->mutable_created_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(record.created_at));
  out->mutable_config()->insert(record.config.begin(), record.config.end());
  out->mutable_labels()->insert(record.labels.begin(), record.labels.end());
}

}  // namespace

grpc::ServerUnaryReactor* SnapshotsService::CreateSnapshot(
    grpc::CallbackServerContext* ctx, const berth::v1::CreateSnapshotRequest* request,
    berth::v1::Snapshot* response) {
  Audit(deps_, ctx, "CreateSnapshot", request->container(), request->name());
  return FinishOnExecutor(
      ctx, deps_.executor,
      [m = deps_.manager, container = request->container(), name = request->name(), response] {
        auto snap = m->CreateSnapshot(container, name);
        if (snap.ok()) ToProto(*snap, response);
        return snap.status();
      });
}

grpc::ServerUnaryReactor* SnapshotsService::ListSnapshots(
    grpc::CallbackServerContext* ctx, const berth::v1::ListSnapshotsRequest* request,
    berth::v1::ListSnapshotsResponse* response) {
  return FinishOnExecutor(ctx, deps_.executor,
                          [m = deps_.manager, container = request->container(), response] {
                            auto snaps = m->ListSnapshots(container);
                            if (!snaps.ok()) return snaps.status();
                            for (const auto& snap : *snaps) {
                              ToProto(snap, response->add_snapshots());
                            }
                            return absl::OkStatus();
                          });
}

grpc::ServerUnaryReactor* SnapshotsService::RestoreSnapshot(
    grpc::CallbackServerContext* ctx, const berth::v1::RestoreSnapshotRequest* request,
    berth::v1::Container* response) {
  Audit(deps_, ctx, "RestoreSnapshot", request->container(),
        request->restart() ? request->name() + " (restart)" : request->name());
  return FinishOnExecutor(ctx, deps_.executor,
                          [m = deps_.manager, container = request->container(),
                           name = request->name(), restart = request->restart(), response] {
                            auto view = m->RestoreSnapshot(container, name, restart);
                            if (view.ok()) ToProto(*view, response);
                            return view.status();
                          });
}

grpc::ServerUnaryReactor* SnapshotsService::DeleteSnapshot(
    grpc::CallbackServerContext* ctx, const berth::v1::DeleteSnapshotRequest* request,
    berth::v1::DeleteSnapshotResponse* /*response*/) {
  Audit(deps_, ctx, "DeleteSnapshot", request->container(), request->name());
  return FinishOnExecutor(ctx, deps_.executor,
                          [m = deps_.manager, container = request->container(),
                           name = request->name()] { return m->DeleteSnapshot(container, name); });
}

grpc::ServerUnaryReactor* SnapshotsService::CopyContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::CopyContainerRequest* request,
    berth::v1::Container* response) {
  Audit(deps_, ctx, "CopyContainer", request->name(), request->new_name());
  return FinishOnExecutor(
      ctx, deps_.executor,
      [m = deps_.manager, name = request->name(), new_name = request->new_name(), response] {
        auto view = m->Copy(name, new_name);
        if (view.ok()) ToProto(*view, response);
        return view.status();
      });
}

}  // namespace berth::api

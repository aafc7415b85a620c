#pragma once

#include <optional>

#include "absl/status/status.h"
#include "berth/core/container_manager.h"
#include "berth/v1/containers.pb.h"
#include "grpcpp/support/status.h"

namespace berth::api {

// The one place an absl::Status becomes a grpc::Status (the codes are the same numbers).
grpc::Status ToGrpc(const absl::Status& status);

berth::v1::State ToProto(runtime::LiveState state);
// STATE_UNSPECIFIED and unknown values give nullopt.
std::optional<runtime::LiveState> FromProto(berth::v1::State state);

void ToProto(const core::ContainerView& view, berth::v1::Container* out);

}  // namespace berth::api

#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/v1/containers.pb.h"
#include "berth/v1/events.pb.h"
#include "berth/v1/profiles.pb.h"
#include "grpcpp/support/status.h"

namespace berth::api {

// The one place an absl::Status becomes a grpc::Status (the codes are the same numbers).
grpc::Status ToGrpc(const absl::Status& status);

berth::v1::State ToProto(runtime::LiveState state);
// STATE_UNSPECIFIED and unknown values give nullopt.
std::optional<runtime::LiveState> FromProto(berth::v1::State state);

void ToProto(const core::ContainerView& view, berth::v1::Container* out);

void ToProto(const storage::Device& device, berth::v1::Device* out);
std::map<std::string, storage::Device> FromProto(
    const google::protobuf::Map<std::string, berth::v1::Device>& devices);
// The profile's own fields (not used_by).
void ToProto(const storage::ProfileRecord& profile, berth::v1::Profile* out);

berth::v1::EventType ToProto(core::EventType type);
// EVENT_TYPE_UNSPECIFIED and unknown values give nullopt.
std::optional<core::EventType> FromProto(berth::v1::EventType type);
void ToProto(const core::Event& event, berth::v1::Event* out);

}  // namespace berth::api

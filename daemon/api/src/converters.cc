#include "berth/api/converters.h"

#include <string>

#include "google/protobuf/util/time_util.h"

namespace berth::api {

using runtime::LiveState;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

berth::v1::State ToProto(LiveState state) {
  switch (state) {
    case LiveState::kStopped:
      return berth::v1::STATE_STOPPED;
    case LiveState::kStarting:
      return berth::v1::STATE_STARTING;
    case LiveState::kRunning:
      return berth::v1::STATE_RUNNING;
    case LiveState::kStopping:
      return berth::v1::STATE_STOPPING;
    case LiveState::kAborting:
      return berth::v1::STATE_ABORTING;
    case LiveState::kFreezing:
      return berth::v1::STATE_FREEZING;
    case LiveState::kFrozen:
      return berth::v1::STATE_FROZEN;
    case LiveState::kThawed:
      return berth::v1::STATE_THAWED;
  }
  return berth::v1::STATE_UNSPECIFIED;
}

std::optional<LiveState> FromProto(berth::v1::State state) {
  switch (state) {
    case berth::v1::STATE_STOPPED:
      return LiveState::kStopped;
    case berth::v1::STATE_STARTING:
      return LiveState::kStarting;
    case berth::v1::STATE_RUNNING:
      return LiveState::kRunning;
    case berth::v1::STATE_STOPPING:
      return LiveState::kStopping;
    case berth::v1::STATE_ABORTING:
      return LiveState::kAborting;
    case berth::v1::STATE_FREEZING:
      return LiveState::kFreezing;
    case berth::v1::STATE_FROZEN:
      return LiveState::kFrozen;
    case berth::v1::STATE_THAWED:
      return LiveState::kThawed;
    default:
      return std::nullopt;
  }
}

namespace {
google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}
}  // namespace

void ToProto(const core::ContainerView& view, berth::v1::Container* out) {
  const auto& d = view.definition;
  out->set_name(d.name);
  if (d.source_kind == "template") {
    auto* t = out->mutable_source()->mutable_template_();
    t->set_name(d.source_name);
    for (const auto& arg : d.source_args) t->add_args(arg);
  }
  out->mutable_config()->insert(d.config.begin(), d.config.end());
  out->mutable_labels()->insert(d.labels.begin(), d.labels.end());
  out->set_revision(d.revision);
  *out->mutable_created_at() = ToTimestamp(d.created_at);
  *out->mutable_updated_at() = ToTimestamp(d.updated_at);
  if (view.live) {
    auto* s = out->mutable_status();
    s->set_state(ToProto(view.live->state));
    s->set_init_pid(view.live->init_pid);
    for (const auto& a : view.live->ipv4) s->add_ipv4_addresses(a);
    for (const auto& a : view.live->ipv6) s->add_ipv6_addresses(a);
    s->set_memory_usage_bytes(view.live->memory_bytes);
    s->set_cpu_usage_nanoseconds(view.live->cpu_ns);
    s->set_memory_peak_bytes(view.live->memory_peak_bytes);
    s->set_memory_limit_bytes(view.live->memory_limit_bytes);
    s->set_processes(view.live->processes);
  }
}

}  // namespace berth::api

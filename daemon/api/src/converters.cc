#include "berth/api/converters.h"

#include "berth/core/image_manager.h"

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

void ToProto(const storage::Device& device, berth::v1::Device* out) {
  out->set_type(device.type);
  out->mutable_options()->insert(device.options.begin(), device.options.end());
}

std::map<std::string, storage::Device> FromProto(
    const google::protobuf::Map<std::string, berth::v1::Device>& devices) {
  std::map<std::string, storage::Device> out;
  for (const auto& [name, device] : devices) {
    storage::Device& d = out[name];
    d.type = device.type();
    d.options.insert(device.options().begin(), device.options().end());
  }
  return out;
}

void ToProto(const storage::ProfileRecord& profile, berth::v1::Profile* out) {
  out->set_name(profile.name);
  out->set_description(profile.description);
  out->mutable_config()->insert(profile.config.begin(), profile.config.end());
  for (const auto& [name, device] : profile.devices) {
    ToProto(device, &(*out->mutable_devices())[name]);
  }
  out->set_revision(profile.revision);
  *out->mutable_created_at() = ToTimestamp(profile.created_at);
  *out->mutable_updated_at() = ToTimestamp(profile.updated_at);
}

void ToProto(const core::ContainerView& view, berth::v1::Container* out) {
  const auto& d = view.definition;
  out->set_name(d.name);
  if (d.source_kind == "template") {
    auto* t = out->mutable_source()->mutable_template_();
    t->set_name(d.source_name);
    for (const auto& arg : d.source_args) t->add_args(arg);
  } else if (d.source_kind == core::kImageSourceKind) {
    out->mutable_source()->mutable_image()->set_image(d.source_name);
  }
  out->mutable_config()->insert(d.config.begin(), d.config.end());
  out->mutable_labels()->insert(d.labels.begin(), d.labels.end());
  for (const std::string& p : d.profiles) out->add_profiles(p);
  for (const auto& [name, device] : d.devices) ToProto(device, &(*out->mutable_devices())[name]);
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

namespace {

// core::EventType <-> berth::v1::EventType, one row per type.
struct EventTypePair {
  core::EventType core;
  berth::v1::EventType proto;
};
constexpr EventTypePair kEventTypes[] = {
    {core::EventType::kCreated, berth::v1::EVENT_TYPE_CREATED},
    {core::EventType::kStarted, berth::v1::EVENT_TYPE_STARTED},
    {core::EventType::kStopped, berth::v1::EVENT_TYPE_STOPPED},
    {core::EventType::kExited, berth::v1::EVENT_TYPE_EXITED},
    {core::EventType::kFrozen, berth::v1::EVENT_TYPE_FROZEN},
    {core::EventType::kUnfrozen, berth::v1::EVENT_TYPE_UNFROZEN},
    {core::EventType::kRenamed, berth::v1::EVENT_TYPE_RENAMED},
    {core::EventType::kDeleted, berth::v1::EVENT_TYPE_DELETED},
    {core::EventType::kConfigChanged, berth::v1::EVENT_TYPE_CONFIG_CHANGED},
    {core::EventType::kRestarting, berth::v1::EVENT_TYPE_RESTARTING},
    {core::EventType::kRestartGivenUp, berth::v1::EVENT_TYPE_RESTART_GIVEN_UP},
    {core::EventType::kOperation, berth::v1::EVENT_TYPE_OPERATION},
    {core::EventType::kDaemonStarted, berth::v1::EVENT_TYPE_DAEMON_STARTED},
    {core::EventType::kDaemonReconciled, berth::v1::EVENT_TYPE_DAEMON_RECONCILED},
};

}  // namespace

berth::v1::EventType ToProto(core::EventType type) {
  for (const EventTypePair& pair : kEventTypes) {
    if (pair.core == type) return pair.proto;
  }
  return berth::v1::EVENT_TYPE_UNSPECIFIED;
}

std::optional<core::EventType> FromProto(berth::v1::EventType type) {
  for (const EventTypePair& pair : kEventTypes) {
    if (pair.proto == type) return pair.core;
  }
  return std::nullopt;
}

void ToProto(const core::Event& event, berth::v1::Event* out) {
  out->Clear();
  out->set_id(event.id);
  *out->mutable_time() = ToTimestamp(event.time);
  out->set_type(ToProto(event.type));
  out->set_container(event.container);
  out->set_state(event.state.has_value() ? ToProto(*event.state) : berth::v1::STATE_UNSPECIFIED);
  out->set_detail(event.detail);
  if (event.exit_code.has_value()) out->set_exit_code(*event.exit_code);
}

}  // namespace berth::api

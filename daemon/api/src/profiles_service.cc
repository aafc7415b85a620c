#include "berth/api/profiles_service.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "berth/api/converters.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

std::map<std::string, std::string> ToMap(const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& v) {
  return {v.begin(), v.end()};
}

// Fills `out` with the profile and the containers that use it.
absl::Status ProfileToProto(core::ContainerManager* m, const storage::ProfileRecord& p,
                            berth::v1::Profile* out) {
  ToProto(p, out);
  auto users = m->ProfileUsers(p.name);
  if (!users.ok()) return users.status();
  for (const std::string& user : *users) out->add_used_by(user);
  return absl::OkStatus();
}

void ToResponse(const core::ConfigUpdate& update, berth::v1::UpdateContainerConfigResponse* out) {
  ToProto(update.view, out->mutable_container());
  for (const std::string& notice : update.notices) out->add_notices(notice);
}

}  // namespace

grpc::ServerUnaryReactor* ProfilesService::CreateProfile(
    grpc::CallbackServerContext* ctx, const berth::v1::CreateProfileRequest* request,
    berth::v1::Profile* response) {
  Audit(deps_, ctx, "CreateProfile", request->name());
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto profile = m->CreateProfile(request->name(), request->description(),
                                    ToMap(request->config()), FromProto(request->devices()));
    if (!profile.ok()) return profile.status();
    return ProfileToProto(m, *profile, response);
  });
}

grpc::ServerUnaryReactor* ProfilesService::GetProfile(grpc::CallbackServerContext* ctx,
                                                      const berth::v1::GetProfileRequest* request,
                                                      berth::v1::Profile* response) {
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto profile = m->GetProfile(request->name());
    if (!profile.ok()) return profile.status();
    return ProfileToProto(m, *profile, response);
  });
}

grpc::ServerUnaryReactor* ProfilesService::ListProfiles(grpc::CallbackServerContext* ctx,
                                                        const berth::v1::ListProfilesRequest*,
                                                        berth::v1::ListProfilesResponse* response) {
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, response] {
    auto profiles = m->ListProfiles();
    if (!profiles.ok()) return profiles.status();
    for (const storage::ProfileRecord& p : *profiles) {
      if (auto s = ProfileToProto(m, p, response->add_profiles()); !s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProfilesService::UpdateProfile(
    grpc::CallbackServerContext* ctx, const berth::v1::UpdateProfileRequest* request,
    berth::v1::UpdateProfileResponse* response) {
  Audit(deps_, ctx, "UpdateProfile", request->name());
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    core::ProfileChange change;
    if (request->has_description()) change.description = request->description();
    change.set = ToMap(request->set());
    change.unset = ToVector(request->unset());
    change.add_devices = FromProto(request->add_devices());
    change.remove_devices = ToVector(request->remove_devices());
    auto update = m->UpdateProfile(request->name(), request->expected_revision(), change);
    if (!update.ok()) return update.status();
    for (const std::string& notice : update->notices) response->add_notices(notice);
    return ProfileToProto(m, update->profile, response->mutable_profile());
  });
}

grpc::ServerUnaryReactor* ProfilesService::DeleteProfile(
    grpc::CallbackServerContext* ctx, const berth::v1::DeleteProfileRequest* request,
    berth::v1::DeleteProfileResponse*) {
  Audit(deps_, ctx, "DeleteProfile", request->name());
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request] {
    return m->DeleteProfile(request->name(), request->expected_revision());
  });
}

grpc::ServerUnaryReactor* ProfilesService::SetContainerProfiles(
    grpc::CallbackServerContext* ctx, const berth::v1::SetContainerProfilesRequest* request,
    berth::v1::UpdateContainerConfigResponse* response) {
  Audit(deps_, ctx, "SetProfiles", request->name(), absl::StrJoin(request->profiles(), ","));
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto update = m->SetProfiles(request->name(), request->expected_revision(),
                                 ToVector(request->profiles()));
    if (!update.ok()) return update.status();
    ToResponse(*update, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProfilesService::UpdateContainerDevices(
    grpc::CallbackServerContext* ctx, const berth::v1::UpdateContainerDevicesRequest* request,
    berth::v1::UpdateContainerConfigResponse* response) {
  if (request->add().empty() && request->remove().empty()) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "nothing to change: give devices to add or to remove"));
  }
  Audit(deps_, ctx, "UpdateDevices", request->name());
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto update = m->UpdateDevices(request->name(), request->expected_revision(),
                                   FromProto(request->add()), ToVector(request->remove()));
    if (!update.ok()) return update.status();
    ToResponse(*update, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ProfilesService::GetExpandedConfig(
    grpc::CallbackServerContext* ctx, const berth::v1::GetExpandedConfigRequest* request,
    berth::v1::ExpandedConfig* response) {
  return FinishOnExecutor(ctx, deps_.executor, [m = deps_.manager, request, response] {
    auto view = m->Get(request->name(), /*with_live=*/false);
    if (!view.ok()) return view.status();
    auto expanded = m->GetExpanded(request->name());
    if (!expanded.ok()) return expanded.status();
    for (const auto& [key, value] : expanded->config) {
      auto& v = (*response->mutable_config())[key];
      v.set_value(value);
      v.set_profile(expanded->config_source[key]);
    }
    for (const auto& [name, device] : expanded->devices) {
      auto& d = (*response->mutable_devices())[name];
      ToProto(device, d.mutable_device());
      d.set_profile(expanded->device_source[name]);
    }
    for (const std::string& p : view->definition.profiles) response->add_profiles(p);
    response->set_revision(view->definition.revision);
    return absl::OkStatus();
  });
}

}  // namespace berth::api

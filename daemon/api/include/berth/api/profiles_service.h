#pragma once

#include "berth/api/services.h"
#include "berth/v1/profiles.grpc.pb.h"

namespace berth::api {

// berth.v1.Profiles: profiles, a container's profiles and devices, its expanded config. Converts
// and forwards to the ContainerManager on the executor, like ContainersService.
class ProfilesService final : public berth::v1::Profiles::CallbackService {
 public:
  explicit ProfilesService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerUnaryReactor* CreateProfile(grpc::CallbackServerContext* ctx,
                                          const berth::v1::CreateProfileRequest* request,
                                          berth::v1::Profile* response) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* ctx,
                                       const berth::v1::GetProfileRequest* request,
                                       berth::v1::Profile* response) override;
  grpc::ServerUnaryReactor* ListProfiles(grpc::CallbackServerContext* ctx,
                                         const berth::v1::ListProfilesRequest* request,
                                         berth::v1::ListProfilesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateProfile(grpc::CallbackServerContext* ctx,
                                          const berth::v1::UpdateProfileRequest* request,
                                          berth::v1::UpdateProfileResponse* response) override;
  grpc::ServerUnaryReactor* DeleteProfile(grpc::CallbackServerContext* ctx,
                                          const berth::v1::DeleteProfileRequest* request,
                                          berth::v1::DeleteProfileResponse* response) override;
  grpc::ServerUnaryReactor* SetContainerProfiles(
      grpc::CallbackServerContext* ctx, const berth::v1::SetContainerProfilesRequest* request,
      berth::v1::UpdateContainerConfigResponse* response) override;
  grpc::ServerUnaryReactor* UpdateContainerDevices(
      grpc::CallbackServerContext* ctx, const berth::v1::UpdateContainerDevicesRequest* request,
      berth::v1::UpdateContainerConfigResponse* response) override;
  grpc::ServerUnaryReactor* GetExpandedConfig(grpc::CallbackServerContext* ctx,
                                              const berth::v1::GetExpandedConfigRequest* request,
                                              berth::v1::ExpandedConfig* response) override;

 private:
  ServiceDeps deps_;
};

}  // namespace berth::api

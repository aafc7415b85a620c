#include "berth/api/authorization.h"

namespace berth::api {

const std::map<std::string, Rule, std::less<>>& AuthorizationTable() {
  // Readonly means "reads, and the answer carries no secret": file pulls and the console log are
  // admin because what a container holds or printed may be secret; exec and console attach run
  // code in the container.
  static const auto* const kTable = new std::map<std::string, Rule, std::less<>>{
      {"/berth.v1.Containers/CreateContainer", Rule::kAdmin},
      {"/berth.v1.Containers/GetContainer", Rule::kReadonly},
      {"/berth.v1.Containers/ListContainers", Rule::kReadonly},
      {"/berth.v1.Containers/UpdateContainer", Rule::kAdmin},
      {"/berth.v1.Containers/UpdateContainerConfig", Rule::kAdmin},
      {"/berth.v1.Containers/RenameContainer", Rule::kAdmin},
      {"/berth.v1.Containers/DeleteContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/StartContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/StopContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/RestartContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/FreezeContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/UnfreezeContainer", Rule::kAdmin},
      {"/berth.v1.Lifecycle/WaitContainer", Rule::kReadonly},
      {"/berth.v1.System/GetVersion", Rule::kReadonly},
      {"/berth.v1.System/GetHostInfo", Rule::kReadonly},
      {"/berth.v1.System/ListConfigKeys", Rule::kReadonly},
      {"/berth.v1.Events/Subscribe", Rule::kReadonly},
      {"/berth.v1.Exec/Exec", Rule::kAdmin},
      {"/berth.v1.Console/Attach", Rule::kAdmin},
      {"/berth.v1.Console/GetLog", Rule::kAdmin},
      {"/berth.v1.Files/PushFile", Rule::kAdmin},
      {"/berth.v1.Files/PullFile", Rule::kAdmin},
      {"/berth.v1.Files/PushTree", Rule::kAdmin},
      {"/berth.v1.Files/PullTree", Rule::kAdmin},
      {"/berth.v1.Images/ImportImage", Rule::kAdmin},
      {"/berth.v1.Images/BuildImage", Rule::kAdmin},
      {"/berth.v1.Images/ExportImage", Rule::kAdmin},
      {"/berth.v1.Images/ListImages", Rule::kReadonly},
      {"/berth.v1.Images/GetImage", Rule::kReadonly},
      {"/berth.v1.Images/DeleteImage", Rule::kAdmin},
      {"/berth.v1.Images/AddImageAlias", Rule::kAdmin},
      {"/berth.v1.Images/RemoveImageAlias", Rule::kAdmin},
      {"/berth.v1.Snapshots/CreateSnapshot", Rule::kAdmin},
      {"/berth.v1.Snapshots/ListSnapshots", Rule::kReadonly},
      {"/berth.v1.Snapshots/RestoreSnapshot", Rule::kAdmin},
      {"/berth.v1.Snapshots/DeleteSnapshot", Rule::kAdmin},
      {"/berth.v1.Snapshots/CopyContainer", Rule::kAdmin},
      {"/berth.v1.Profiles/CreateProfile", Rule::kAdmin},
      {"/berth.v1.Profiles/GetProfile", Rule::kReadonly},
      {"/berth.v1.Profiles/ListProfiles", Rule::kReadonly},
      {"/berth.v1.Profiles/UpdateProfile", Rule::kAdmin},
      {"/berth.v1.Profiles/DeleteProfile", Rule::kAdmin},
      {"/berth.v1.Profiles/SetContainerProfiles", Rule::kAdmin},
      {"/berth.v1.Profiles/UpdateContainerDevices", Rule::kAdmin},
      {"/berth.v1.Profiles/GetExpandedConfig", Rule::kReadonly},
      {"/berth.v1.Trust/Enroll", Rule::kEnrolment},
      {"/berth.v1.Trust/CreateJoinToken", Rule::kAdmin},
      {"/berth.v1.Trust/AddTrustedClient", Rule::kAdmin},
      {"/berth.v1.Trust/ListTrustedClients", Rule::kReadonly},
      {"/berth.v1.Trust/RemoveTrustedClient", Rule::kAdmin},
      {"/grpc.health.v1.Health/Check", Rule::kReadonly},
      {"/grpc.health.v1.Health/Watch", Rule::kReadonly},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Rule::kReadonly},
  };
  return *kTable;
}

std::optional<Rule> RuleFor(absl::string_view method) {
  const auto& table = AuthorizationTable();
  auto it = table.find(method);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

bool Allows(Role role, Rule rule) {
  switch (rule) {
    case Rule::kEnrolment:
    case Rule::kReadonly:
      return true;
    case Rule::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

std::optional<Role> ParseRole(absl::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "readonly") return Role::kReadonly;
  return std::nullopt;
}

const char* RoleName(Role role) { return role == Role::kAdmin ? "admin" : "readonly"; }

}  // namespace berth::api

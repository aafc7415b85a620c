// The authorization table covers every RPC berthd serves: each method of each service in every
// proto/berth/v1/*.proto has a rule, and every rule names a method that exists.

#include "berth/api/authorization.h"

#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace berth::api {
namespace {

// Every service berthd registers besides ours (gRPC's health and reflection).
const std::set<std::string> kGrpcMethods = {
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
};

// The full method names of every service in every proto/berth/v1/*.proto, read from the
// generated descriptor pool (berth_api links all generated code). A proto file that is not in
// the pool fails the test: its services could not be checked.
std::set<std::string> BerthMethods() {
  std::set<std::string> methods;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const auto& entry :
       std::filesystem::directory_iterator(BERTH_PROTO_DIR "/berth/v1")) {
    if (entry.path().extension() != ".proto") continue;
    std::string name = absl::StrCat("berth/v1/", entry.path().filename().string());
    const google::protobuf::FileDescriptor* file = pool->FindFileByName(name);
    EXPECT_NE(file, nullptr) << name << " is not in the generated descriptor pool";
    if (file == nullptr) continue;
    for (int s = 0; s < file->service_count(); ++s) {
      const auto* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        methods.insert(absl::StrCat("/", service->full_name(), "/", service->method(m)->name()));
      }
    }
  }
  return methods;
}

TEST(AuthorizationTest, EveryMethodOfEveryServiceHasARule) {
  std::set<std::string> methods = BerthMethods();
  ASSERT_GE(methods.size(), 29u);  // Sanity: every file was read (29 methods when written).
  methods.insert(kGrpcMethods.begin(), kGrpcMethods.end());
  for (const std::string& method : methods) {
    EXPECT_TRUE(RuleFor(method).has_value())
        << method << " has no rule in the authorization table (daemon/api/src/authorization.cc); "
        << "add one: kReadonly if it only reads and its answer carries no secret, else kAdmin";
  }
}

TEST(AuthorizationTest, EveryRuleNamesAMethodThatExists) {
  std::set<std::string> methods = BerthMethods();
  methods.insert(kGrpcMethods.begin(), kGrpcMethods.end());
  for (const auto& [method, rule] : AuthorizationTable()) {
    EXPECT_TRUE(methods.count(method)) << method << " is in the table but no service has it";
  }
}

TEST(AuthorizationTest, OnlyEnrollIsOpenToUnknownCertificates) {
  for (const auto& [method, rule] : AuthorizationTable()) {
    EXPECT_EQ(rule == Rule::kEnrolment, method == "/berth.v1.Trust/Enroll") << method;
  }
}

TEST(AuthorizationTest, ReadonlyMayOnlyRead) {
  EXPECT_TRUE(Allows(Role::kReadonly, Rule::kReadonly));
  EXPECT_FALSE(Allows(Role::kReadonly, Rule::kAdmin));
  EXPECT_TRUE(Allows(Role::kAdmin, Rule::kAdmin));
  EXPECT_TRUE(Allows(Role::kAdmin, Rule::kReadonly));
  // What changes something, runs something or reads a container's contents is admin.
  for (const char* method :
       {"/berth.v1.Containers/CreateContainer", "/berth.v1.Containers/DeleteContainer",
        "/berth.v1.Lifecycle/StopContainer", "/berth.v1.Exec/Exec", "/berth.v1.Files/PullFile",
        "/berth.v1.Console/Attach", "/berth.v1.Trust/CreateJoinToken",
        "/berth.v1.Trust/RemoveTrustedClient"}) {
    EXPECT_EQ(RuleFor(method), Rule::kAdmin) << method;
  }
  EXPECT_FALSE(RuleFor("/berth.v1.Containers/NoSuchMethod").has_value());
}

TEST(AuthorizationTest, RolesParse) {
  EXPECT_EQ(ParseRole("admin"), Role::kAdmin);
  EXPECT_EQ(ParseRole("readonly"), Role::kReadonly);
  EXPECT_FALSE(ParseRole("root").has_value());
  EXPECT_STREQ(RoleName(Role::kReadonly), "readonly");
}

}  // namespace
}  // namespace berth::api

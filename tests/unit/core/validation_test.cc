#include "berth/core/validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::core {
namespace {

using ::testing::HasSubstr;

TEST(ValidateContainerName, AcceptsHostnames) {
  for (const char* name : {"web", "a", "web-1", "1web", "A-b-C", "x1"}) {
    EXPECT_TRUE(ValidateContainerName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateContainerName(std::string(63, 'a')).ok());
}

TEST(ValidateContainerName, RefusesEverythingElseNamingTheRule) {
  for (std::string name : {std::string(""), std::string("../x"), std::string("a/b"),
                           std::string("-web"), std::string("web-"), std::string("123"),
                           std::string("a b"), std::string("a\nb"), std::string("a\tb"),
                           std::string("a.b"), std::string("a_b"), std::string(64, 'a'),
                           std::string("caf\xc3\xa9"), std::string("a\0b", 3)}) {
    absl::Status s = ValidateContainerName(name);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("1-63 letters, digits and '-'")) << name;
  }
}

TEST(ValidateContainerName, EscapesControlCharactersInTheMessage) {
  absl::Status s = ValidateContainerName("a\nlxc.hook.pre-start = /bin/evil");
  EXPECT_THAT(s.message(), HasSubstr("\\x0a"));
  EXPECT_THAT(s.message(), HasSubstr("control character"));
  EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos);
}

TEST(ValidateTemplateName, AllowsSimpleNamesOnly) {
  EXPECT_TRUE(ValidateTemplateName("busybox").ok());
  EXPECT_TRUE(ValidateTemplateName("ubuntu-cloud").ok());
  for (const char* bad : {"", "../busybox", "/usr/bin/x", "Busybox", "busy box", "a\n"}) {
    EXPECT_EQ(ValidateTemplateName(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ValidateLabels, ChecksKeysAndValues) {
  EXPECT_TRUE(ValidateLabels({{"tier", "web"}, {"example.com/owner", "alice"}}).ok());
  EXPECT_EQ(ValidateLabels({{"", "x"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateLabels({{"-x", "x"}}).code(), absl::StatusCode::kInvalidArgument);
  absl::Status s = ValidateLabels({{"tier", "web\nlxc.hook.start=/x"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("control character"));
}

TEST(ValidateConfig, RefusesUnknownKeysByName) {
  EXPECT_TRUE(ValidateConfig({}).ok());
  EXPECT_TRUE(ValidateConfig({{"limits.memory", "1GiB"}}).ok());
  absl::Status s = ValidateConfig({{"limits.memroy", "1GiB"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("\"limits.memroy\""));
  EXPECT_THAT(s.message(), HasSubstr("berth config keys"));
}

TEST(ValidateTemplateArgs, RefusesControlCharacters) {
  EXPECT_TRUE(ValidateTemplateArgs({"--busybox-path", "/bin/busybox"}).ok());
  EXPECT_EQ(ValidateTemplateArgs({"ok", "bad\x1b[0m"}).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::core

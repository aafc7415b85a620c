#include "lxc/validation.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

TEST(ValidateContainerNameTest, AcceptsHostnames) {
  for (const char* name : {"a", "web-1", "A9", "x1-y2-z3", "0a", "a0", "1-2"}) {
    EXPECT_TRUE(ValidateContainerName(name).ok()) << name;
  }
  EXPECT_TRUE(ValidateContainerName(std::string(63, 'a')).ok());
}

TEST(ValidateContainerNameTest, RefusesEverythingElse) {
  const std::vector<std::string> bad = {
      "",
      std::string(64, 'a'),
      "-a",
      "a-",
      "123",
      "a_b",
      "a.b",
      "a/b",
      "..",
      "a b",
      "a\nb",
      "a\tb",
      "é",
      std::string("a\0b", 3),
      "lxc.hook.pre-start=/x",
      "a\x7f",
  };
  for (const std::string& name : bad) {
    absl::Status status = ValidateContainerName(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
  }
}

TEST(ValidateTemplateNameTest, AllowsLowercaseDigitsDashUnderscore) {
  EXPECT_TRUE(ValidateTemplateName("busybox").ok());
  EXPECT_TRUE(ValidateTemplateName("ubuntu-cloud").ok());
  EXPECT_TRUE(ValidateTemplateName("fedora_legacy2").ok());
  for (const char* name : {"", "Busybox", "../busybox", "/usr/bin/x", "a b", "a.b", "a\n"}) {
    EXPECT_EQ(ValidateTemplateName(name).code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ValidateTemplateName(std::string(65, 'a')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTemplateArgsTest, AcceptsOrdinaryOptions) {
  EXPECT_TRUE(ValidateTemplateArgs({}).ok());
  EXPECT_TRUE(ValidateTemplateArgs({"--release", "bookworm", "-a", "amd64", "--arch=amd64"}).ok());
  EXPECT_TRUE(ValidateTemplateArgs({"--busybox-path", "/bin/busybox", "-r", "x"}).ok());
  EXPECT_TRUE(ValidateTemplateArgs({"value with spaces", "-"}).ok());
}

TEST(ValidateTemplateArgsTest, RefusesControlCharacters) {
  EXPECT_EQ(ValidateTemplateArgs({"ok", "bad\nlxc.hook.start = /x"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTemplateArgs({"tab\there"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTemplateArgs({std::string("nul\0x", 5)}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateTemplateArgsTest, RefusesOverridingPathNameOrRootfs) {
  for (const char* arg :
       {"--path=/", "--path", "--rootfs=/", "--rootfs", "--name=x", "--ro=/", "--pa", "--n",
        "--mapped-uid=0", "--mapped", "-p", "-n", "-pfoo", "-hp/", "-an"}) {
    EXPECT_EQ(ValidateTemplateArgs({arg}).code(), absl::StatusCode::kInvalidArgument) << arg;
  }
}

TEST(ValidateTemplateArgsTest, BoundsCountAndLength) {
  EXPECT_TRUE(ValidateTemplateArgs(std::vector<std::string>(64, "x")).ok());
  EXPECT_EQ(ValidateTemplateArgs(std::vector<std::string>(65, "x")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateTemplateArgs({std::string(4097, 'x')}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HasControlCharsTest, FindsEveryControlByte) {
  EXPECT_FALSE(HasControlChars("plain text, with = and \"quotes\""));
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_TRUE(HasControlChars(std::string("a") + static_cast<char>(c))) << c;
  }
  EXPECT_TRUE(HasControlChars("\x7f"));
  EXPECT_FALSE(HasControlChars("\xc3\xa9"));  // UTF-8 is not a control character
}

}  // namespace
}  // namespace berth::runtime::lxc

#include "berth/core/validation.h"

#include "berth/core/config_schema.h"
#include "berth/core/supervision_config.h"

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

TEST(ValidateConfig, AcceptsTheSupervisionKeysWithValidValues) {
  EXPECT_TRUE(ValidateConfig({{"restart.policy", "on-failure"},
                              {"restart.max", "5"},
                              {"boot.autostart", "true"},
                              {"boot.autostart.priority", "-3"},
                              {"boot.autostart.delay", "0"},
                              {"boot.stop.timeout", "3600"}})
                  .ok());
  absl::Status s = ValidateConfig({{"restart.policy", "sometimes"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("restart.policy"));
  EXPECT_THAT(s.message(), HasSubstr("never, on-failure or always"));
}

TEST(SupervisionConfig, SchemaNamesTheKeyAndTheRule) {
  EXPECT_TRUE(ValidateConfigEntry("restart.policy", "never").ok());
  EXPECT_TRUE(ValidateConfigEntry("restart.policy", "always").ok());
  EXPECT_FALSE(ValidateConfigEntry("restart.policy", "Always").ok());
  EXPECT_TRUE(ValidateConfigEntry("restart.max", "0").ok());
  EXPECT_TRUE(ValidateConfigEntry("restart.max", "1000").ok());
  for (const char* bad : {"-1", "1001", "", "5 ", "+5", "0x10", "1e3", "five"}) {
    absl::Status s = ValidateConfigEntry("restart.max", bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("restart.max: use a whole number from 0 to 1000")) << bad;
  }
  EXPECT_TRUE(ValidateConfigEntry("boot.autostart", "false").ok());
  EXPECT_THAT(ValidateConfigEntry("boot.autostart", "yes").message(), HasSubstr("boot.autostart: use true or false"));
  EXPECT_TRUE(ValidateConfigEntry("boot.autostart.priority", "-1000").ok());
  EXPECT_FALSE(ValidateConfigEntry("boot.autostart.priority", "1001").ok());
  EXPECT_TRUE(ValidateConfigEntry("boot.autostart.delay", "3600").ok());
  EXPECT_THAT(ValidateConfigEntry("boot.autostart.delay", "3601").message(),
              HasSubstr("boot.autostart.delay: use a whole number from 0 to 3600 seconds"));
  EXPECT_FALSE(ValidateConfigEntry("boot.stop.timeout", "0").ok());
  EXPECT_TRUE(ValidateConfigEntry("boot.stop.timeout", "1").ok());
  EXPECT_FALSE(ValidateConfigEntry("boot.stop.timeout", "99999999999999999999").ok());
}

TEST(SupervisionConfig, SettingsFromConfigWithDefaults) {
  SupervisionSettings d = SupervisionFromConfig({});
  EXPECT_EQ(d.restart_policy, RestartPolicy::kNever);
  EXPECT_EQ(d.restart_max, 0);
  EXPECT_FALSE(d.autostart);
  EXPECT_EQ(d.autostart_priority, 0);
  EXPECT_EQ(d.autostart_delay, absl::ZeroDuration());
  EXPECT_EQ(d.stop_timeout, absl::Seconds(30));

  SupervisionSettings s = SupervisionFromConfig({{"restart.policy", "always"},
                                                 {"restart.max", "7"},
                                                 {"boot.autostart", "true"},
                                                 {"boot.autostart.priority", "-2"},
                                                 {"boot.autostart.delay", "15"},
                                                 {"boot.stop.timeout", "9"}});
  EXPECT_EQ(s.restart_policy, RestartPolicy::kAlways);
  EXPECT_EQ(s.restart_max, 7);
  EXPECT_TRUE(s.autostart);
  EXPECT_EQ(s.autostart_priority, -2);
  EXPECT_EQ(s.autostart_delay, absl::Seconds(15));
  EXPECT_EQ(s.stop_timeout, absl::Seconds(9));
  // A stored value this version does not accept falls back to the default.
  EXPECT_EQ(SupervisionFromConfig({{"boot.stop.timeout", "0"}}).stop_timeout, absl::Seconds(30));
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

// berth config's YAML (show/edit) and the set/unset a edit turns into. The command's calls are
// covered by tests/system/test_config.py against a real berthd.

#include "berth/client/config_command.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::client {
namespace {

using Config = std::map<std::string, std::string>;

Config RoundTrip(const Config& config) {
  std::string error;
  auto back = ConfigFromYaml(ConfigToYaml(config), &error);
  EXPECT_TRUE(back.has_value()) << error << "\n" << ConfigToYaml(config);
  return back.value_or(Config{});
}

TEST(ConfigYaml, RoundTripsEveryValueExactly) {
  const Config config = {
      {"limits.memory", "256MiB"},
      {"limits.memory.swap", "false"},  // stays the string "false"
      {"limits.processes", "200"},
      {"user.note", "keep: me # not a comment"},
      {"user.empty", ""},
      {"user.quote", "say \"hi\" 'there'"},
      {"raw.lxc", "lxc.cgroup.cpu.shares = 512\nlxc.prlimit.nofile = 1024"},
      {"user.trailing", "line one\nline two\n"},
      {"user.blank-lines", "a\n\nb"},
      {"user.indented", " leading space\nsecond"},
      {"user.many-newlines", "a\n\n\n"},
  };
  EXPECT_EQ(RoundTrip(config), config);
  EXPECT_EQ(RoundTrip({}), Config{});
  EXPECT_EQ(ConfigToYaml({}), "{}\n");
}

TEST(ConfigYaml, MultiLineValuesAreLiteralBlocks) {
  EXPECT_EQ(ConfigToYaml({{"raw.lxc", "a = 1\nb = 2"}, {"limits.cpu", "2"}}),
            "limits.cpu: \"2\"\nraw.lxc: |-\n  a = 1\n  b = 2\n");
}

TEST(ConfigYaml, UserInputForms) {
  std::string error;
  auto config = ConfigFromYaml(
      "# a comment\nlimits.processes: 64\nlimits.memory.swap: false\nuser.x: plain text\n", &error);
  ASSERT_TRUE(config.has_value()) << error;
  EXPECT_EQ(*config, (Config{{"limits.processes", "64"},
                             {"limits.memory.swap", "false"},
                             {"user.x", "plain text"}}));
  EXPECT_EQ(ConfigFromYaml("", &error), Config{});
  EXPECT_EQ(ConfigFromYaml("# only comments\n", &error), Config{});
}

TEST(ConfigYaml, RefusesWhatIsNotAFlatMap) {
  for (const char* text : {"- a\n- b\n", "just text\n", "limits.memory: [1, 2]\n",
                           "limits.memory: {a: 1}\n", "limits.memory:\n", "a: [unclosed\n"}) {
    std::string error;
    EXPECT_FALSE(ConfigFromYaml(text, &error).has_value()) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
  std::string error;
  EXPECT_FALSE(ConfigFromYaml("limits.memory: [1]\n", &error).has_value());
  EXPECT_THAT(error, ::testing::HasSubstr("limits.memory"));
}

TEST(DiffConfig, SetsChangedAndNewUnsetsRemoved) {
  const ConfigChange change =
      DiffConfig({{"a", "1"}, {"b", "2"}, {"c", "3"}}, {{"a", "1"}, {"b", "20"}, {"d", "4"}});
  EXPECT_EQ(change.set, (Config{{"b", "20"}, {"d", "4"}}));
  EXPECT_EQ(change.unset, (std::vector<std::string>{"c"}));
  const ConfigChange none = DiffConfig({{"a", "1"}}, {{"a", "1"}});
  EXPECT_TRUE(none.set.empty());
  EXPECT_TRUE(none.unset.empty());
}

}  // namespace
}  // namespace berth::client

#include "lxc/lxc_config.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What lxc-busybox leaves (plus lines a hostile or careless template could add).
constexpr char kTemplateConfig[] =
    R"(# Template used to create this container: /usr/share/lxc/templates/lxc-busybox
# Parameters passed to the template:

lxc.net.0.type = empty
lxc.rootfs.path = dir:/tmp/p/t1/rootfs
lxc.signal.halt = SIGUSR1
lxc.signal.reboot = SIGTERM
lxc.uts.name = "t1"
lxc.autodev = 1
lxc.tty.max = 5
lxc.cap.drop = sys_module mac_admin mac_override sys_time
lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0
lxc.mount.entry = mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0
lxc.mount.entry = /lib lib none ro,bind 0 0
lxc.hook.pre-start = /tmp/evil
lxc.net.1.type = veth
lxc.net.1.link = lxcbr0
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /etc/evil.conf
lxc.include = /usr/share/lxc/config/../../../../etc/evil.conf
lxc.apparmor.profile = unconfined
lxc.log.file = /tmp/elsewhere.log
lxc.arch = x86_64
)";

std::vector<std::string> Keys(const std::vector<ConfigEntry>& entries) {
  std::vector<std::string> keys;
  for (const ConfigEntry& e : entries) keys.push_back(e.key);
  return keys;
}

TEST(ParseLxcConfigTest, ParsesKeysValuesAndStripsQuotes) {
  absl::StatusOr<std::vector<ConfigEntry>> entries =
      ParseLxcConfig("# c\n\n  lxc.uts.name = \"t1\"  \nlxc.a=b=c\nlxc.empty =\nlxc.q = 'x'\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_THAT(*entries, ElementsAre(ConfigEntry{"lxc.uts.name", "t1"}, ConfigEntry{"lxc.a", "b=c"},
                                    ConfigEntry{"lxc.empty", ""}, ConfigEntry{"lxc.q", "x"}));
}

TEST(ParseLxcConfigTest, RefusesLinesWithoutEquals) {
  EXPECT_EQ(ParseLxcConfig("lxc.a = b\njunk\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseLxcConfig(" = b\n").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FilterTemplateEntriesTest, KeepsOnlyTheAllowList) {
  absl::StatusOr<std::vector<ConfigEntry>> entries = ParseLxcConfig(kTemplateConfig);
  ASSERT_TRUE(entries.ok());
  std::vector<ConfigEntry> kept = FilterTemplateEntries(*entries);
  EXPECT_THAT(kept, ElementsAre(ConfigEntry{"lxc.signal.halt", "SIGUSR1"},
                                ConfigEntry{"lxc.signal.reboot", "SIGTERM"},
                                ConfigEntry{"lxc.mount.entry", "/lib lib none ro,bind 0 0"},
                                ConfigEntry{"lxc.include", "/usr/share/lxc/config/common.conf"},
                                ConfigEntry{"lxc.arch", "x86_64"}));
}

TEST(RenderLxcConfigTest, WritesBerthKeysThenTemplateKeys) {
  absl::StatusOr<std::vector<ConfigEntry>> entries = ParseLxcConfig(kTemplateConfig);
  ASSERT_TRUE(entries.ok());
  BerthConfig config{"/var/lib/berth/containers", "web-1", "busybox",
                     FilterTemplateEntries(*entries)};
  absl::StatusOr<std::string> text = RenderLxcConfig(config);
  ASSERT_TRUE(text.ok()) << text.status();

  absl::StatusOr<std::vector<ConfigEntry>> reparsed = ParseLxcConfig(*text);
  ASSERT_TRUE(reparsed.ok()) << reparsed.status();
  std::vector<ConfigEntry> expected = BerthEntries("/var/lib/berth/containers", "web-1");
  expected.insert(expected.end(), config.template_entries.begin(), config.template_entries.end());
  EXPECT_EQ(*reparsed, expected);

  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.uts.name", "web-1"}));
  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.rootfs.path",
                                              "dir:/var/lib/berth/containers/web-1/rootfs"}));
  EXPECT_THAT(*reparsed,
              Contains(ConfigEntry{"lxc.log.file", "/var/lib/berth/containers/web-1/lxc.log"}));
  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.console.logfile",
                                              "/var/lib/berth/containers/web-1/console.log"}));
  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.console.size", "1048576"}));
  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.console.rotate", "1"}));
  EXPECT_THAT(*reparsed, Contains(ConfigEntry{"lxc.net.0.type", "empty"}));
  EXPECT_THAT(Keys(*reparsed), Not(Contains("lxc.hook.pre-start")));
  EXPECT_THAT(Keys(*reparsed), Not(Contains("lxc.net.1.type")));
  EXPECT_THAT(Keys(*reparsed), Not(Contains("lxc.apparmor.profile")));
  EXPECT_EQ(TemplateNameFromConfig(*text), "busybox");
  EXPECT_THAT(*text, HasSubstr("# Written by berth."));
}

TEST(RenderLxcConfigTest, RefusesAValueWithANewline) {
  BerthConfig config{"/var/lib/berth",
                     "web",
                     "busybox",
                     {{"lxc.mount.entry", "/a a none bind 0 0\nlxc.hook.start = /tmp/evil"}}};
  absl::StatusOr<std::string> text = RenderLxcConfig(config);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(text.status().message(), HasSubstr("control character"));
}

TEST(RenderLxcConfigTest, RefusesAnyControlCharacterInValuesAndPaths) {
  EXPECT_EQ(
      RenderLxcConfig({"/var/lib/berth", "web", "", {{"lxc.arch", "x86_64\r"}}}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderLxcConfig({"/var/lib/berth\n", "web", "", {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderLxcConfig({"relative/path", "web", "", {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderLxcConfig({"/var/lib/berth", "web\nlxc.hook.start=/x", "", {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RenderLxcConfigTest, RefusesKeysOutsideTheAllowList) {
  EXPECT_EQ(RenderLxcConfig({"/var/lib/berth", "web", "", {{"lxc.hook.start", "/bin/true"}}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderLxcConfig({"/var/lib/berth", "web", "", {{"lxc.include", "/etc/x.conf"}}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RenderLxcConfigTest, WithoutTemplateEntriesWritesOnlyBerthKeys) {
  absl::StatusOr<std::string> text = RenderLxcConfig({"/srv/c", "a1", "", {}});
  ASSERT_TRUE(text.ok());
  absl::StatusOr<std::vector<ConfigEntry>> reparsed = ParseLxcConfig(*text);
  ASSERT_TRUE(reparsed.ok());
  EXPECT_EQ(*reparsed, BerthEntries("/srv/c", "a1"));
  EXPECT_EQ(TemplateNameFromConfig(*text), "");
}

TEST(IsAllowedTemplateEntryTest, IncludeOnlyUnderLxcConfigDir) {
  EXPECT_TRUE(IsAllowedTemplateEntry({"lxc.include", "/usr/share/lxc/config/debian.common.conf"}));
  EXPECT_FALSE(IsAllowedTemplateEntry({"lxc.include", "/usr/share/lxc/config/../hooks/x"}));
  EXPECT_FALSE(IsAllowedTemplateEntry({"lxc.include", "/usr/share/lxc/configs/x"}));
  EXPECT_FALSE(IsAllowedTemplateEntry({"lxc.include", "/usr/share/lxc/config/.."}));
  EXPECT_FALSE(IsAllowedTemplateEntry({"lxc.hook.mount", "/bin/true"}));
  EXPECT_FALSE(IsAllowedTemplateEntry({"lxc.net.0.link", "lxcbr0"}));
  EXPECT_TRUE(IsAllowedTemplateEntry({"lxc.signal.halt", "SIGPWR"}));
}

TEST(ContainerPathsTest, AreUnderTheLxcPath) {
  EXPECT_EQ(ContainerDir("/p", "a"), "/p/a");
  EXPECT_EQ(ContainerConfigPath("/p", "a"), "/p/a/config");
  EXPECT_EQ(ContainerRootfsPath("/p", "a"), "/p/a/rootfs");
  EXPECT_EQ(ContainerLogPath("/p", "a"), "/p/a/lxc.log");
}

TEST(RenderLxcConfigTest, AContainerFromAnImageGetsAnOverlayRoot) {
  BerthConfig config{"/var/lib/berth/containers", "web", "", {{"lxc.signal.halt", "SIGUSR1"}},
                     "/var/lib/berth/images/abc/rootfs"};
  absl::StatusOr<std::string> text = RenderLxcConfig(config);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::vector<ConfigEntry>> entries = ParseLxcConfig(*text);
  ASSERT_TRUE(entries.ok());
  EXPECT_THAT(*entries, Contains(ConfigEntry{"lxc.rootfs.path",
                                             "overlay:/var/lib/berth/images/abc/rootfs:"
                                             "/var/lib/berth/containers/web/delta"}));
  EXPECT_THAT(*entries, Contains(ConfigEntry{"lxc.signal.halt", "SIGUSR1"}));
  EXPECT_EQ(ImageRootfsFromEntries(*entries), "/var/lib/berth/images/abc/rootfs");
  EXPECT_EQ(ImageRootfsFromEntries(BerthEntries("/x", "web")), "");

  for (const char* bad : {"relative/rootfs", "/a:b", "/a\nlxc.hook.start = /evil"}) {
    config.image_rootfs = bad;
    EXPECT_EQ(RenderLxcConfig(config).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace berth::runtime::lxc

// Container settings in the runtime: cgroup item names per host layout, the settings section of
// the LXC config (rendered, replaced, never piled up), live-change order, cgroup directories of a
// running container, and raw.lxc checks.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "berth/runtime/container_settings.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lxc/cgroup_fs.h"
#include "lxc/lxc_config.h"

namespace berth::runtime::lxc {
namespace {

using ::testing::HasSubstr;

// This development host: cgroup v1 controllers plus an empty unified hierarchy, memsw on.
constexpr char kHybridSelf[] =
    "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n4:memory:/a/b\n"
    "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
constexpr char kV2Self[] = "0::/user.slice\n";

ContainerSettings Full() {
  ContainerSettings s;
  s.cpuset = "0-1";
  s.cpu_quota_us = 25000;
  s.cpu_period_us = 100000;
  s.memory_bytes = 256 << 20;
  s.memory_swap = false;
  s.processes = 200;
  s.environment = {{"FOO", "bar baz"}};
  s.raw_lxc = {{"lxc.cgroup.cpu.shares", "512"}};
  return s;
}

std::vector<std::string> Lines(const std::vector<ConfigEntry>& entries) {
  std::vector<std::string> out;
  for (const ConfigEntry& e : entries) out.push_back(e.key + " = " + e.value);
  return out;
}

TEST(CgroupLayout, ParsesV1HybridAndV2) {
  CgroupLayout hybrid = ParseCgroupLayout(kHybridSelf, /*memsw=*/true);
  EXPECT_TRUE(hybrid.IsV1("memory"));
  EXPECT_TRUE(hybrid.IsV1("pids"));
  EXPECT_FALSE(hybrid.IsV1("name=systemd"));
  EXPECT_TRUE(hybrid.memsw);
  EXPECT_EQ(hybrid.UnifiedRoot(), "/sys/fs/cgroup/unified");
  CgroupLayout v2 = ParseCgroupLayout(kV2Self, /*memsw=*/true);
  EXPECT_TRUE(v2.v1_controllers.empty());
  EXPECT_FALSE(v2.memsw);  // no v1 memory, no memsw
  EXPECT_EQ(v2.UnifiedRoot(), "/sys/fs/cgroup");
  CgroupLayout comounted = ParseCgroupLayout("3:cpu,cpuacct:/\n", false);
  EXPECT_TRUE(comounted.IsV1("cpu"));
  EXPECT_TRUE(comounted.IsV1("cpuacct"));
}

TEST(SettingsEntries, V1ItemNames) {
  auto entries = SettingsEntries(Full(), ParseCgroupLayout(kHybridSelf, true));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(Lines(*entries), (std::vector<std::string>{
                                 "lxc.cgroup.cpuset.cpus = 0-1",
                                 "lxc.cgroup.cpu.cfs_period_us = 100000",
                                 "lxc.cgroup.cpu.cfs_quota_us = 25000",
                                 "lxc.cgroup.memory.limit_in_bytes = 268435456",
                                 "lxc.cgroup.memory.memsw.limit_in_bytes = 268435456",
                                 "lxc.cgroup.pids.max = 200",
                                 "lxc.environment = FOO=bar baz",
                                 "lxc.cgroup.cpu.shares = 512",
                             }));
}

TEST(SettingsEntries, V1WithoutMemswCannotForbidSwap) {
  auto entries = SettingsEntries(Full(), ParseCgroupLayout(kHybridSelf, false));
  ASSERT_TRUE(entries.ok());
  for (const std::string& line : Lines(*entries)) {
    EXPECT_FALSE(absl::StrContains(line, "memsw")) << line;
  }
}

TEST(SettingsEntries, V2ItemNames) {
  auto entries = SettingsEntries(Full(), ParseCgroupLayout(kV2Self, false));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(Lines(*entries), (std::vector<std::string>{
                                 "lxc.cgroup2.cpuset.cpus = 0-1",
                                 "lxc.cgroup2.cpu.max = 25000 100000",
                                 "lxc.cgroup2.memory.max = 268435456",
                                 "lxc.cgroup2.memory.swap.max = 0",
                                 "lxc.cgroup2.pids.max = 200",
                                 "lxc.environment = FOO=bar baz",
                                 "lxc.cgroup.cpu.shares = 512",
                             }));
}

TEST(SettingsEntries, NothingSetIsNoLines) {
  auto entries = SettingsEntries(ContainerSettings{}, ParseCgroupLayout(kHybridSelf, true));
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
}

TEST(SettingsEntries, DiskDevicesAreBindMountEntries) {
  ContainerSettings s;
  s.mounts = {{.source = "/tmp", .path = "/data", .readonly = false},
              {.source = "/etc/hostname", .path = "/srv/name", .readonly = true}};
  auto entries = SettingsEntries(s, ParseCgroupLayout(kV2Self, false));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(Lines(*entries), (std::vector<std::string>{
                                 "lxc.mount.entry = /tmp data none bind,create=dir 0 0",
                                 "lxc.mount.entry = /etc/hostname srv/name none "
                                 "bind,create=file,ro 0 0",
                             }));
  for (const char* bad : {"relative", "/a/../b", "/a b", "/a\nlxc.hook.start = x", "/a//b",
                          "/./a"}) {
    s.mounts = {{.source = "/tmp", .path = bad, .readonly = false}};
    EXPECT_EQ(SettingsEntries(s, ParseCgroupLayout(kV2Self, false)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    s.mounts = {{.source = bad, .path = "/data", .readonly = false}};
    EXPECT_EQ(SettingsEntries(s, ParseCgroupLayout(kV2Self, false)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(SettingsEntries, RefusesWhatCouldInjectLines) {
  const CgroupLayout layout = ParseCgroupLayout(kHybridSelf, true);
  ContainerSettings s;
  s.environment = {{"A", "x\nlxc.hook.start = /bin/sh"}};
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
  s.environment = {{"A=B", "x"}};
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
  s.environment = {};
  s.raw_lxc = {{"lxc.hook.start", "/bin/sh"}};
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
  s.raw_lxc = {{"lxc.cgroup.cpu.shares", "1\rlxc.hook.start=/x"}};
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
  s.raw_lxc = {};
  s.cpuset = "0\nlxc.hook.start = /x";
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
  s.cpuset = "0 1";
  EXPECT_EQ(SettingsEntries(s, layout).status().code(), absl::StatusCode::kInvalidArgument);
}

constexpr char kConfig[] =
    "# Written by berth. berth rewrites this file; edits are lost.\n"
    "\n"
    "lxc.uts.name = web\n"
    "lxc.environment = TEMPLATE=1\n";

TEST(SettingsSection, ReplacedNeverPiledUp) {
  const std::vector<ConfigEntry> first = {{"lxc.cgroup.memory.limit_in_bytes", "1"},
                                          {"lxc.environment", "A=1"}};
  const std::vector<ConfigEntry> second = {{"lxc.cgroup.pids.max", "5"}};
  auto once = ReplaceSettingsSection(kConfig, first);
  ASSERT_TRUE(once.ok());
  EXPECT_TRUE(absl::StartsWith(*once, kConfig));
  EXPECT_THAT(*once, HasSubstr("# BEGIN berth settings"));
  EXPECT_THAT(*once, HasSubstr("lxc.cgroup.memory.limit_in_bytes = 1\nlxc.environment = A=1\n"
                               "# END berth settings\n"));
  // Same input again: same output; a different one replaces it.
  EXPECT_EQ(*ReplaceSettingsSection(*once, first), *once);
  auto twice = ReplaceSettingsSection(*ReplaceSettingsSection(*once, first), second);
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(absl::StrContains(*twice, "limit_in_bytes"));
  EXPECT_FALSE(absl::StrContains(*twice, "A=1"));
  EXPECT_THAT(*twice, HasSubstr("lxc.cgroup.pids.max = 5\n"));
  size_t begins = 0;
  for (size_t at = twice->find("# BEGIN"); at != std::string::npos;
       at = twice->find("# BEGIN", at + 1)) {
    ++begins;
  }
  EXPECT_EQ(begins, 1u);
  // No settings: the file is as berth rendered it, the template's lxc.environment kept.
  EXPECT_EQ(*ReplaceSettingsSection(*twice, {}), kConfig);
  EXPECT_EQ(StripSettingsSection(*twice), kConfig);
  // The template's keys parsed from a config with a section are only the template's.
  auto parsed = ParseLxcConfig(StripSettingsSection(*once));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(FilterTemplateEntries(*parsed),
            (std::vector<ConfigEntry>{{"lxc.environment", "TEMPLATE=1"}}));
}

TEST(SettingsSection, RefusesControlCharacters) {
  EXPECT_EQ(ReplaceSettingsSection(kConfig, {{"lxc.environment", "A=1\nlxc.hook.start=/x"}})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReplaceSettingsSection(kConfig, {{"lxc.hook start", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LiveChanges, OnlyWhatDiffersWithResets) {
  const CgroupLayout layout = ParseCgroupLayout(kHybridSelf, true);
  ContainerSettings before;
  before.memory_bytes = 256 << 20;
  before.processes = 100;
  ContainerSettings after = before;
  after.processes.reset();
  after.cpuset = "1";
  auto changes = LiveChanges(before, after, layout, 2);
  EXPECT_EQ(changes,
            (std::vector<CgroupItem>{{"cpuset", "cpuset.cpus", "1"}, {"pids", "pids.max", "max"}}));
  EXPECT_EQ(LiveChanges(after, ContainerSettings{}, layout, 2),
            (std::vector<CgroupItem>{{"cpuset", "cpuset.cpus", "0-1"},
                                     {"memory", "memory.limit_in_bytes", "-1"}}));
  EXPECT_TRUE(LiveChanges(before, before, layout, 2).empty());
  // Environment and raw lines are not live.
  after = before;
  after.environment = {{"A", "1"}};
  after.raw_lxc = {{"lxc.cgroup.cpu.shares", "5"}};
  EXPECT_TRUE(LiveChanges(before, after, layout, 2).empty());
}

TEST(LiveChanges, V1MemswIsRaisedFirstAndLoweredLast) {
  const CgroupLayout layout = ParseCgroupLayout(kHybridSelf, true);
  ContainerSettings small;
  small.memory_bytes = 100 << 20;
  small.memory_swap = false;
  ContainerSettings big = small;
  big.memory_bytes = 200 << 20;
  EXPECT_EQ(LiveChanges(small, big, layout, 2),
            (std::vector<CgroupItem>{{"memory", "memory.memsw.limit_in_bytes", "209715200"},
                                     {"memory", "memory.limit_in_bytes", "209715200"}}));
  EXPECT_EQ(LiveChanges(big, small, layout, 2),
            (std::vector<CgroupItem>{{"memory", "memory.limit_in_bytes", "104857600"},
                                     {"memory", "memory.memsw.limit_in_bytes", "104857600"}}));
  // Back to unlimited: memsw (-1) first as well.
  EXPECT_EQ(LiveChanges(small, ContainerSettings{}, layout, 2),
            (std::vector<CgroupItem>{{"memory", "memory.memsw.limit_in_bytes", "-1"},
                                     {"memory", "memory.limit_in_bytes", "-1"}}));
}

TEST(CgroupDir, FromProcPidCgroup) {
  const CgroupLayout hybrid = ParseCgroupLayout(kHybridSelf, true);
  const char* proc =
      "9:name=systemd:/lxc.payload.web\n4:memory:/lxc.payload.web\n3:cpuset:/lxc.payload.web\n"
      "8:pids:/x/lxc.payload.web/init.scope\n1:cpu,cpuacct:/lxc.payload.web\n"
      "0::/lxc.payload.web\n";
  EXPECT_EQ(*CgroupDir(proc, "memory", hybrid), "/sys/fs/cgroup/memory/lxc.payload.web");
  // Cut after the payload cgroup, where liblxc sets the limits.
  EXPECT_EQ(*CgroupDir(proc, "pids", hybrid), "/sys/fs/cgroup/pids/x/lxc.payload.web");
  const CgroupLayout comounted = ParseCgroupLayout("1:cpu,cpuacct:/\n", false);
  EXPECT_EQ(*CgroupDir(proc, "cpu", comounted), "/sys/fs/cgroup/cpu,cpuacct/lxc.payload.web");
  EXPECT_EQ(CgroupDir(proc, "blkio", hybrid).status().code(), absl::StatusCode::kNotFound);
  const CgroupLayout v2 = ParseCgroupLayout(kV2Self, false);
  EXPECT_EQ(*CgroupDir(proc, "memory", v2), "/sys/fs/cgroup/lxc.payload.web");
  EXPECT_FALSE(CgroupDir("4:memory:/../../etc\n", "memory", hybrid).ok());
}

TEST(RawLxc, ParsesAllowListedLines) {
  std::vector<std::pair<std::string, std::string>> entries;
  ASSERT_TRUE(
      ParseRawLxc("# c\n lxc.cgroup.cpu.shares = 512 \n\nlxc.sysctl.net.core.somaxconn=1024",
                  &entries)
          .ok());
  EXPECT_EQ(entries,
            (std::vector<std::pair<std::string, std::string>>{
                {"lxc.cgroup.cpu.shares", "512"}, {"lxc.sysctl.net.core.somaxconn", "1024"}}));
  EXPECT_FALSE(ParseRawLxc("lxc.hook.start = /x", nullptr).ok());
  EXPECT_FALSE(CheckRawLxcEntry("lxc.cgroup.devices.allow", "a").ok());
  EXPECT_FALSE(CheckRawLxcEntry("lxc.cgroup.", "a").ok());
  EXPECT_TRUE(CheckRawLxcEntry("lxc.prlimit.nofile", "1024").ok());
}

TEST(FakeRuntimeDriverSettings, RecordsStartAndLiveSettings) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.Create({"web", "busybox", {}}).ok());
  EXPECT_EQ(driver.ApplyLive("web", {}, Full()).code(), absl::StatusCode::kFailedPrecondition);
  ContainerSettings s = Full();
  ASSERT_TRUE(driver.Start("web", s).ok());
  EXPECT_EQ(driver.SettingsOf("web"), s);
  ContainerSettings after = s;
  after.memory_bytes = 512 << 20;
  after.environment = {};
  ASSERT_TRUE(driver.ApplyLive("web", s, after).ok());
  EXPECT_EQ(driver.SettingsOf("web")->memory_bytes, 512 << 20);
  EXPECT_EQ(driver.SettingsOf("web")->environment, s.environment);  // not live
  after.raw_lxc = {{"lxc.hook.start", "/x"}};
  EXPECT_EQ(driver.ApplyLive("web", s, after).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::runtime::lxc

#include "berth/core/config_schema.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "berth/core/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace berth::core {
namespace {

using ::testing::HasSubstr;

absl::Status Check(const std::string& key, const std::string& value) {
  return ValidateConfigEntry(key, value);
}

void ExpectGood(const std::string& key, const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    EXPECT_TRUE(Check(key, value).ok()) << key << "=" << value << ": " << Check(key, value);
  }
}

// Every bad value is refused with INVALID_ARGUMENT and a message naming the key.
void ExpectBad(const std::string& key, const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    absl::Status s = Check(key, value);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key << "=" << value;
    EXPECT_THAT(s.message(), HasSubstr(key)) << value;
  }
}

TEST(ConfigSchema, EveryKeyHasTypeHelpAndValidator) {
  std::set<std::string> names;
  for (const ConfigKeySpec& spec : ConfigKeys()) {
    EXPECT_FALSE(spec.type.empty()) << spec.name;
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_NE(spec.validate, nullptr) << spec.name;
    EXPECT_EQ(spec.validate_suffix != nullptr, spec.name.ends_with(".*")) << spec.name;
    EXPECT_TRUE(names.insert(std::string(spec.name)).second) << "twice: " << spec.name;
  }
  EXPECT_TRUE(names.contains("limits.memory"));
  EXPECT_TRUE(names.contains("environment.*"));
}

TEST(ConfigSchema, FindsExactKeysAndFamilies) {
  ASSERT_NE(FindConfigKey("limits.cpu"), nullptr);
  EXPECT_EQ(FindConfigKey("limits.cpu")->name, "limits.cpu");
  EXPECT_EQ(FindConfigKey("limits.cpu.allowance")->name, "limits.cpu.allowance");
  EXPECT_EQ(FindConfigKey("environment.FOO")->name, "environment.*");
  EXPECT_EQ(FindConfigKey("user.note")->name, "user.*");
  EXPECT_EQ(FindConfigKey("environment."), nullptr);
  EXPECT_EQ(FindConfigKey("limits"), nullptr);
  EXPECT_EQ(FindConfigKey("limits.memory.hard"), nullptr);
}

TEST(ConfigSchema, UnknownKeysAreRefusedByName) {
  absl::Status s = Check("limits.mem", "1GiB");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown config key \"limits.mem\""));
  EXPECT_THAT(s.message(), HasSubstr("berth config keys"));
  EXPECT_EQ(Check("limits.memory\nlxc.hook.start", "1GiB").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ConfigSchema, Memory) {
  ExpectGood("limits.memory", {"256MiB", "1GiB", "512MB", "4194304", "5000kB", "8192KiB", "1GB",
                               "50%", "100%", "1TiB"});
  ExpectBad("limits.memory",
            {"", "abc", "-1", "1.5GiB", "256 MiB", "256mib", "0", "1MiB", "4194303", "0%", "101%",
             "%", "MiB", "99999999999999999999", "9999999999TiB", "256MiB\n"});
  EXPECT_EQ(*ParseMemoryBytes("256MiB", 0), 256 << 20);
  EXPECT_EQ(*ParseMemoryBytes("1GB", 0), 1000 * 1000 * 1000);
  EXPECT_EQ(*ParseMemoryBytes("5000kB", 0), 5000 * 1000);
  EXPECT_EQ(*ParseMemoryBytes("8192KiB", 0), 8192 * 1024);
  EXPECT_EQ(*ParseMemoryBytes("4194304", 0), 4194304);
  EXPECT_EQ(*ParseMemoryBytes("25%", int64_t{8} << 30), int64_t{2} << 30);
  EXPECT_FALSE(ParseMemoryBytes("1%", 100 << 20).ok());  // 1 MiB: below the minimum
  EXPECT_THAT(Check("limits.memory", "lots").message(), HasSubstr("MiB"));
}

TEST(ConfigSchema, CpuCountAndListAreBoundByTheHost) {
  const int cpus = HostCpuCount();
  ExpectGood("limits.cpu", {"1", absl::StrCat(cpus), "0,0", absl::StrCat("0-", cpus - 1)});
  ExpectBad("limits.cpu",
            {"", "0", "0x1", "-1", "1-", "-", "1,,2", "a", "2-1", " 1", absl::StrCat(cpus + 1),
             absl::StrCat("0-", cpus), absl::StrCat("0,", cpus), "99999999999999999999"});
  // "N" alone is a count; as a list member it is a CPU number (cpus is one past the last).
  absl::Status s = Check("limits.cpu", absl::StrCat(cpus + 1));
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("this host has ", cpus, " CPUs")));
  EXPECT_EQ(*ParseCpuSet("2", 4), "0-1");
  EXPECT_EQ(*ParseCpuSet("1", 4), "0");
  EXPECT_EQ(*ParseCpuSet("0-1,3", 4), "0-1,3");
  EXPECT_FALSE(ParseCpuSet("5", 4).ok());
  EXPECT_FALSE(ParseCpuSet("0-1,4", 4).ok());
  EXPECT_FALSE(ParseCpuSet("0-1,3", 2).ok());
}

TEST(ConfigSchema, CpuAllowance) {
  ExpectGood("limits.cpu.allowance", {"50%", "1%", "100%", "25ms/100ms", "1ms/1s", "1s/1s",
                                      "1000us/2000us", absl::StrCat(100 * HostCpuCount(), "%")});
  ExpectBad("limits.cpu.allowance",
            {"", "0%", "50", "ms", "25ms", "25ms/", "/100ms", "25/100", "25ms/2s", "25ms/999us",
             "999us/100ms", "-5%", absl::StrCat(100 * HostCpuCount() + 1, "%"), "1.5%"});
}

TEST(ConfigSchema, SwapAndProcesses) {
  ExpectGood("limits.memory.swap", {"true", "false"});
  ExpectBad("limits.memory.swap", {"", "yes", "1", "TRUE", "true "});
  ExpectGood("limits.processes", {"1", "200", "4194304"});
  ExpectBad("limits.processes", {"", "0", "-1", "4194305", "max", "1e3", "20 0"});
}

TEST(ConfigSchema, EnvironmentAndUserKeys) {
  ExpectGood("environment.FOO", {"bar", "", "a=b c", "caf\xc3\xa9"});
  ExpectGood("environment._X1", {"1"});
  ExpectGood("user.note", {"anything at all"});
  ExpectGood("user.my-tool.v2", {"x"});
  ExpectBad("environment.FOO", {"a\nlxc.hook.start = /bin/sh", "tab\there", "\x1b[31m"});
  for (std::string key : {"environment.1X", "environment.A-B", "environment.A=B", "environment.A B",
                          "user.a b", "user.a/b"}) {
    absl::Status s = Check(key, "v");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << key;
    EXPECT_THAT(s.message(), HasSubstr(key));
  }
}

TEST(ConfigSchema, RawLxcAllowsOnlySafeKeys) {
  ExpectGood("raw.lxc", {"lxc.cgroup.cpu.shares = 512",
                         "lxc.cgroup2.memory.high = 100M\nlxc.sysctl.net.ipv4.ip_forward = 1\n",
                         "# comment\n\nlxc.prlimit.nofile = 1024\nlxc.signal.halt = SIGUSR1",
                         "lxc.environment = A=b"});
  ExpectBad("raw.lxc", {"lxc.hook.pre-start = /bin/sh -c 'touch /host'",
                        "lxc.hook.start-host=/x",
                        "lxc.mount.entry = / host none bind 0 0",
                        "lxc.include = /etc/passwd",
                        "lxc.cgroup.devices.allow = a",
                        "lxc.cgroup2.devices.allow = b *:* rwm",
                        "lxc.cgroup.dir = ../../escape",
                        "lxc.cap.drop =",
                        "lxc.apparmor.profile = unconfined",
                        "lxc.seccomp.profile =",
                        "lxc.idmap = u 0 0 1",
                        "lxc.rootfs.path = dir:/",
                        "lxc.net.0.type = phys",
                        "lxc.log.file = /etc/shadow",
                        "lxc.cgroup.cpu.shares = 512\rlxc.hook.start = /x",
                        "lxc.cgroup.cpu.shares = 512\x1b",
                        "lxc.cgroup.cpu..shares = 1",
                        "LXC.HOOK.START = /x",
                        "lxc.cgroup.cpu.shares",
                        "= 5",
                        "lxc.cgroup.cpu.shares = 1\nlxc.hook.mount = /x"});
  // A NUL would end the string where liblxc reads it: refused like any control character.
  EXPECT_EQ(
      Check("raw.lxc", std::string("lxc.cgroup.cpu.shares = 5\0\nlxc.hook.start=/x", 44)).code(),
      absl::StatusCode::kInvalidArgument);
  absl::Status s = Check("raw.lxc", "lxc.cgroup.cpu.shares = 5\nlxc.hook.mount = /x");
  EXPECT_THAT(s.message(), HasSubstr("line 2"));
  EXPECT_THAT(s.message(), HasSubstr("lxc.hook.mount"));
}

TEST(ConfigSchema, SettingsFromConfig) {
  auto settings = SettingsFromConfig({{"limits.memory", "256MiB"},
                                      {"limits.memory.swap", "false"},
                                      {"limits.cpu", "1"},
                                      {"limits.cpu.allowance", "25ms/100ms"},
                                      {"limits.processes", "200"},
                                      {"environment.FOO", "bar"},
                                      {"user.note", "ignored"},
                                      {"raw.lxc", "lxc.cgroup.cpu.shares = 512"}});
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->memory_bytes, int64_t{256} << 20);
  EXPECT_FALSE(settings->memory_swap);
  EXPECT_EQ(settings->cpuset, "0");
  EXPECT_EQ(settings->cpu_quota_us, 25000);
  EXPECT_EQ(settings->cpu_period_us, 100000);
  EXPECT_EQ(settings->processes, 200);
  EXPECT_EQ(settings->environment, (std::map<std::string, std::string>{{"FOO", "bar"}}));
  ASSERT_EQ(settings->raw_lxc.size(), 1u);
  EXPECT_EQ(settings->raw_lxc[0].first, "lxc.cgroup.cpu.shares");
  EXPECT_EQ(settings->raw_lxc[0].second, "512");

  auto percent = SettingsFromConfig({{"limits.cpu.allowance", "50%"}});
  EXPECT_EQ(percent->cpu_quota_us, 50000);
  EXPECT_EQ(SettingsFromConfig({}).value(), runtime::ContainerSettings{});
  EXPECT_EQ(SettingsFromConfig({{"limits.memory", "x"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::core

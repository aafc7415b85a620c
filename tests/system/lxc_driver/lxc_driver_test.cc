// LxcDriver system tests: real liblxc, real busybox containers, the real berth-lxc-helper. Root.

#include "berth/runtime/lxc_driver.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lxc/cgroup_fs.h"
#include "lxc/fs_util.h"
#include "lxc/lxc_config.h"

namespace berth::runtime {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kEventTimeout = absl::Seconds(15);

// Runs a command to completion with its output discarded; returns its exit status (-1 if it
// could not run or was killed).
int RunCommand(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> DirEntries(const std::string& path) {
  std::vector<std::string> out;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(name);
  }
  closedir(dir);
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const std::string& path) {
  absl::StatusOr<std::string> text = lxc::ReadFileToString(path, 1 << 20);
  return text.ok() ? *text : "";
}

void WriteExecutable(const std::string& path, const std::string& text) {
  ASSERT_TRUE(lxc::WriteFileAtomically(path, text, 0755).ok()) << path;
}

bool ProcessAlive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

std::string PidNamespace(const std::string& pid) {
  char buf[128];
  const ssize_t n = readlink(absl::StrCat("/proc/", pid, "/ns/pid").c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Records exit-handler calls; waits for them with a timeout. With a driver, the handler also
// Inspects the container (calling back into the driver, as the core will) and records its state.
class ExitRecorder {
 public:
  ExitHandler Handler(RuntimeDriver* driver = nullptr) {
    return [this, driver](const std::string& name, std::optional<int> code) {
      std::optional<LiveState> state;
      if (driver != nullptr) {
        absl::StatusOr<LiveInfo> info = driver->Inspect(name);
        if (info.ok()) state = info->state;
      }
      absl::MutexLock lock(&mu_);
      states_.push_back(state);
      names_.push_back(name);
      codes_.push_back(code);
    };
  }
  std::vector<std::optional<int>> Codes() {
    absl::MutexLock lock(&mu_);
    return codes_;
  }
  std::vector<std::optional<LiveState>> States() {
    absl::MutexLock lock(&mu_);
    return states_;
  }
  bool WaitFor(const std::string& name, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return std::find(names_.begin(), names_.end(), name) != names_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  std::vector<std::string> Names() {
    absl::MutexLock lock(&mu_);
    return names_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<std::optional<LiveState>> states_ ABSL_GUARDED_BY(mu_);
  std::vector<std::optional<int>> codes_ ABSL_GUARDED_BY(mu_);
};

class LxcDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "The LXC system tests need root";
    char dir[] = "/tmp/blx-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    root_ = dir;
    lxc_path_ = root_ + "/c";
    template_dir_ = root_ + "/t";
    ASSERT_EQ(mkdir(template_dir_.c_str(), 0755), 0);
    // Custom templates delegate to the real busybox template, then misbehave.
    driver_ = NewDriver();
    ASSERT_NE(driver_, nullptr);
  }

  void TearDown() override {
    driver_.reset();
    // Independent of the driver: whatever is left is stopped and removed with the LXC tools.
    for (const std::string& name : DirEntries(lxc_path_)) {
      RunCommand({"lxc-stop", "-P", lxc_path_, "-n", name, "-k"});
      RunCommand({"lxc-destroy", "-P", lxc_path_, "-n", name, "-f"});
    }
    EXPECT_TRUE(lxc::RemoveTree(root_).ok());
  }

  std::unique_ptr<LxcDriver> NewDriver() {
    LxcDriverOptions options;
    options.lxc_path = lxc_path_;
    options.helper_path = BERTH_LXC_HELPER_PATH;
    options.template_dir = template_dir_;
    absl::StatusOr<std::unique_ptr<LxcDriver>> driver = LxcDriver::Open(options);
    EXPECT_TRUE(driver.ok()) << driver.status();
    return driver.ok() ? std::move(*driver) : nullptr;
  }

  // Makes templates available to the driver (it only looks in template_dir_).
  void UseBusyboxTemplate() {
    ASSERT_EQ(
        symlink("/usr/share/lxc/templates/lxc-busybox", (template_dir_ + "/lxc-busybox").c_str()),
        0);
  }

  void CreateBusybox(const std::string& name) {
    if (!lxc::PathExists(template_dir_ + "/lxc-busybox")) UseBusyboxTemplate();
    absl::Status status = driver_->Create({name, "busybox", {}});
    ASSERT_TRUE(status.ok()) << status;
  }

  LiveInfo InspectOk(const std::string& name) {
    absl::StatusOr<LiveInfo> info = driver_->Inspect(name);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : LiveInfo{};
  }

  std::string ConfigPath(const std::string& name) {
    return lxc::ContainerConfigPath(lxc_path_, name);
  }

  std::string root_;
  std::string lxc_path_;
  std::string template_dir_;
  std::unique_ptr<LxcDriver> driver_;
};

TEST_F(LxcDriverTest, ReportsTheLiblxcVersion) {
  EXPECT_THAT(LxcDriver::Version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+.*"));
}

TEST_F(LxcDriverTest, CreateMakesTheLxcPathPrivate) {
  struct stat st;
  ASSERT_EQ(stat(lxc_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(LxcDriverTest, CreateRefusesAMissingHelper) {
  LxcDriverOptions options;
  options.lxc_path = lxc_path_;
  options.helper_path = root_ + "/no-such-helper";
  EXPECT_EQ(LxcDriver::Open(options).status().code(), absl::StatusCode::kFailedPrecondition);
  options.helper_path = BERTH_LXC_HELPER_PATH;
  options.lxc_path = "relative/path";
  EXPECT_EQ(LxcDriver::Open(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(LxcDriverTest, CreateWritesExactlyTheIntendedConfig) {
  CreateBusybox("c1");
  const std::string text = ReadFile(ConfigPath("c1"));
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries = lxc::ParseLxcConfig(text);
  ASSERT_TRUE(entries.ok()) << entries.status();

  // berth's own keys first, exactly.
  const std::vector<lxc::ConfigEntry> berth = lxc::BerthEntries(lxc_path_, "c1");
  ASSERT_GE(entries->size(), berth.size());
  EXPECT_EQ(std::vector<lxc::ConfigEntry>(entries->begin(), entries->begin() + berth.size()),
            berth);

  // Then only what busybox's template says that is on the allow-list.
  std::vector<lxc::ConfigEntry> rest(entries->begin() + berth.size(), entries->end());
  std::set<std::string> rest_keys;
  for (const lxc::ConfigEntry& e : rest) rest_keys.insert(e.key);
  EXPECT_EQ(rest_keys,
            (std::set<std::string>{"lxc.signal.halt", "lxc.signal.reboot", "lxc.mount.entry"}));
  EXPECT_THAT(rest, Contains(lxc::ConfigEntry{"lxc.signal.halt", "SIGUSR1"}));
  EXPECT_THAT(rest, Contains(lxc::ConfigEntry{"lxc.signal.reboot", "SIGTERM"}));
  EXPECT_THAT(rest, Contains(lxc::ConfigEntry{"lxc.mount.entry", "/lib lib none ro,bind 0 0"}));

  // Nothing from /etc/lxc/default.conf (its bridge, its AppArmor profile).
  EXPECT_THAT(text, Not(HasSubstr("lxcbr0")));
  EXPECT_THAT(text, Not(HasSubstr("apparmor")));
  EXPECT_THAT(text, Not(HasSubstr("lxc.hook")));
  EXPECT_EQ(lxc::TemplateNameFromConfig(text), "busybox");

  EXPECT_TRUE(lxc::PathExists(lxc_path_ + "/c1/rootfs/sbin/init"));
  EXPECT_EQ(InspectOk("c1").state, LiveState::kStopped);
  EXPECT_EQ(driver_->Create({"c1", "busybox", {}}).code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<std::vector<std::string>> names = driver_->ListNames();
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("c1"));
}

TEST_F(LxcDriverTest, TemplateKeysOffTheAllowListAreDropped) {
  // A template that builds a busybox rootfs, then asks for a host hook, a bridged NIC and an
  // include from /etc.
  WriteExecutable(template_dir_ + "/lxc-greedy",
                  "#!/bin/sh\n"
                  "/usr/share/lxc/templates/lxc-busybox \"$@\" || exit 1\n"
                  "for a; do case \"$a\" in --path=*) p=${a#--path=};; esac; done\n"
                  "cat >> \"$p/config\" <<'EOF'\n"
                  "lxc.hook.pre-start = /bin/false\n"
                  "lxc.net.1.type = veth\n"
                  "lxc.net.1.link = lxcbr0\n"
                  "lxc.include = /etc/passwd\n"
                  "lxc.environment = GREETING=hello\n"
                  "lxc.signal.halt = SIGPWR\n"
                  "EOF\n");
  absl::Status status = driver_->Create({"g1", "greedy", {}});
  ASSERT_TRUE(status.ok()) << status;
  const std::string text = ReadFile(ConfigPath("g1"));
  EXPECT_THAT(text, Not(HasSubstr("lxc.hook")));
  EXPECT_THAT(text, Not(HasSubstr("lxc.net.1")));
  EXPECT_THAT(text, Not(HasSubstr("/etc/passwd")));
  EXPECT_THAT(text, HasSubstr("lxc.environment = GREETING=hello\n"));
  EXPECT_THAT(text, HasSubstr("lxc.signal.halt = SIGPWR\n"));
  EXPECT_EQ(lxc::TemplateNameFromConfig(text), "greedy");
}

TEST_F(LxcDriverTest, StartFreezeStopLifecycle) {
  CreateBusybox("c1");
  ASSERT_TRUE(driver_->Start("c1").ok());
  LiveInfo info = InspectOk("c1");
  EXPECT_EQ(info.state, LiveState::kRunning);
  ASSERT_GT(info.init_pid, 0);
  EXPECT_TRUE(ProcessAlive(info.init_pid));
  EXPECT_NE(PidNamespace(std::to_string(info.init_pid)), PidNamespace("self"));
  EXPECT_GT(info.memory_bytes, 0u);
  EXPECT_GT(info.cpu_ns, 0u);
  EXPECT_THAT(info.ipv4, IsEmpty());  // loopback only
  EXPECT_THAT(info.ipv6, IsEmpty());

  absl::Status again = driver_->Start("c1");
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("RUNNING"));
  EXPECT_EQ(driver_->Destroy("c1").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver_->Rename("c1", "c2").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver_->Unfreeze("c1").code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(driver_->Freeze("c1").ok());
  EXPECT_EQ(InspectOk("c1").state, LiveState::kFrozen);
  absl::Status frozen_again = driver_->Freeze("c1");
  EXPECT_EQ(frozen_again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(frozen_again.message(), HasSubstr("FROZEN"));
  ASSERT_TRUE(driver_->Unfreeze("c1").ok());
  EXPECT_EQ(InspectOk("c1").state, LiveState::kRunning);

  // Clean stop: busybox init halts on SIGUSR1.
  absl::Status stopped = driver_->Stop("c1", absl::Seconds(20), /*force=*/false);
  ASSERT_TRUE(stopped.ok()) << stopped;
  EXPECT_EQ(InspectOk("c1").state, LiveState::kStopped);
  EXPECT_EQ(InspectOk("c1").init_pid, 0);
  EXPECT_FALSE(ProcessAlive(info.init_pid));
  absl::Status stop_again = driver_->Stop("c1", absl::Seconds(1), false);
  EXPECT_EQ(stop_again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stop_again.message(), HasSubstr("STOPPED"));
  EXPECT_EQ(driver_->Freeze("c1").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(LxcDriverTest, InspectStateReportsStateAndInitPidOnly) {
  EXPECT_EQ(driver_->InspectState("c1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver_->InspectState("bad/name").status().code(), absl::StatusCode::kInvalidArgument);
  CreateBusybox("c1");
  absl::StatusOr<LiveInfo> stopped = driver_->InspectState("c1");
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state, LiveState::kStopped);
  EXPECT_EQ(stopped->init_pid, 0);

  ASSERT_TRUE(driver_->Start("c1").ok());
  const LiveInfo full = InspectOk("c1");
  absl::StatusOr<LiveInfo> running = driver_->InspectState("c1");
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->state, LiveState::kRunning);
  EXPECT_EQ(running->init_pid, full.init_pid);
  EXPECT_GT(full.memory_bytes, 0u);
  EXPECT_EQ(running->memory_bytes, 0u);  // the usage figures are Inspect's, not read here
  EXPECT_EQ(running->cpu_ns, 0u);

  ASSERT_TRUE(driver_->Freeze("c1").ok());
  EXPECT_EQ(driver_->InspectState("c1")->state, LiveState::kFrozen);
  EXPECT_EQ(driver_->InspectState("c1")->init_pid, full.init_pid);
  ASSERT_TRUE(driver_->Stop("c1", absl::ZeroDuration(), /*force=*/true).ok());
  EXPECT_EQ(driver_->InspectState("c1")->state, LiveState::kStopped);
}

TEST_F(LxcDriverTest, InspectReportsTheAddressesInTheContainersNetns) {
  CreateBusybox("c1");
  ASSERT_TRUE(driver_->Start("c1").ok());
  const std::string pid = std::to_string(InspectOk("c1").init_pid);
  // A veth pair with one end moved into the container, holding an IPv4 and an IPv6 address.
  const std::string host_end = "bvh" + std::to_string(getpid());
  const std::string inner_end = "bvc" + std::to_string(getpid());
  ASSERT_EQ(RunCommand({"ip", "link", "add", host_end, "type", "veth", "peer", "name", inner_end}),
            0);
  EXPECT_EQ(RunCommand({"ip", "link", "set", inner_end, "netns", pid}), 0);
  const std::vector<std::string> in_ns = {"nsenter", "-t", pid, "-n", "ip"};
  auto ns = [&](std::vector<std::string> args) {
    std::vector<std::string> cmd = in_ns;
    cmd.insert(cmd.end(), args.begin(), args.end());
    return RunCommand(cmd);
  };
  EXPECT_EQ(ns({"link", "set", "lo", "up"}), 0);
  EXPECT_EQ(ns({"addr", "add", "192.0.2.77/24", "dev", inner_end}), 0);
  EXPECT_EQ(ns({"-6", "addr", "add", "fd00:b::77/64", "dev", inner_end, "nodad"}), 0);
  EXPECT_EQ(ns({"link", "set", inner_end, "up"}), 0);
  EXPECT_EQ(RunCommand({"ip", "link", "set", host_end, "up"}), 0);

  LiveInfo info = InspectOk("c1");
  EXPECT_THAT(info.ipv4, UnorderedElementsAre("192.0.2.77"));  // not 127.0.0.1
  EXPECT_THAT(info.ipv6, UnorderedElementsAre("fd00:b::77"));  // not ::1, not fe80::
  ASSERT_TRUE(driver_->Stop("c1", absl::ZeroDuration(), true).ok());
  RunCommand({"ip", "link", "del", host_end});  // normally gone with the container's netns
}

TEST_F(LxcDriverTest, ForcedStopKillsEvenAFrozenContainer) {
  CreateBusybox("c1");
  ASSERT_TRUE(driver_->Start("c1").ok());
  const pid_t pid = InspectOk("c1").init_pid;
  ASSERT_TRUE(driver_->Freeze("c1").ok());
  absl::Status status = driver_->Stop("c1", absl::Seconds(30), /*force=*/true);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(InspectOk("c1").state, LiveState::kStopped);
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST_F(LxcDriverTest, StopKillsWhenTheHaltSignalIsIgnored) {
  CreateBusybox("c1");
  // Make the halt signal one busybox init ignores, so the clean shutdown runs out of time.
  const std::string config = ReadFile(ConfigPath("c1"));
  ASSERT_THAT(config, HasSubstr("lxc.signal.halt = SIGUSR1"));
  ASSERT_TRUE(lxc::WriteFileAtomically(ConfigPath("c1"),
                                       absl::StrReplaceAll(config, {{"lxc.signal.halt = SIGUSR1",
                                                                     "lxc.signal.halt = SIGCONT"}}),
                                       0640)
                  .ok());
  ASSERT_TRUE(driver_->Start("c1").ok());
  const absl::Time start = absl::Now();
  absl::Status status = driver_->Stop("c1", absl::Seconds(1), /*force=*/false);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GE(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(InspectOk("c1").state, LiveState::kStopped);
}

TEST_F(LxcDriverTest, ExitHandlerFiresWhenStoppedFromOutside) {
  ExitRecorder exits;
  driver_->SetExitHandler(exits.Handler(driver_.get()));
  CreateBusybox("a1");
  CreateBusybox("b1");
  ASSERT_TRUE(driver_->Start("a1").ok());
  ASSERT_TRUE(driver_->Start("b1").ok());

  // A stop through the driver is not reported...
  ASSERT_TRUE(driver_->Stop("a1", absl::ZeroDuration(), /*force=*/true).ok());
  // ...a kill from outside is, and by then liblxc reports the container STOPPED.
  ASSERT_EQ(RunCommand({"lxc-stop", "-P", lxc_path_, "-n", "b1", "-k"}), 0);
  ASSERT_TRUE(exits.WaitFor("b1", kEventTimeout));
  EXPECT_EQ(exits.Names(), std::vector<std::string>{"b1"});
  // The handler's own Inspect already saw the container STOPPED.
  EXPECT_EQ(exits.States(), std::vector<std::optional<LiveState>>{LiveState::kStopped});
  // lxc-stop -k kills the init: liblxc's monitor reports it as signal 9, i.e. 128+9.
  EXPECT_EQ(exits.Codes(), std::vector<std::optional<int>>{137});
  EXPECT_EQ(InspectOk("b1").state, LiveState::kStopped);
}

TEST_F(LxcDriverTest, ContainerOutlivesTheDriverAndIsAdoptedByTheNext) {
  CreateBusybox("c1");
  ASSERT_TRUE(driver_->Start("c1").ok());
  const pid_t pid = InspectOk("c1").init_pid;
  driver_.reset();
  EXPECT_TRUE(ProcessAlive(pid));

  driver_ = NewDriver();
  ASSERT_NE(driver_, nullptr);
  ExitRecorder exits;
  driver_->SetExitHandler(exits.Handler());
  LiveInfo info = InspectOk("c1");  // adopts: watches the init from now on
  EXPECT_EQ(info.state, LiveState::kRunning);
  EXPECT_EQ(info.init_pid, pid);
  ASSERT_EQ(RunCommand({"lxc-stop", "-P", lxc_path_, "-n", "c1", "-k"}), 0);
  ASSERT_TRUE(exits.WaitFor("c1", kEventTimeout));
  EXPECT_FALSE(ProcessAlive(pid));
}

TEST_F(LxcDriverTest, RenameMovesEverything) {
  CreateBusybox("c1");
  CreateBusybox("other");
  EXPECT_EQ(driver_->Rename("c1", "other").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(driver_->Rename("nope", "c9").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver_->Rename("c1", "c1").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->Rename("c1", "bad name").code(), absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(driver_->Rename("c1", "c2").ok());
  EXPECT_FALSE(lxc::PathExists(lxc_path_ + "/c1"));
  EXPECT_EQ(driver_->Inspect("c1").status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries =
      lxc::ParseLxcConfig(ReadFile(ConfigPath("c2")));
  ASSERT_TRUE(entries.ok());
  const std::vector<lxc::ConfigEntry> berth = lxc::BerthEntries(lxc_path_, "c2");
  EXPECT_EQ(std::vector<lxc::ConfigEntry>(entries->begin(), entries->begin() + berth.size()),
            berth);
  EXPECT_THAT(*entries, Contains(lxc::ConfigEntry{"lxc.signal.halt", "SIGUSR1"}));

  ASSERT_TRUE(driver_->Start("c2").ok());
  EXPECT_EQ(InspectOk("c2").state, LiveState::kRunning);
  ASSERT_TRUE(driver_->Stop("c2", absl::ZeroDuration(), true).ok());
}

TEST_F(LxcDriverTest, DestroyLeavesNothing) {
  CreateBusybox("c1");
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_THAT(DirEntries(lxc_path_), IsEmpty());
  EXPECT_EQ(driver_->Inspect("c1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver_->Destroy("c1").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver_->Start("c1").code(), absl::StatusCode::kNotFound);
}

TEST_F(LxcDriverTest, StartFailureCarriesTheLogErrorLines) {
  CreateBusybox("c1");
  const std::string config = ReadFile(ConfigPath("c1"));
  ASSERT_TRUE(lxc::WriteFileAtomically(
                  ConfigPath("c1"),
                  absl::StrReplaceAll(config, {{"/c1/rootfs", "/c1/no-such-rootfs"}}), 0640)
                  .ok());
  absl::Status status = driver_->Start("c1");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("ERROR"));
  EXPECT_THAT(status.message(), HasSubstr("no-such-rootfs"));
  EXPECT_EQ(InspectOk("c1").state, LiveState::kStopped);
}

TEST_F(LxcDriverTest, BadNamesAndTemplatesAreRefusedWithNothingOnDisk) {
  UseBusyboxTemplate();
  for (const char* name : {"bad name", "-x", "123", "../etc", "a/b", "x\nlxc.hook.start=/x", ""}) {
    EXPECT_EQ(driver_->Create({name, "busybox", {}}).code(), absl::StatusCode::kInvalidArgument)
        << name;
    EXPECT_EQ(driver_->Start(name).code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(driver_->Inspect(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(driver_->Destroy(name).code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(driver_->Create({"c1", "nosuch", {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->Create({"c1", "../busybox", {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->Create({"c1", "busybox", {"--rootfs=/"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_->Create({"c1", "busybox", {"x\ny"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(DirEntries(lxc_path_), IsEmpty());
}

TEST_F(LxcDriverTest, FailingTemplateLeavesNothing) {
  UseBusyboxTemplate();
  absl::Status status = driver_->Create({"c1", "busybox", {"--busybox-path", "/nonexistent"}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("Failed to find busybox binary"));
  EXPECT_THAT(status.message(), HasSubstr("ERROR"));
  EXPECT_THAT(DirEntries(lxc_path_), IsEmpty());

  // A template that made part of a rootfs, then failed.
  WriteExecutable(template_dir_ + "/lxc-halfway",
                  "#!/bin/sh\n"
                  "for a; do case \"$a\" in --rootfs=*) r=${a#--rootfs=};; esac; done\n"
                  "mkdir -p \"$r/etc\" && echo partial > \"$r/etc/hostname\"\n"
                  "echo 'ERROR: out of disk, halfway' >&2\n"
                  "exit 3\n");
  status = driver_->Create({"c2", "halfway", {}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("out of disk, halfway"));
  EXPECT_THAT(DirEntries(lxc_path_), IsEmpty());
}

TEST_F(LxcDriverTest, HelperKilledMidwayIsInternalAndCleanedUp) {
  // The template kills its parent, the helper, after writing part of the rootfs.
  WriteExecutable(template_dir_ + "/lxc-killer",
                  "#!/bin/sh\n"
                  "for a; do case \"$a\" in --rootfs=*) r=${a#--rootfs=};; esac; done\n"
                  "mkdir -p \"$r/etc\"\n"
                  "kill -KILL $PPID\n"
                  "exit 0\n");
  absl::Status status = driver_->Create({"c1", "killer", {}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("SIGKILL"));
  EXPECT_THAT(DirEntries(lxc_path_), IsEmpty());
}

TEST_F(LxcDriverTest, ConcurrentStartsAndStops) {
  const std::vector<std::string> names = {"p1", "p2", "p3", "p4"};
  for (const std::string& name : names) CreateBusybox(name);
  std::vector<absl::Status> results(names.size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = driver_->Start(names[i]); });
    }
    for (std::thread& t : threads) t.join();
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << names[i] << ": " << results[i];
    EXPECT_EQ(InspectOk(names[i]).state, LiveState::kRunning);
  }
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < names.size(); ++i) {
      threads.emplace_back(
          [&, i] { results[i] = driver_->Stop(names[i], absl::ZeroDuration(), true); });
    }
    for (std::thread& t : threads) t.join();
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(results[i].ok()) << names[i] << ": " << results[i];
    EXPECT_EQ(InspectOk(names[i]).state, LiveState::kStopped);
  }
  absl::StatusOr<std::vector<std::string>> listed = driver_->ListNames();
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(*listed, UnorderedElementsAre("p1", "p2", "p3", "p4"));
}

// The container's own cgroup file, found the way the kernel placed its init.
std::string CgroupValue(pid_t pid, const char* controller, const char* file) {
  const lxc::CgroupLayout layout = lxc::DetectCgroupLayout();
  absl::StatusOr<std::string> dir =
      lxc::CgroupDir(ReadFile(absl::StrCat("/proc/", pid, "/cgroup")), controller, layout);
  if (!dir.ok()) return "";
  std::string text = ReadFile(absl::StrCat(*dir, "/", file));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

TEST_F(LxcDriverTest, SettingsReachTheCgroupAtStartAndLive) {
  CreateBusybox("c1");
  ContainerSettings settings;
  settings.memory_bytes = 100 << 20;
  settings.processes = 100;
  settings.environment = {{"GREETING", "hi"}};
  ASSERT_TRUE(driver_->Start("c1", settings).ok());
  const pid_t pid = InspectOk("c1").init_pid;
  const bool v1 = lxc::DetectCgroupLayout().IsV1("memory");
  const char* limit_file = v1 ? "memory.limit_in_bytes" : "memory.max";
  EXPECT_EQ(CgroupValue(pid, "memory", limit_file), std::to_string(100 << 20));
  EXPECT_EQ(CgroupValue(pid, "pids", "pids.max"), "100");
  LiveInfo info = InspectOk("c1");
  EXPECT_EQ(info.memory_limit_bytes, uint64_t{100} << 20);
  EXPECT_GE(info.memory_peak_bytes, info.memory_bytes);
  EXPECT_GE(info.processes, 1u);

  ContainerSettings bigger = settings;
  bigger.memory_bytes = 200 << 20;
  ASSERT_TRUE(driver_->ApplyLive("c1", settings, bigger).ok());
  EXPECT_EQ(CgroupValue(pid, "memory", limit_file), std::to_string(200 << 20));

  // The kernel refuses the second write (pids.max -5): the first is put back.
  ContainerSettings refused = bigger;
  refused.memory_bytes = 300 << 20;
  refused.processes = -5;
  absl::Status status = driver_->ApplyLive("c1", bigger, refused);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  EXPECT_THAT(status.message(), HasSubstr("pids.max"));
  EXPECT_EQ(CgroupValue(pid, "memory", limit_file), std::to_string(200 << 20));
  EXPECT_EQ(CgroupValue(pid, "pids", "pids.max"), "100");

  // A raw line off the allow-list is refused before anything is written.
  ContainerSettings hook = bigger;
  hook.raw_lxc = {{"lxc.hook.start", "/bin/true"}};
  EXPECT_EQ(driver_->ApplyLive("c1", bigger, hook).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(driver_->Stop("c1", absl::ZeroDuration(), /*force=*/true).ok());
  EXPECT_EQ(driver_->Start("c1", hook).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ReadFile(lxc_path_ + "/c1/config"), Not(HasSubstr("lxc.hook")));
  // Restarting without settings removes the section.
  ASSERT_TRUE(driver_->Start("c1").ok());
  EXPECT_THAT(ReadFile(lxc_path_ + "/c1/config"), Not(HasSubstr("berth settings")));
}

// ---- Snapshots and copies (lxc/snapshots.cc) ----

void WriteText(const std::string& path, const std::string& text) {
  ASSERT_TRUE(lxc::WriteFileAtomically(path, text, 0644).ok()) << path;
}

std::string RootfsPathOf(const std::string& config_text) {
  absl::StatusOr<std::vector<lxc::ConfigEntry>> entries = lxc::ParseLxcConfig(config_text);
  if (!entries.ok()) return "";
  for (const lxc::ConfigEntry& e : *entries) {
    if (e.key == "lxc.rootfs.path") return e.value;
  }
  return "";
}

TEST_F(LxcDriverTest, SnapshotRestoreAndCopyOfADirectoryRootfs) {
  CreateBusybox("c1");
  const std::string rootfs = lxc_path_ + "/c1/rootfs";
  WriteText(rootfs + "/root/state", "v1");
  ASSERT_EQ(link((rootfs + "/root/state").c_str(), (rootfs + "/root/state-link").c_str()), 0);
  ASSERT_TRUE(driver_->Start("c1").ok());

  // A running container is frozen for the copy and running again after it.
  absl::Status taken = driver_->CreateSnapshot("c1", "s1");
  ASSERT_TRUE(taken.ok()) << taken;
  EXPECT_EQ(InspectOk("c1").state, LiveState::kRunning);
  const std::string snap = lxc_path_ + "/c1/snapshots/s1/rootfs";
  EXPECT_EQ(ReadFile(snap + "/root/state"), "v1");
  struct stat a, b;
  ASSERT_EQ(stat((snap + "/root/state").c_str(), &a), 0);
  ASSERT_EQ(stat((snap + "/root/state-link").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hard links stay hard links";
  EXPECT_EQ(DirEntries(lxc_path_ + "/c1/snapshots"), std::vector<std::string>{"s1"});
  EXPECT_EQ(driver_->CreateSnapshot("c1", "s1").code(), absl::StatusCode::kAlreadyExists);
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "../x", "bad name"}) {
    EXPECT_EQ(driver_->CreateSnapshot("c1", bad).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(driver_->CreateSnapshot("nope", "s1").code(), absl::StatusCode::kNotFound);

  // Restore needs a stopped container.
  EXPECT_EQ(driver_->RestoreSnapshot("c1", "s1").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(driver_->Stop("c1", absl::ZeroDuration(), true).ok());
  WriteText(rootfs + "/root/state", "v2");
  WriteText(rootfs + "/root/new", "x");
  EXPECT_EQ(driver_->RestoreSnapshot("c1", "nope").code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(driver_->RestoreSnapshot("c1", "s1").ok());
  EXPECT_EQ(ReadFile(rootfs + "/root/state"), "v1");
  EXPECT_FALSE(lxc::PathExists(rootfs + "/root/new"));
  for (const std::string& name : DirEntries(lxc_path_ + "/c1")) {
    EXPECT_FALSE(absl::StartsWith(name, ".")) << "work directory left behind: " << name;
  }

  // A copy has its own files and a config for its own paths; it starts.
  EXPECT_EQ(driver_->Copy("c1", "c1").code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(driver_->Copy("c1", "c2").ok());
  EXPECT_EQ(ReadFile(lxc_path_ + "/c2/rootfs/root/state"), "v1");
  EXPECT_FALSE(lxc::PathExists(lxc_path_ + "/c2/snapshots"));
  EXPECT_EQ(RootfsPathOf(ReadFile(ConfigPath("c2"))), "dir:" + lxc_path_ + "/c2/rootfs");
  ASSERT_TRUE(driver_->Start("c2").ok());
  EXPECT_EQ(InspectOk("c2").state, LiveState::kRunning);
  ASSERT_TRUE(driver_->Stop("c2", absl::ZeroDuration(), true).ok());

  ASSERT_TRUE(driver_->DeleteSnapshot("c1", "s1").ok());
  EXPECT_THAT(DirEntries(lxc_path_ + "/c1/snapshots"), IsEmpty());
  EXPECT_EQ(driver_->DeleteSnapshot("c1", "s1").code(), absl::StatusCode::kNotFound);

  // Snapshots live in the container's directory: destroy takes them along.
  ASSERT_TRUE(driver_->CreateSnapshot("c1", "s2").ok());
  ASSERT_TRUE(driver_->Destroy("c1").ok());
  EXPECT_FALSE(lxc::PathExists(lxc_path_ + "/c1"));
}

// An image-based container (the images feature's contract): lxc.rootfs.path =
// overlay:<lower>:<lxcpath>/<name>/delta. Only the delta is the container's; snapshots and copies
// take the delta and keep the lower layer shared. Built here by hand from a busybox rootfs as the
// lower layer.
TEST_F(LxcDriverTest, SnapshotAndCopyOfAnOverlayRootfsTakeOnlyTheDelta) {
  CreateBusybox("base");
  const std::string lower = lxc_path_ + "/base/rootfs";
  const std::string dir = lxc_path_ + "/ov";
  ASSERT_EQ(mkdir(dir.c_str(), 0770), 0);
  ASSERT_EQ(mkdir((dir + "/delta").c_str(), 0755), 0);
  std::string config = absl::StrReplaceAll(ReadFile(ConfigPath("base")),
                                           {{lxc_path_ + "/base", dir}, {"= base\n", "= ov\n"}});
  config = absl::StrReplaceAll(
      config, {{"lxc.rootfs.path = dir:" + dir + "/rootfs",
                "lxc.rootfs.path = overlay:" + lower + ":" + dir + "/delta"}});
  WriteText(dir + "/config", config);
  ASSERT_EQ(RootfsPathOf(ReadFile(dir + "/config")), "overlay:" + lower + ":" + dir + "/delta");
  // What the container wrote: a file, a whiteout (a deleted lower file) and an opaque directory.
  ASSERT_EQ(mkdir((dir + "/delta/root").c_str(), 0700), 0);
  WriteText(dir + "/delta/root/hello", "v1");
  ASSERT_EQ(mknod((dir + "/delta/root/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  ASSERT_EQ(mkdir((dir + "/delta/opaque").c_str(), 0755), 0);
  ASSERT_EQ(setxattr((dir + "/delta/opaque").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);

  ASSERT_TRUE(driver_->CreateSnapshot("ov", "s1").ok());
  const std::string snap = dir + "/snapshots/s1";
  EXPECT_EQ(DirEntries(snap), std::vector<std::string>{"delta"});
  EXPECT_EQ(DirEntries(snap + "/delta"), (std::vector<std::string>{"opaque", "root"}));
  EXPECT_EQ(ReadFile(snap + "/delta/root/hello"), "v1");
  struct stat st;
  ASSERT_EQ(lstat((snap + "/delta/root/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) << "the whiteout is kept";
  char value[8] = {};
  EXPECT_EQ(getxattr((snap + "/delta/opaque").c_str(), "trusted.overlay.opaque", value,
                     sizeof(value)),
            1);
  EXPECT_EQ(std::string(value), "y");

  WriteText(dir + "/delta/root/hello", "v2");
  ASSERT_TRUE(driver_->RestoreSnapshot("ov", "s1").ok());
  EXPECT_EQ(ReadFile(dir + "/delta/root/hello"), "v1");
  EXPECT_TRUE(lxc::PathExists(lower + "/bin/busybox")) << "the lower layer is untouched";

  ASSERT_TRUE(driver_->Copy("ov", "ov2").ok());
  EXPECT_EQ(RootfsPathOf(ReadFile(ConfigPath("ov2"))),
            "overlay:" + lower + ":" + lxc_path_ + "/ov2/delta");
  EXPECT_EQ(ReadFile(lxc_path_ + "/ov2/delta/root/hello"), "v1");
  EXPECT_FALSE(lxc::PathExists(lxc_path_ + "/ov2/delta/bin")) << "only the delta is copied";

  // liblxc mounts the copy: the container sees the lower layer and its own delta.
  absl::Status started = driver_->Start("ov2");
  ASSERT_TRUE(started.ok()) << started;
  const std::string proc_root = absl::StrCat("/proc/", InspectOk("ov2").init_pid, "/root");
  EXPECT_EQ(ReadFile(proc_root + "/root/hello"), "v1");
  EXPECT_TRUE(lxc::PathExists(proc_root + "/bin/busybox"));
  ASSERT_TRUE(driver_->Stop("ov2", absl::ZeroDuration(), true).ok());
}

TEST_F(LxcDriverTest, SnapshotWithoutRoomIsRefusedBeforeWritingAnything) {
  CreateBusybox("c1");
  // A small tmpfs as the snapshots directory: the container's rootfs does not fit.
  const std::string snapshots = lxc_path_ + "/c1/snapshots";
  ASSERT_EQ(mkdir(snapshots.c_str(), 0700), 0);
  ASSERT_EQ(RunCommand({"mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", snapshots}), 0);
  absl::Status taken = driver_->CreateSnapshot("c1", "s1");
  EXPECT_EQ(taken.code(), absl::StatusCode::kFailedPrecondition) << taken;
  EXPECT_THAT(taken.message(), HasSubstr("not enough free space"));
  EXPECT_THAT(DirEntries(snapshots), IsEmpty());
  EXPECT_EQ(RunCommand({"umount", snapshots}), 0);
}

}  // namespace
}  // namespace berth::runtime

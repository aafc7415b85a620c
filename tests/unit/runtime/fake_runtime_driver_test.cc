#include "berth/runtime/fake_runtime_driver.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lxc/state_name.h"

namespace berth::runtime {
namespace {

using Op = FakeRuntimeDriver::Op;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

CreateSpec Busybox(std::string name) { return CreateSpec{std::move(name), "busybox", {}}; }

TEST(FakeRuntimeDriverTest, LifecycleFollowsLxcStates) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kStopped);

  absl::StatusOr<LiveInfo> info = driver.Inspect("web");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, LiveState::kStopped);
  EXPECT_EQ(info->init_pid, 0);

  ASSERT_TRUE(driver.Start("web").ok());
  info = driver.Inspect("web");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, LiveState::kRunning);
  EXPECT_GT(info->init_pid, 0);

  ASSERT_TRUE(driver.Freeze("web").ok());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kFrozen);
  ASSERT_TRUE(driver.Unfreeze("web").ok());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kRunning);

  ASSERT_TRUE(driver.Stop("web", absl::Seconds(5), false).ok());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kStopped);
  EXPECT_EQ(driver.LastStopArgs(), std::make_pair(absl::Seconds(5), false));

  ASSERT_TRUE(driver.Rename("web", "web2").ok());
  EXPECT_EQ(driver.StateOf("web"), std::nullopt);
  ASSERT_TRUE(driver.SpecOf("web2").has_value());
  EXPECT_EQ(driver.SpecOf("web2")->name, "web2");

  ASSERT_TRUE(driver.Destroy("web2").ok());
  EXPECT_EQ(driver.StateOf("web2"), std::nullopt);
  EXPECT_THAT(*driver.ListNames(), IsEmpty());
}

TEST(FakeRuntimeDriverTest, WrongStatesAreFailedPreconditionNamingTheState) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  absl::Status status = driver.Stop("web", absl::Seconds(1), false);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("STOPPED"));
  EXPECT_EQ(driver.Freeze("web").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver.Unfreeze("web").code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(driver.Start("web").ok());
  status = driver.Start("web");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("RUNNING"));
  EXPECT_EQ(driver.Destroy("web").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver.Rename("web", "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver.Unfreeze("web").code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(driver.Freeze("web").ok());
  status = driver.Freeze("web");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("FROZEN"));
  // A frozen container can be stopped, as with LxcDriver.
  EXPECT_TRUE(driver.Stop("web", absl::ZeroDuration(), true).ok());
}

TEST(FakeRuntimeDriverTest, MissingIsNotFoundAndDuplicatesAlreadyExist) {
  FakeRuntimeDriver driver;
  EXPECT_EQ(driver.Start("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver.Stop("nope", absl::Seconds(1), true).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver.Inspect("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver.Destroy("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(driver.Rename("nope", "other").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(driver.Create(Busybox("a")).ok());
  ASSERT_TRUE(driver.Create(Busybox("b")).ok());
  EXPECT_EQ(driver.Create(Busybox("a")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(driver.Rename("a", "b").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(driver.Rename("a", "a").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(*driver.ListNames(), ElementsAre("a", "b"));
}

TEST(FakeRuntimeDriverTest, ValidatesLikeTheLxcDriver) {
  FakeRuntimeDriver driver;
  EXPECT_EQ(driver.Create(Busybox("bad name")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Create(Busybox("123")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Create({"ok", "nosuchtemplate", {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Create({"ok", "../busybox", {}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Create({"ok", "busybox", {"--rootfs=/"}}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Create({"ok", "busybox", {"a\nb"}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.Start("-x").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver.StateOf("ok"), std::nullopt);

  driver.SetKnownTemplates({"debian"});
  EXPECT_EQ(driver.Create(Busybox("ok")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(driver.Create({"ok", "debian", {"--release", "bookworm"}}).ok());
  EXPECT_THAT(driver.SpecOf("ok")->template_args, ElementsAre("--release", "bookworm"));
}

TEST(FakeRuntimeDriverTest, FailNextFailsOnceInOrderWithoutEffect) {
  FakeRuntimeDriver driver;
  driver.FailNext(Op::kCreate, absl::InternalError("disk full"));
  driver.FailNext(Op::kCreate, absl::UnavailableError("again"));
  absl::Status first = driver.Create(Busybox("web"));
  EXPECT_EQ(first.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(first.message(), "disk full");
  EXPECT_EQ(driver.Create(Busybox("web")).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(driver.StateOf("web"), std::nullopt);
  EXPECT_TRUE(driver.Create(Busybox("web")).ok());

  driver.FailNext(Op::kStart, absl::InternalError("ERROR start - boom"));
  EXPECT_EQ(driver.Start("web").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(driver.StateOf("web"), LiveState::kStopped);
  EXPECT_TRUE(driver.Start("web").ok());

  EXPECT_EQ(driver.CallCount(Op::kCreate), 3);
  EXPECT_EQ(driver.CallCount(Op::kStart), 2);
  EXPECT_EQ(driver.CallCount(Op::kStop), 0);
}

TEST(FakeRuntimeDriverTest, SimulateExitStopsAndCallsTheHandler) {
  FakeRuntimeDriver driver;
  std::vector<std::string> exited;
  std::vector<std::optional<int>> codes;
  driver.SetExitHandler([&](const std::string& name, std::optional<int> code) {
    exited.push_back(name);
    codes.push_back(code);
  });
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  EXPECT_EQ(driver.SimulateExit("web").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(driver.SimulateExit("nope").code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(driver.Start("web").ok());
  ASSERT_TRUE(driver.SimulateExit("web", 3).ok());
  EXPECT_THAT(exited, ElementsAre("web"));
  EXPECT_THAT(codes, ElementsAre(std::optional<int>(3)));
  EXPECT_EQ(driver.StateOf("web"), LiveState::kStopped);
  EXPECT_EQ(driver.Inspect("web")->init_pid, 0);

  // Stop through the driver does not call the handler (as with LxcDriver).
  ASSERT_TRUE(driver.Start("web").ok());
  ASSERT_TRUE(driver.Stop("web", absl::Seconds(1), false).ok());
  EXPECT_THAT(exited, ElementsAre("web"));
}

TEST(FakeRuntimeDriverTest, TheHandlerMayCallBackIntoTheDriver) {
  FakeRuntimeDriver driver;
  absl::StatusOr<LiveInfo> seen;
  driver.SetExitHandler(
      [&](const std::string& name, std::optional<int>) { seen = driver.Inspect(name); });
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  ASSERT_TRUE(driver.Start("web").ok());
  ASSERT_TRUE(driver.SimulateExit("web").ok());
  ASSERT_TRUE(seen.ok());
  EXPECT_EQ(seen->state, LiveState::kStopped);
}

TEST(FakeRuntimeDriverTest, InitPidAndDetailsAreReported) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  EXPECT_EQ(driver.SetInitPid("web", 4242).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(driver.Start("web").ok());
  ASSERT_TRUE(driver.SetInitPid("web", 4242).ok());
  ASSERT_TRUE(driver.SetLiveDetails("web", {"10.0.0.2"}, {"fd00::2"}, 1 << 20, 5000).ok());
  absl::StatusOr<LiveInfo> info = driver.Inspect("web");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->init_pid, 4242);
  EXPECT_THAT(info->ipv4, ElementsAre("10.0.0.2"));
  EXPECT_THAT(info->ipv6, ElementsAre("fd00::2"));
  EXPECT_EQ(info->memory_bytes, 1u << 20);
  EXPECT_EQ(info->cpu_ns, 5000u);
}

TEST(FakeRuntimeDriverTest, AddContainerModelsContainersFromBefore) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.AddContainer("old", LiveState::kRunning).ok());
  EXPECT_EQ(driver.AddContainer("old").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(driver.AddContainer("a b").code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<LiveInfo> info = driver.Inspect("old");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, LiveState::kRunning);
  EXPECT_GT(info->init_pid, 0);
  EXPECT_EQ(driver.SpecOf("old"), std::nullopt);
}

TEST(FakeRuntimeDriverTest, HoldBlocksCallsUntilReleased) {
  FakeRuntimeDriver driver;
  ASSERT_TRUE(driver.Create(Busybox("web")).ok());
  driver.HoldOp(Op::kStart);
  EXPECT_FALSE(driver.AwaitHeld(Op::kStart, absl::Milliseconds(1)));

  absl::Notification done;
  absl::Status result;
  std::thread caller([&] {
    result = driver.Start("web");
    done.Notify();
  });
  ASSERT_TRUE(driver.AwaitHeld(Op::kStart, absl::Seconds(10)));
  EXPECT_FALSE(done.HasBeenNotified());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kStopped);
  // Other ops are not held.
  EXPECT_TRUE(driver.Inspect("web").ok());

  driver.ReleaseOp(Op::kStart);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  caller.join();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(driver.StateOf("web"), LiveState::kRunning);
}

TEST(FakeRuntimeDriverTest, ConcurrentCallsOnDifferentContainers) {
  FakeRuntimeDriver driver;
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string name = "c" + std::to_string(t);
      for (int i = 0; i < 50; ++i) {
        if (!driver.Create(Busybox(name)).ok() || !driver.Start(name).ok() ||
            !driver.Inspect(name).ok() || !driver.Stop(name, absl::Seconds(1), true).ok() ||
            !driver.Destroy(name).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(driver.CallCount(Op::kCreate), kThreads * 50);
  EXPECT_THAT(*driver.ListNames(), IsEmpty());
}

TEST(FakeRuntimeDriverTest, OpNames) {
  EXPECT_EQ(FakeRuntimeDriver::OpName(Op::kCreate), "Create");
  EXPECT_EQ(FakeRuntimeDriver::OpName(Op::kListNames), "ListNames");
}

TEST(LiveStateNameTest, NamesMatchLiblxc) {
  EXPECT_EQ(LiveStateName(LiveState::kStopped), "STOPPED");
  EXPECT_EQ(LiveStateName(LiveState::kRunning), "RUNNING");
  EXPECT_EQ(LiveStateName(LiveState::kFrozen), "FROZEN");
  EXPECT_EQ(LiveStateName(LiveState::kThawed), "THAWED");
  for (LiveState state :
       {LiveState::kStopped, LiveState::kStarting, LiveState::kRunning, LiveState::kStopping,
        LiveState::kAborting, LiveState::kFreezing, LiveState::kFrozen, LiveState::kThawed}) {
    EXPECT_EQ(lxc::ParseLiveState(LiveStateName(state)), state);
  }
  EXPECT_EQ(lxc::ParseLiveState("running"), std::nullopt);
  EXPECT_EQ(lxc::ParseLiveState(""), std::nullopt);
}

}  // namespace
}  // namespace berth::runtime

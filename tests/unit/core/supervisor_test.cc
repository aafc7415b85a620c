#include "berth/core/supervisor.h"

#include <stdlib.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/core/timer.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/in_memory_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using runtime::FakeRuntimeDriver;
using runtime::LiveState;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Op = FakeRuntimeDriver::Op;

// Queues tasks and runs them when the test says so, like a pool but deterministic. (The
// supervisor must not run its work inline on the publishing thread.)
class QueueExecutor final : public Executor {
 public:
  absl::Status Post(Task task) override {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(task));
    return absl::OkStatus();
  }
  void RunAll() {
    while (true) {
      Task task;
      {
        absl::MutexLock lock(&mu_);
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      std::move(task)();
    }
  }

 private:
  absl::Mutex mu_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

class SupervisorTest : public ::testing::Test {
 protected:
  SupervisorTest() : events_(&clock_), manager_(&store_, &driver_, &clock_, &events_), timer_(&clock_) {
    spdlog::set_level(spdlog::level::warn);
    char tmpl[] = "/tmp/berth-supervisor-test-XXXXXX";  // per process: ctest runs cases in parallel
    dir_ = mkdtemp(tmpl);
    options_.boot_id_path = dir_ + "/kernel_boot_id";
    options_.recorded_boot_id_path = dir_ + "/boot_id";
    WriteFile(options_.boot_id_path, "boot-1\n");
    events_.Subscribe([this](const Event& e) {
      absl::MutexLock lock(&seen_mu_);
      seen_.push_back(e);
    });
    driver_.SetExitHandler([this](const std::string& n, std::optional<int> code) {
      manager_.OnContainerExit(n, code);
    });
    supervisor_ = std::make_unique<Supervisor>(&manager_, &store_, &events_, &executor_, &timer_,
                                               &clock_, options_);
  }
  ~SupervisorTest() override {
    supervisor_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Create(const std::string& name, std::map<std::string, std::string> config,
              bool start = true) {
    CreateParams p;
    p.name = name;
    p.template_name = "busybox";
    p.config = std::move(config);
    p.start = start;
    ASSERT_TRUE(manager_.Create(p).ok());
  }
  // The init exits with `code`; the supervisor's work runs.
  void Crash(const std::string& name, std::optional<int> code) {
    ASSERT_TRUE(driver_.SimulateExit(name, code).ok());
    executor_.RunAll();
  }
  void Advance(absl::Duration d) {
    timer_.Advance(d);
    executor_.RunAll();
  }
  LiveState State(const std::string& name) { return *driver_.StateOf(name); }
  std::vector<Event> EventsOf(EventType type) {
    absl::MutexLock lock(&seen_mu_);
    std::vector<Event> out;
    for (const auto& e : seen_) {
      if (e.type == type) out.push_back(e);
    }
    return out;
  }
  std::vector<std::string> Started() {
    std::vector<std::string> names;
    for (const auto& e : EventsOf(EventType::kStarted)) names.push_back(e.container);
    return names;
  }
  void ClearEvents() {
    absl::MutexLock lock(&seen_mu_);
    seen_.clear();
  }

  FakeClock clock_;
  EventBus events_;
  storage::InMemoryStore store_;
  FakeRuntimeDriver driver_;
  ContainerManager manager_;
  QueueExecutor executor_;
  FakeTimer timer_;
  std::string dir_;
  SupervisorOptions options_;
  std::unique_ptr<Supervisor> supervisor_;
  absl::Mutex seen_mu_;
  std::vector<Event> seen_ ABSL_GUARDED_BY(seen_mu_);
};

TEST_F(SupervisorTest, ExitIsPublishedWithItsCode) {
  Create("web", {});
  Crash("web", 137);
  auto exited = EventsOf(EventType::kExited);
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0].container, "web");
  EXPECT_EQ(exited[0].exit_code, 137);
  EXPECT_EQ(exited[0].state, LiveState::kStopped);
}

TEST_F(SupervisorTest, NeverLeavesItStopped) {
  Create("web", {{"restart.policy", "never"}});
  Crash("web", 1);
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  EXPECT_TRUE(EventsOf(EventType::kRestarting).empty());
  EXPECT_EQ(timer_.Pending(), 0u);
}

TEST_F(SupervisorTest, OnFailureRestartsOnNonZeroOnly) {
  Create("web", {{"restart.policy", "on-failure"}});
  Crash("web", 0);
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("web"), LiveState::kStopped);

  ASSERT_TRUE(manager_.Start("web").ok());
  Crash("web", 3);
  auto restarting = EventsOf(EventType::kRestarting);
  ASSERT_EQ(restarting.size(), 1u);
  EXPECT_THAT(restarting[0].detail, HasSubstr("exited with code 3"));
  EXPECT_THAT(restarting[0].detail, HasSubstr("in 1s"));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  Advance(absl::Milliseconds(999));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(State("web"), LiveState::kRunning);

  // An unknown code is not known to be a success: restarted too.
  Crash("web", std::nullopt);
  Advance(absl::Seconds(2));
  EXPECT_EQ(State("web"), LiveState::kRunning);
}

TEST_F(SupervisorTest, AlwaysRestartsWithDoublingBackoffUpToOneMinute) {
  Create("web", {{"restart.policy", "always"}});
  std::vector<absl::Duration> delays;
  for (int i = 0; i < 9; ++i) {
    Crash("web", 0);
    delays.push_back(timer_.NextDelay());
    Advance(timer_.NextDelay());
    ASSERT_EQ(State("web"), LiveState::kRunning) << "restart " << i + 1;
  }
  EXPECT_THAT(delays, ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                  absl::Seconds(8), absl::Seconds(16), absl::Seconds(32),
                                  absl::Seconds(60), absl::Seconds(60), absl::Seconds(60)));
  // Up ten minutes: the count starts again.
  Advance(absl::Minutes(10));
  Crash("web", 1);
  EXPECT_EQ(timer_.NextDelay(), absl::Seconds(1));
}

TEST_F(SupervisorTest, RestartMaxGivesUpWithAnEvent) {
  Create("web", {{"restart.policy", "always"}, {"restart.max", "2"}});
  Crash("web", 1);
  Advance(absl::Seconds(1));
  Crash("web", 1);
  Advance(absl::Seconds(2));
  ASSERT_EQ(State("web"), LiveState::kRunning);
  Crash("web", 1);
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  EXPECT_EQ(EventsOf(EventType::kRestarting).size(), 2u);
  auto given_up = EventsOf(EventType::kRestartGivenUp);
  ASSERT_EQ(given_up.size(), 1u);
  EXPECT_EQ(given_up[0].container, "web");
  EXPECT_THAT(given_up[0].detail, HasSubstr("restart.max (2)"));
  EXPECT_EQ(driver_.CallCount(Op::kStart), 3);  // the create's start + 2 restarts

  // A start by the user begins a new count.
  ASSERT_TRUE(manager_.Start("web").ok());
  Crash("web", 1);
  EXPECT_EQ(EventsOf(EventType::kRestarting).size(), 3u);
}

TEST_F(SupervisorTest, StopDeleteOrStartMeanwhileCancelsThePendingRestart) {
  Create("web", {{"restart.policy", "always"}});
  Crash("web", 1);
  EXPECT_EQ(supervisor_->PendingRestarts(), 1u);
  ASSERT_TRUE(manager_.Delete("web", false).ok());
  EXPECT_EQ(supervisor_->PendingRestarts(), 0u);
  Advance(absl::Minutes(1));
  EXPECT_FALSE(driver_.StateOf("web").has_value());

  Create("db", {{"restart.policy", "always"}});
  Crash("db", 1);
  ASSERT_TRUE(manager_.Start("db").ok());  // the user was quicker
  EXPECT_EQ(supervisor_->PendingRestarts(), 0u);
  const int starts = driver_.CallCount(Op::kStart);
  Advance(absl::Minutes(1));
  EXPECT_EQ(driver_.CallCount(Op::kStart), starts);

  // Renamed while a restart is pending: the old name's restart is dropped.
  Create("app", {{"restart.policy", "always"}});
  Crash("app", 1);
  ASSERT_TRUE(manager_.Rename("app", "app2").ok());
  EXPECT_EQ(supervisor_->PendingRestarts(), 0u);
}

TEST_F(SupervisorTest, AStopThroughBerthNeverRestarts) {
  Create("web", {{"restart.policy", "always"}});
  ASSERT_TRUE(manager_.Stop("web", absl::Seconds(1), false).ok());
  executor_.RunAll();
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  // Even when an exit is reported after the stop (the two raced).
  manager_.OnContainerExit("web", 137);
  executor_.RunAll();
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  EXPECT_TRUE(EventsOf(EventType::kRestarting).empty());
}

TEST_F(SupervisorTest, AContainerThatRebootedItselfIsLeftAlone) {
  Create("web", {{"restart.policy", "always"}});
  ASSERT_TRUE(driver_.SimulateExit("web", 129).ok());
  ASSERT_TRUE(driver_.Start("web").ok());  // liblxc brought it back up with a new init
  executor_.RunAll();
  EXPECT_EQ(timer_.Pending(), 0u);
  EXPECT_TRUE(EventsOf(EventType::kRestarting).empty());
}

TEST_F(SupervisorTest, AFailedRestartCountsAndRetries) {
  Create("web", {{"restart.policy", "always"}, {"restart.max", "3"}});
  Crash("web", 1);
  driver_.FailNext(Op::kStart, absl::InternalError("lxc says no"));
  Advance(absl::Seconds(1));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  auto restarting = EventsOf(EventType::kRestarting);
  ASSERT_EQ(restarting.size(), 2u);
  EXPECT_THAT(restarting[1].detail, HasSubstr("lxc says no"));
  Advance(absl::Seconds(2));
  EXPECT_EQ(State("web"), LiveState::kRunning);
}

TEST_F(SupervisorTest, QuiesceStopsRestarting) {
  Create("web", {{"restart.policy", "always"}});
  Crash("web", 1);
  supervisor_->Quiesce();
  Advance(absl::Minutes(1));
  EXPECT_EQ(State("web"), LiveState::kStopped);
  Create("db", {{"restart.policy", "always"}});
  Crash("db", 1);
  EXPECT_EQ(timer_.Pending(), 0u);
}

TEST_F(SupervisorTest, AutostartsByPriorityWithDelaysThenRecordsTheBoot) {
  Create("low", {{"boot.autostart", "true"}}, false);
  Create("high", {{"boot.autostart", "true"}, {"boot.autostart.priority", "10"},
                  {"boot.autostart.delay", "5"}}, false);
  Create("mid", {{"boot.autostart", "true"}, {"boot.autostart.priority", "5"}}, false);
  Create("off", {{"boot.autostart", "false"}, {"boot.autostart.priority", "99"}}, false);
  Create("plain", {}, false);
  bool done = false;
  supervisor_->Autostart([&] { done = true; });
  executor_.RunAll();
  EXPECT_THAT(Started(), ElementsAre("high"));  // then 5 s before the next
  EXPECT_FALSE(done);
  EXPECT_EQ(ReadFile(options_.recorded_boot_id_path), "");
  Advance(absl::Seconds(4));
  EXPECT_THAT(Started(), ElementsAre("high"));
  Advance(absl::Seconds(1));
  EXPECT_THAT(Started(), ElementsAre("high", "mid", "low"));
  EXPECT_TRUE(done);
  EXPECT_EQ(ReadFile(options_.recorded_boot_id_path), "boot-1");
  EXPECT_EQ(State("off"), LiveState::kStopped);
  EXPECT_EQ(State("plain"), LiveState::kStopped);
}

TEST_F(SupervisorTest, AutostartOnlyOncePerBoot) {
  Create("web", {{"boot.autostart", "true"}}, false);
  WriteFile(options_.recorded_boot_id_path, "boot-1\n");
  bool done = false;
  supervisor_->Autostart([&] { done = true; });
  executor_.RunAll();
  EXPECT_TRUE(done);
  EXPECT_EQ(State("web"), LiveState::kStopped);  // berthd restarted in the same boot

  WriteFile(options_.boot_id_path, "boot-2\n");  // the host rebooted
  supervisor_->Autostart();
  executor_.RunAll();
  EXPECT_EQ(State("web"), LiveState::kRunning);
  EXPECT_EQ(ReadFile(options_.recorded_boot_id_path), "boot-2");
}

TEST_F(SupervisorTest, AutostartSkipsRunningAndGoesOnAfterAFailure) {
  Create("a", {{"boot.autostart", "true"}, {"boot.autostart.priority", "2"}}, true);
  Create("b", {{"boot.autostart", "true"}, {"boot.autostart.priority", "1"}}, false);
  Create("c", {{"boot.autostart", "true"}}, false);
  ClearEvents();
  driver_.FailNext(Op::kStart, absl::InternalError("broken"));  // b fails
  supervisor_->Autostart();
  executor_.RunAll();
  EXPECT_THAT(Started(), ElementsAre("c"));
  EXPECT_EQ(ReadFile(options_.recorded_boot_id_path), "boot-1");
}

TEST_F(SupervisorTest, StopAllStopsInReversePriorityWithEachTimeout) {
  Create("high", {{"boot.autostart.priority", "10"}, {"boot.stop.timeout", "7"}});
  Create("low", {{"boot.autostart.priority", "-1"}});
  Create("mid", {{"boot.autostart.priority", "3"}, {"restart.policy", "always"}});
  Create("stopped", {}, false);
  ClearEvents();
  EXPECT_EQ(supervisor_->StopAll(), 3);
  std::vector<std::string> order;
  for (const auto& e : EventsOf(EventType::kStopped)) order.push_back(e.container);
  EXPECT_THAT(order, ElementsAre("low", "mid", "high"));
  EXPECT_EQ(driver_.LastStopArgs(), std::make_pair(absl::Seconds(7), false));
  // Nothing restarts afterwards, whatever exits.
  Advance(absl::Minutes(5));
  EXPECT_EQ(State("mid"), LiveState::kStopped);
}

TEST(TimerTest, ThreadTimerRunsInOrderAndCancels) {
  ThreadTimer timer;
  absl::Mutex mu;
  std::vector<int> ran;
  auto add = [&](int n) {
    return [&, n] {
      absl::MutexLock lock(&mu);
      ran.push_back(n);
    };
  };
  timer.After(absl::Milliseconds(60), add(3));
  timer.After(absl::Milliseconds(20), add(1));
  uint64_t cancelled = timer.After(absl::Milliseconds(40), add(2));
  EXPECT_TRUE(timer.Cancel(cancelled));
  EXPECT_FALSE(timer.Cancel(cancelled));
  absl::MutexLock lock(&mu);
  auto two = [&] { return ran.size() == 2; };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&two), absl::Seconds(10)));
  EXPECT_THAT(ran, ElementsAre(1, 3));
}

}  // namespace
}  // namespace berth::core

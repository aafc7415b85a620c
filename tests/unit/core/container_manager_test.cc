#include "berth/core/container_manager.h"

#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "berth/core/clock.h"
#include "berth/core/event_bus.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/in_memory_store.h"
#include "gmock/gmock.h"
#include "spdlog/spdlog.h"
#include "gtest/gtest.h"

namespace berth::core {
namespace {

using runtime::FakeRuntimeDriver;
using runtime::LiveState;
using storage::Phase;
using ::testing::HasSubstr;
using Op = FakeRuntimeDriver::Op;

class ContainerManagerTest : public ::testing::Test {
 protected:
  ContainerManagerTest() : events_(&clock_), manager_(&store_, &driver_, &clock_, &events_) {
    spdlog::set_level(spdlog::level::warn);  // Operations log at info; keep test output readable.
    events_.Subscribe([this](const Event& e) {
      absl::MutexLock lock(&seen_mu_);
      // Operation steps have their own test (OperationStepsArePublished).
      if (e.type == EventType::kOperation) {
        steps_.push_back(e.container + " " + e.detail);
        return;
      }
      seen_.push_back(e);
    });
    driver_.SetExitHandler(
        [this](const std::string& n, std::optional<int> code) { manager_.OnContainerExit(n, code); });
  }

  absl::StatusOr<ContainerView> Create(const std::string& name, bool start = false) {
    CreateParams p;
    p.name = name;
    p.template_name = "busybox";
    p.start = start;
    return manager_.Create(p);
  }

  std::vector<storage::ContainerRecord> Records() {
    auto records = store_.List();
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *std::move(records) : std::vector<storage::ContainerRecord>{};
  }

  std::set<std::string> StoreNames() {
    std::set<std::string> names;
    for (const auto& r : Records()) names.insert(r.name);
    return names;
  }

  std::set<std::string> DriverNames() {
    auto names = *driver_.ListNames();
    return {names.begin(), names.end()};
  }

  FakeClock clock_;
  storage::InMemoryStore store_;
  FakeRuntimeDriver driver_;
  EventBus events_;
  ContainerManager manager_;
  absl::Mutex seen_mu_;
  std::vector<Event> seen_ ABSL_GUARDED_BY(seen_mu_);  // Events are published from many threads.
  std::vector<std::string> steps_ ABSL_GUARDED_BY(seen_mu_);  // kOperation: "<name> <detail>".
};

TEST_F(ContainerManagerTest, CreateStoresTheDefinitionAndCreatesInTheRuntime) {
  CreateParams p;
  p.name = "web";
  p.template_name = "busybox";
  p.template_args = {"--flag"};
  p.labels = {{"tier", "front"}};
  auto view = manager_.Create(p);
  ASSERT_TRUE(view.ok()) << view.status();
  auto stored = store_.Get("web");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->phase, Phase::kReady);
  EXPECT_EQ(stored->source_kind, "template");
  EXPECT_EQ(stored->source_name, "busybox");
  EXPECT_EQ(stored->source_args, std::vector<std::string>{"--flag"});
  EXPECT_EQ(stored->labels.at("tier"), "front");
  EXPECT_EQ(stored->created_at, clock_.Now());
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kStopped);
  EXPECT_EQ(driver_.SpecOf("web")->template_args, std::vector<std::string>{"--flag"});
  ASSERT_TRUE(view->live.has_value());
  EXPECT_EQ(view->live->state, LiveState::kStopped);
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].type, EventType::kCreated);
}

TEST_F(ContainerManagerTest, OperationStepsArePublished) {
  ASSERT_TRUE(Create("web", /*start=*/true).ok());
  ASSERT_TRUE(manager_.Stop("web", absl::Seconds(5), /*force=*/false).ok());
  ASSERT_TRUE(manager_.Start("web").ok());
  ASSERT_TRUE(manager_.Delete("web", /*force=*/true).ok());
  absl::MutexLock lock(&seen_mu_);
  EXPECT_EQ(steps_, (std::vector<std::string>{
                        "web create: creating root filesystem from template \"busybox\"",
                        "web create: done",
                        "web stop: halting; killing after 5s",
                        "web stop: done",
                        "web delete: killing the running container",
                        "web delete: removing root filesystem",
                        "web delete: done",
                    }));
}

TEST_F(ContainerManagerTest, LaunchStartsTheContainer) {
  auto view = Create("web", /*start=*/true);
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  EXPECT_EQ(view->live->state, LiveState::kRunning);
  EXPECT_GT(view->live->init_pid, 0);
}

TEST_F(ContainerManagerTest, BadInputCreatesNothing) {
  for (std::string name : {"", "../x", "a/b", "a\nb", "-a", "123"}) {
    EXPECT_EQ(Create(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
  }
  CreateParams p;
  p.name = "web";
  p.template_name = "busybox";
  p.labels = {{"k", "v\nlxc.hook.pre-start = /bin/sh"}};
  EXPECT_EQ(manager_.Create(p).status().code(), absl::StatusCode::kInvalidArgument);
  p.labels = {};
  p.template_args = {"a\nb"};
  EXPECT_EQ(manager_.Create(p).status().code(), absl::StatusCode::kInvalidArgument);
  p.template_args = {};
  p.template_name = "../busybox";
  EXPECT_EQ(manager_.Create(p).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Records().empty());
  EXPECT_EQ(driver_.CallCount(Op::kCreate), 0);
}

TEST_F(ContainerManagerTest, DuplicatesAreAlreadyExists) {
  ASSERT_TRUE(Create("web").ok());
  auto again = Create("web");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.status().message(), HasSubstr("\"web\""));
  // A container the runtime has but berth does not know is not taken over either.
  ASSERT_TRUE(driver_.AddContainer("stray").ok());
  EXPECT_EQ(Create("stray").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(StoreNames(), (std::set<std::string>{"web"}));
}

TEST_F(ContainerManagerTest, FailedCreateLeavesNoRow) {
  driver_.FailNext(Op::kCreate, absl::InternalError("template failed: ERROR disk full"));
  auto view = Create("web");
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(view.status().message(), HasSubstr("cannot create container \"web\""));
  EXPECT_THAT(view.status().message(), HasSubstr("ERROR disk full"));
  EXPECT_TRUE(Records().empty());
  EXPECT_TRUE(DriverNames().empty());
}

TEST_F(ContainerManagerTest, FailedStartOnLaunchKeepsTheCreatedContainer) {
  driver_.FailNext(Op::kStart, absl::InternalError("lxc start failed"));
  auto view = Create("web", /*start=*/true);
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(view.status().message(), HasSubstr("was created but did not start"));
  EXPECT_EQ(store_.Get("web")->phase, Phase::kReady);
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kStopped);
}

TEST_F(ContainerManagerTest, WrongStatesAreFailedPreconditionNamingTheState) {
  ASSERT_TRUE(Create("web", true).ok());
  auto start = manager_.Start("web");
  EXPECT_EQ(start.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(start.status().message(), HasSubstr("RUNNING"));
  auto del = manager_.Delete("web", /*force=*/false);
  EXPECT_EQ(del.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(del.message(), HasSubstr("RUNNING"));
  auto ren = manager_.Rename("web", "web2");
  EXPECT_EQ(ren.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_.Unfreeze("web").status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(manager_.Stop("web", absl::Seconds(5), false).ok());
  auto stop = manager_.Stop("web", absl::Seconds(5), false);
  EXPECT_EQ(stop.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stop.status().message(), HasSubstr("STOPPED"));
  EXPECT_EQ(manager_.Freeze("web").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_.Restart("web", absl::Seconds(1), false).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(manager_.Start("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_.Delete("nope", true).code(), absl::StatusCode::kNotFound);
}

TEST_F(ContainerManagerTest, LifecycleReachesTheRuntime) {
  ASSERT_TRUE(Create("web").ok());
  ASSERT_TRUE(manager_.Start("web").ok());
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  auto frozen = manager_.Freeze("web");
  ASSERT_TRUE(frozen.ok());
  EXPECT_EQ(frozen->live->state, LiveState::kFrozen);
  ASSERT_TRUE(manager_.Unfreeze("web").ok());
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  ASSERT_TRUE(manager_.Restart("web", absl::Seconds(3), false).ok());
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  EXPECT_EQ(driver_.LastStopArgs(), std::make_pair(absl::Seconds(3), false));
  ASSERT_TRUE(manager_.Stop("web", absl::ZeroDuration(), true).ok());
  EXPECT_EQ(driver_.LastStopArgs(), std::make_pair(kDefaultStopTimeout, true));
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kStopped);
}

TEST_F(ContainerManagerTest, ForcedDeleteStopsThenRemovesEverything) {
  ASSERT_TRUE(Create("web", true).ok());
  ASSERT_TRUE(manager_.Delete("web", /*force=*/true).ok());
  EXPECT_EQ(store_.Get("web").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(driver_.StateOf("web").has_value());
  EXPECT_EQ(seen_.back().type, EventType::kDeleted);
}

TEST_F(ContainerManagerTest, FailedDestroyKeepsTheContainerReady) {
  ASSERT_TRUE(Create("web").ok());
  driver_.FailNext(Op::kDestroy, absl::InternalError("busy"));
  EXPECT_EQ(manager_.Delete("web", false).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(store_.Get("web")->phase, Phase::kReady);
  EXPECT_TRUE(manager_.Delete("web", false).ok());
}

TEST_F(ContainerManagerTest, RenameMovesDefinitionAndRuntimeTogether) {
  ASSERT_TRUE(Create("web").ok());
  ASSERT_TRUE(Create("db").ok());
  EXPECT_EQ(manager_.Rename("web", "db").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(manager_.Rename("web", "web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_.Rename("web", "bad/name").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto renamed = manager_.Rename("web", "web2");
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->definition.name, "web2");
  EXPECT_EQ(StoreNames(), (std::set<std::string>{"db", "web2"}));
  EXPECT_EQ(DriverNames(), (std::set<std::string>{"db", "web2"}));
  EXPECT_EQ(store_.Get("web2")->phase, Phase::kReady);
}

TEST_F(ContainerManagerTest, FailedRenameRestoresTheOldName) {
  ASSERT_TRUE(Create("web").ok());
  driver_.FailNext(Op::kRename, absl::InternalError("rename failed"));
  EXPECT_EQ(manager_.Rename("web", "web2").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StoreNames(), (std::set<std::string>{"web"}));
  EXPECT_EQ(store_.Get("web")->phase, Phase::kReady);
  EXPECT_EQ(DriverNames(), (std::set<std::string>{"web"}));
}

TEST_F(ContainerManagerTest, LabelUpdatesCompareAndSwapOnRevision) {
  auto created = Create("web");
  ASSERT_TRUE(created.ok());
  int64_t rev = created->definition.revision;
  auto updated = manager_.UpdateLabels("web", rev, {{"a", "1"}});
  ASSERT_TRUE(updated.ok());
  EXPECT_GT(updated->definition.revision, rev);
  auto stale = manager_.UpdateLabels("web", rev, {{"a", "2"}});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_.Get("web")->labels.at("a"), "1");
  EXPECT_TRUE(manager_.UpdateLabels("web", 0, {{"a", "3"}}).ok());
}

TEST_F(ContainerManagerTest, ReconcileFinishesOrUndoesInterruptedOperations) {
  auto record = [&](std::string name, Phase phase, std::string detail = "") {
    storage::ContainerRecord r;
    r.name = std::move(name);
    r.source_kind = "template";
    r.source_name = "busybox";
    r.phase = phase;
    r.phase_detail = std::move(detail);
    ASSERT_TRUE(store_.Create(r).ok());
  };
  record("creating", Phase::kCreating);
  ASSERT_TRUE(driver_.AddContainer("creating").ok());  // Template ran, record not finished.
  record("deleting", Phase::kDeleting);
  record("renamed", Phase::kRenaming, "old1");  // The runtime already renamed it.
  ASSERT_TRUE(driver_.AddContainer("renamed").ok());
  record("notyet", Phase::kRenaming, "old2");  // The runtime still has the old name.
  ASSERT_TRUE(driver_.AddContainer("old2").ok());
  record("running", Phase::kReady);
  ASSERT_TRUE(driver_.AddContainer("running", LiveState::kRunning).ok());
  ASSERT_TRUE(driver_.AddContainer("stray").ok());

  ASSERT_TRUE(manager_.Reconcile().ok());
  EXPECT_EQ(StoreNames(), (std::set<std::string>{"old2", "renamed", "running"}));
  for (const auto& r : Records()) EXPECT_EQ(r.phase, Phase::kReady) << r.name;
  EXPECT_EQ(DriverNames(), (std::set<std::string>{"old2", "renamed", "running", "stray"}));
  EXPECT_EQ(driver_.StateOf("running"), LiveState::kRunning);  // Adopted, not touched.
}

TEST_F(ContainerManagerTest, ReconcileLeavesWhatItCannotFixAndServesTheRest) {
  storage::ContainerRecord broken;
  broken.name = "broken";
  broken.source_kind = "template";
  broken.phase = Phase::kCreating;
  ASSERT_TRUE(store_.Create(broken).ok());
  ASSERT_TRUE(driver_.AddContainer("broken").ok());
  ASSERT_TRUE(Create("fine").ok());
  driver_.FailNext(Op::kDestroy, absl::InternalError("device busy"));

  ASSERT_TRUE(manager_.Reconcile().ok());
  EXPECT_EQ(store_.Get("broken")->phase, Phase::kCreating);  // Retried at the next start.
  EXPECT_EQ(manager_.Start("broken").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(manager_.Start("fine").ok());

  ASSERT_TRUE(manager_.Reconcile().ok());
  EXPECT_EQ(StoreNames(), (std::set<std::string>{"fine"}));
  EXPECT_EQ(DriverNames(), (std::set<std::string>{"fine"}));
}

TEST_F(ContainerManagerTest, WaitCompletesWhenTheStateIsReached) {
  ASSERT_TRUE(Create("web", true).ok());
  absl::Status already = absl::UnknownError("not called");
  manager_.Wait("web", LiveState::kRunning, [&](absl::Status s) { already = s; });
  EXPECT_TRUE(already.ok());

  absl::Status exited = absl::UnknownError("not called");
  manager_.Wait("web", LiveState::kStopped, [&](absl::Status s) { exited = s; });
  EXPECT_EQ(exited.code(), absl::StatusCode::kUnknown);  // Still waiting.
  ASSERT_TRUE(driver_.SimulateExit("web").ok());
  EXPECT_TRUE(exited.ok());
  EXPECT_EQ(seen_.back().type, EventType::kExited);
}

TEST_F(ContainerManagerTest, WaitEndsWithNotFoundOrTheCancelReason) {
  absl::Status missing;
  manager_.Wait("nope", LiveState::kRunning, [&](absl::Status s) { missing = s; });
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(Create("web").ok());
  absl::Status deleted;
  manager_.Wait("web", LiveState::kRunning, [&](absl::Status s) { deleted = s; });
  ASSERT_TRUE(manager_.Delete("web", false).ok());
  EXPECT_EQ(deleted.code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(Create("db").ok());
  int calls = 0;
  absl::Status cancelled;
  uint64_t id = manager_.Wait("db", LiveState::kRunning, [&](absl::Status s) {
    ++calls;
    cancelled = s;
  });
  manager_.CancelWait(id, absl::CancelledError("client went away"));
  manager_.CancelWait(id, absl::CancelledError("twice"));
  ASSERT_TRUE(manager_.Start("db").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cancelled.message(), "client went away");
}

TEST_F(ContainerManagerTest, CountsByState) {
  ASSERT_TRUE(Create("a", true).ok());
  ASSERT_TRUE(Create("b", true).ok());
  ASSERT_TRUE(manager_.Freeze("b").ok());
  ASSERT_TRUE(Create("c").ok());
  auto counts = manager_.Counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->total, 3u);
  EXPECT_EQ(counts->running, 1u);
  EXPECT_EQ(counts->frozen, 1u);
  EXPECT_EQ(counts->stopped, 1u);
}

// Many clients on overlapping names: whatever interleaving happens, the store and the runtime
// end up agreeing exactly.
TEST_F(ContainerManagerTest, ConcurrentOperationsLeaveStoreAndRuntimeInAgreement) {
  const std::vector<std::string> names = {"n1", "n2", "n3", "n4"};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 300; ++i) {
        const std::string& n = names[rng() % names.size()];
        switch (rng() % 6) {
          case 0:
            (void)Create(n, rng() % 2 == 0);
            break;
          case 1:
            (void)manager_.Start(n);
            break;
          case 2:
            (void)manager_.Stop(n, absl::Seconds(1), rng() % 2 == 0);
            break;
          case 3:
            (void)manager_.Delete(n, rng() % 2 == 0);
            break;
          case 4:
            (void)manager_.Rename(n, names[rng() % names.size()]);
            break;
          case 5:
            (void)manager_.Freeze(n);
            break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(StoreNames(), DriverNames());
  for (const auto& r : Records()) EXPECT_EQ(r.phase, Phase::kReady) << r.name;
}

// --- Config updates ---

std::vector<Event> ConfigEvents(absl::Mutex& mu, const std::vector<Event>& seen) {
  absl::MutexLock lock(&mu);
  std::vector<Event> out;
  for (const Event& e : seen) {
    if (e.type == EventType::kConfigChanged) out.push_back(e);
  }
  return out;
}

TEST_F(ContainerManagerTest, LaunchGivesTheDriverTheConfigsSettings) {
  CreateParams p;
  p.name = "web";
  p.template_name = "busybox";
  p.start = true;
  p.config = {{"limits.memory", "256MiB"}, {"environment.FOO", "bar"}};
  ASSERT_TRUE(manager_.Create(p).ok());
  auto settings = driver_.SettingsOf("web");
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->memory_bytes, int64_t{256} << 20);
  EXPECT_EQ(settings->environment.at("FOO"), "bar");
}

TEST_F(ContainerManagerTest, CreateRefusesBadConfigAndStoresNothing) {
  CreateParams p;
  p.name = "web";
  p.template_name = "busybox";
  p.config = {{"limits.memory", "lots"}};
  auto view = manager_.Create(p);
  EXPECT_EQ(view.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(view.status().message(), HasSubstr("limits.memory"));
  p.config = {{"raw.lxc", "lxc.hook.pre-start = /bin/sh"}};
  EXPECT_EQ(manager_.Create(p).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Records().empty());
  EXPECT_EQ(driver_.CallCount(Op::kCreate), 0);
}

TEST_F(ContainerManagerTest, UpdateConfigOnARunningContainerAppliesLiveThenStores) {
  ASSERT_TRUE(Create("web", true).ok());
  const int64_t revision = store_.Get("web")->revision;
  auto update = manager_.UpdateConfig(
      "web", revision, {{"limits.memory", "512MiB"}, {"limits.processes", "200"}}, {});
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_TRUE(update->notices.empty());
  EXPECT_EQ(update->view.definition.config.at("limits.memory"), "512MiB");
  EXPECT_GT(update->view.definition.revision, revision);
  EXPECT_EQ(store_.Get("web")->config.at("limits.processes"), "200");
  EXPECT_EQ(driver_.CallCount(Op::kApplyLive), 1);
  EXPECT_EQ(driver_.SettingsOf("web")->memory_bytes, int64_t{512} << 20);
  EXPECT_EQ(driver_.SettingsOf("web")->processes, 200);
  auto events = ConfigEvents(seen_mu_, seen_);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].container, "web");
  EXPECT_EQ(events[0].detail, "limits.memory,limits.processes");
}

TEST_F(ContainerManagerTest, UpdateConfigSaysWhatWaitsForTheNextStart) {
  ASSERT_TRUE(Create("web", true).ok());
  auto update =
      manager_.UpdateConfig("web", 0, {{"environment.FOO", "bar"}, {"limits.memory", "1GiB"}}, {});
  ASSERT_TRUE(update.ok()) << update.status();
  ASSERT_EQ(update->notices.size(), 1u);
  EXPECT_THAT(update->notices[0], HasSubstr("environment.FOO takes effect when the container "
                                            "next starts"));
  EXPECT_TRUE(driver_.SettingsOf("web")->environment.empty());  // not live
  ASSERT_TRUE(manager_.Restart("web", absl::Seconds(1), true).ok());
  EXPECT_EQ(driver_.SettingsOf("web")->environment.at("FOO"), "bar");
}

TEST_F(ContainerManagerTest, UpdateConfigOnAStoppedContainerOnlyStores) {
  ASSERT_TRUE(Create("web").ok());
  auto update = manager_.UpdateConfig("web", 0, {{"limits.cpu", "1"}}, {});
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_TRUE(update->notices.empty());
  EXPECT_EQ(driver_.CallCount(Op::kApplyLive), 0);
  ASSERT_TRUE(manager_.Start("web").ok());
  EXPECT_EQ(driver_.SettingsOf("web")->cpuset, "0");
}

TEST_F(ContainerManagerTest, UpdateConfigUnsetsKeys) {
  ASSERT_TRUE(Create("web", true).ok());
  ASSERT_TRUE(
      manager_.UpdateConfig("web", 0, {{"limits.memory", "1GiB"}, {"user.a", "x"}}, {}).ok());
  auto update = manager_.UpdateConfig("web", 0, {}, {"limits.memory", "limits.processes"});
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(store_.Get("web")->config, (std::map<std::string, std::string>{{"user.a", "x"}}));
  EXPECT_FALSE(driver_.SettingsOf("web")->memory_bytes.has_value());
  // An unknown key cannot be unset (a typo should not pass silently).
  EXPECT_EQ(manager_.UpdateConfig("web", 0, {}, {"limits.memroy"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ContainerManagerTest, RefusedUpdatesChangeNothing) {
  ASSERT_TRUE(Create("web", true).ok());
  ASSERT_TRUE(manager_.UpdateConfig("web", 0, {{"limits.memory", "256MiB"}}, {}).ok());
  const storage::ContainerRecord before = *store_.Get("web");
  const int applies = driver_.CallCount(Op::kApplyLive);

  // A bad value: INVALID_ARGUMENT before anything is applied.
  auto bad = manager_.UpdateConfig("web", 0, {{"limits.memory", "256"}}, {});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = manager_.UpdateConfig("web", 0, {{"limits.memory", "1GiB"}, {"x.y", "1"}}, {});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver_.CallCount(Op::kApplyLive), applies);

  // A stale revision: ABORTED.
  auto stale = manager_.UpdateConfig("web", before.revision - 1, {{"limits.memory", "1GiB"}}, {});
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);

  // The kernel refuses: the stored definition stays.
  driver_.FailNext(Op::kApplyLive,
                   absl::FailedPreconditionError("Cannot set memory.limit_in_bytes: busy"));
  auto refused = manager_.UpdateConfig("web", 0, {{"limits.memory", "8MiB"}}, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("unchanged"));
  EXPECT_EQ(driver_.SettingsOf("web")->memory_bytes, int64_t{256} << 20);

  const storage::ContainerRecord after = *store_.Get("web");
  EXPECT_EQ(after.revision, before.revision);
  EXPECT_EQ(after.config, before.config);
  EXPECT_EQ(ConfigEvents(seen_mu_, seen_).size(), 1u);
  EXPECT_EQ(manager_.UpdateConfig("nope", 0, {{"user.a", "b"}}, {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ContainerManagerTest, UpdateConfigWithoutAChangeKeepsTheRevision) {
  ASSERT_TRUE(Create("web").ok());
  ASSERT_TRUE(manager_.UpdateConfig("web", 0, {{"user.a", "b"}}, {}).ok());
  const int64_t revision = store_.Get("web")->revision;
  auto same = manager_.UpdateConfig("web", 0, {{"user.a", "b"}}, {"user.gone"});
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(store_.Get("web")->revision, revision);
  EXPECT_EQ(ConfigEvents(seen_mu_, seen_).size(), 1u);
}

TEST_F(ContainerManagerTest, ConsoleNeedsARunningContainerAndSaysHowToStartIt) {
  ASSERT_TRUE(Create("cold").ok());
  auto console = manager_.AttachConsole("cold", 24, 80);
  EXPECT_EQ(console.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(console.status().message(), HasSubstr("start it with berth start cold"));
  EXPECT_EQ(manager_.AttachConsole("ghost", 24, 80).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_.AttachConsole("-bad", 24, 80).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(Create("web", /*start=*/true).ok());
  EXPECT_EQ(manager_.AttachConsole("web", 70000, 80).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(manager_.Freeze("web").ok());
  console = manager_.AttachConsole("web", 24, 80);
  EXPECT_EQ(console.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(console.status().message(), HasSubstr("berth resume web"));
}

TEST_F(ContainerManagerTest, OneConsoleClientAtATime) {
  ASSERT_TRUE(Create("web", /*start=*/true).ok());
  auto first = manager_.AttachConsole("web", 24, 80);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = manager_.AttachConsole("web", 24, 80);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  first->reset();  // detach
  auto third = manager_.AttachConsole("web", 24, 80);
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(ContainerManagerTest, ConsoleLogIsBoundedAndNeedsAKnownContainer) {
  ASSERT_TRUE(Create("web").ok());
  ASSERT_TRUE(driver_.SetConsoleLog("web", std::string(100, 'x') + "tail").ok());
  auto log = manager_.ReadConsoleLog("web", 4);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->data, "tail");
  EXPECT_TRUE(log->truncated);
  log = manager_.ReadConsoleLog("web", 0);  // the default: all of these 104 bytes
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(log->data.size(), 104u);
  EXPECT_FALSE(log->truncated);
  EXPECT_EQ(manager_.ReadConsoleLog("web", kMaxConsoleLogBytes + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_.ReadConsoleLog("ghost", 0).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace berth::core

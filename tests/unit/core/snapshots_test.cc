// ContainerManager's snapshots and copies with the fake driver and the in-memory store: the
// policy (which state allows what), the store and the runtime kept in step, and nothing left
// behind on failure.

#include <string>
#include <vector>

#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
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
using ::testing::IsEmpty;
using Op = FakeRuntimeDriver::Op;

class SnapshotsTest : public ::testing::Test {
 protected:
  SnapshotsTest() : events_(&clock_), manager_(&store_, &driver_, &clock_, &events_) {
    spdlog::set_level(spdlog::level::warn);
  }

  void Create(const std::string& name, bool start = false) {
    CreateParams p;
    p.name = name;
    p.template_name = "busybox";
    p.labels = {{"tier", "front"}};
    p.config = {{"limits.memory", "256MiB"}};
    p.start = start;
    auto view = manager_.Create(p);
    ASSERT_TRUE(view.ok()) << view.status();
  }

  std::vector<std::string> SnapshotNames(const std::string& name) {
    auto snaps = store_.ListSnapshots(name);
    EXPECT_TRUE(snaps.ok()) << snaps.status();
    std::vector<std::string> names;
    if (snaps.ok()) {
      for (const auto& s : *snaps) names.push_back(s.name);
    }
    return names;
  }

  FakeClock clock_;
  storage::InMemoryStore store_;
  FakeRuntimeDriver driver_;
  EventBus events_;
  ContainerManager manager_;
};

TEST_F(SnapshotsTest, CreateSavesTheDefinitionAndRestorePutsItBack) {
  Create("web");
  auto snap = manager_.CreateSnapshot("web", "s1");
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->config.at("limits.memory"), "256MiB");
  EXPECT_EQ(snap->labels.at("tier"), "front");
  EXPECT_EQ(snap->created_at, clock_.Now());
  EXPECT_THAT(driver_.SnapshotsOf("web"), ElementsAre("s1"));

  ASSERT_TRUE(manager_.UpdateConfig("web", 0, {{"limits.memory", "512MiB"}}, {}).ok());
  ASSERT_TRUE(manager_.UpdateLabels("web", 0, {{"tier", "back"}}).ok());
  auto restored = manager_.RestoreSnapshot("web", "s1", /*restart=*/false);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->definition.config.at("limits.memory"), "256MiB");
  EXPECT_EQ(restored->definition.labels.at("tier"), "front");
  EXPECT_EQ(driver_.RestoresOf("web"), 1);

  ASSERT_TRUE(manager_.DeleteSnapshot("web", "s1").ok());
  EXPECT_THAT(SnapshotNames("web"), IsEmpty());
  EXPECT_THAT(driver_.SnapshotsOf("web"), IsEmpty());
}

TEST_F(SnapshotsTest, RestoreOfARunningContainerNeedsRestart) {
  Create("web", /*start=*/true);
  ASSERT_TRUE(manager_.CreateSnapshot("web", "s1").ok());
  auto refused = manager_.RestoreSnapshot("web", "s1", /*restart=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("--restart"));
  EXPECT_EQ(driver_.RestoresOf("web"), 0);
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);

  auto restarted = manager_.RestoreSnapshot("web", "s1", /*restart=*/true);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(driver_.RestoresOf("web"), 1);
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  ASSERT_TRUE(driver_.LastStopArgs().has_value());
  EXPECT_FALSE(driver_.LastStopArgs()->second) << "a clean stop, not a kill";
}

TEST_F(SnapshotsTest, ErrorsNameWhatIsWrong) {
  EXPECT_EQ(manager_.CreateSnapshot("ghost", "s1").status().code(), absl::StatusCode::kNotFound);
  Create("web");
  for (const char* bad : {"", ".x", "../x", "a/b", "a b", "-x"}) {
    auto s = manager_.CreateSnapshot("web", bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.status().message(), HasSubstr("invalid snapshot name"));
  }
  ASSERT_TRUE(manager_.CreateSnapshot("web", "s1").ok());
  EXPECT_EQ(manager_.CreateSnapshot("web", "s1").status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(manager_.RestoreSnapshot("web", "nope", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_.DeleteSnapshot("web", "nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_.ListSnapshots("ghost").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(SnapshotNames("web"), ElementsAre("s1"));
}

TEST_F(SnapshotsTest, AFailedSnapshotLeavesNoRecord) {
  Create("web");
  driver_.FailNext(Op::kSnapshot, absl::OkStatus());  // the orphan clean-up finds nothing
  driver_.FailNext(Op::kSnapshot, absl::FailedPreconditionError("not enough free space"));
  auto s = manager_.CreateSnapshot("web", "s1");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.status().message(), HasSubstr("not enough free space"));
  EXPECT_THAT(SnapshotNames("web"), IsEmpty());
  EXPECT_THAT(driver_.SnapshotsOf("web"), IsEmpty());
}

TEST_F(SnapshotsTest, RenameCarriesSnapshotsAndDeleteRemovesThem) {
  Create("web");
  ASSERT_TRUE(manager_.CreateSnapshot("web", "s1").ok());
  ASSERT_TRUE(manager_.Rename("web", "web2").ok());
  EXPECT_THAT(SnapshotNames("web2"), ElementsAre("s1"));
  EXPECT_THAT(driver_.SnapshotsOf("web2"), ElementsAre("s1"));
  ASSERT_TRUE(manager_.RestoreSnapshot("web2", "s1", false).ok());
  ASSERT_TRUE(manager_.Delete("web2", false).ok());
  Create("web2");
  EXPECT_THAT(SnapshotNames("web2"), IsEmpty());
}

TEST_F(SnapshotsTest, CopyMakesAStoppedContainerWithTheDefinition) {
  Create("web", /*start=*/true);
  ASSERT_TRUE(manager_.CreateSnapshot("web", "s1").ok());
  auto copy = manager_.Copy("web", "web-test");
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(copy->definition.labels.at("tier"), "front");
  EXPECT_EQ(copy->definition.config.at("limits.memory"), "256MiB");
  EXPECT_EQ(copy->definition.phase, storage::Phase::kReady);
  EXPECT_EQ(driver_.StateOf("web-test"), LiveState::kStopped);
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  EXPECT_THAT(SnapshotNames("web-test"), IsEmpty());

  EXPECT_EQ(manager_.Copy("web", "web-test").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(manager_.Copy("web", "web").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_.Copy("ghost", "g2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(manager_.Copy("web", "bad.name").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SnapshotsTest, AFailedCopyLeavesNothing) {
  Create("web");
  driver_.FailNext(Op::kCopy, absl::FailedPreconditionError("not enough free space"));
  auto copy = manager_.Copy("web", "web2");
  EXPECT_EQ(copy.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_.Get("web2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(driver_.StateOf("web2").has_value());
}

}  // namespace
}  // namespace berth::core

// EventBus with a durable log, and EventFeed: replay, the seam between replay and live events,
// filters and the cutoff of a slow subscriber. In-memory log, fake clock.

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "berth/core/clock.h"
#include "berth/core/event_bus.h"
#include "berth/core/event_feed.h"
#include "berth/storage/in_memory_event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Event Make(EventType type, const std::string& container, std::string detail = {}) {
  Event event;
  event.type = type;
  event.container = container;
  event.detail = std::move(detail);
  return event;
}

// Drains what the feed has now: ids until Next() returns nullopt or an error.
std::vector<uint64_t> Drain(EventFeed& feed, absl::Status* error = nullptr) {
  std::vector<uint64_t> ids;
  while (true) {
    absl::StatusOr<std::optional<Event>> next = feed.Next();
    if (!next.ok()) {
      if (error != nullptr) *error = next.status();
      return ids;
    }
    if (!next->has_value()) return ids;
    ids.push_back((*next)->id);
  }
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> ids;
  for (uint64_t id = first; id <= last; ++id) ids.push_back(id);
  return ids;
}

class EventFeedTest : public ::testing::Test {
 protected:
  EventFeedTest() { spdlog::set_level(spdlog::level::off); }

  void PublishN(int n, EventType type = EventType::kStarted, const std::string& name = "web") {
    for (int i = 0; i < n; ++i) bus_.Publish(Make(type, name));
  }

  FakeClock clock_;
  storage::InMemoryEventLog log_;
  EventBus bus_{&clock_, &log_, {.keep_count = 10000, .max_age = absl::Hours(1), .prune_every = 5}};
};

// ---- EventBus with a log ----

TEST_F(EventFeedTest, PublishStoresEveryEventBeforeDeliveringIt) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  std::vector<bool> stored_when_delivered;
  bus_.Subscribe([&](const Event& e) {
    auto last = log_.LastId();
    stored_when_delivered.push_back(last.ok() && *last == static_cast<int64_t>(e.id));
  });
  Event exited = Make(EventType::kExited, "web");
  exited.state = runtime::LiveState::kStopped;
  exited.exit_code = 3;
  Event published = bus_.Publish(exited);
  bus_.Publish(Make(EventType::kDaemonStarted, ""));
  EXPECT_THAT(stored_when_delivered, ElementsAre(true, true));
  auto stored = log_.ReadAfter(0, 10);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2u);
  Event back = FromStored((*stored)[0]);
  EXPECT_EQ(back.id, published.id);
  EXPECT_EQ(back.type, EventType::kExited);
  EXPECT_EQ(back.state, runtime::LiveState::kStopped);
  EXPECT_EQ(back.exit_code, 3);
  EXPECT_EQ(back.time, clock_.Now());
  EXPECT_FALSE(FromStored((*stored)[1]).state.has_value());
}

TEST_F(EventFeedTest, IdsContinueAfterTheLogsLastIdAcrossRestarts) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  PublishN(3);
  EventBus restarted(&clock_, &log_);
  ASSERT_TRUE(restarted.OpenLog().ok());
  EXPECT_EQ(restarted.Publish(Make(EventType::kDaemonStarted, "")).id, 4u);
}

TEST_F(EventFeedTest, ALogFailureIsLoggedAndTheEventStillDelivered) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  std::vector<uint64_t> delivered;
  bus_.Subscribe([&](const Event& e) { delivered.push_back(e.id); });
  log_.FailWith(absl::InternalError("disk full"));
  PublishN(2);
  log_.FailWith(absl::OkStatus());
  PublishN(1);
  EXPECT_THAT(delivered, ElementsAre(1, 2, 3));
  EXPECT_EQ(*log_.LastId(), 3);
  EXPECT_EQ(log_.ReadAfter(0, 10)->size(), 1u);
}

TEST_F(EventFeedTest, OpenLogFailsWhenTheLogCannotBeRead) {
  log_.FailWith(absl::InternalError("disk gone"));
  absl::Status status = bus_.OpenLog();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr("reading the event log: disk gone"));
}

TEST_F(EventFeedTest, TheLogIsPrunedAtOpenAndEveryFewAppends) {
  PublishN(3);                       // Stored at the fake clock's start.
  clock_.Advance(absl::Hours(2));    // Now older than max_age (1 h).
  EventBus restarted(&clock_, &log_, {.keep_count = 4, .max_age = absl::Hours(1), .prune_every = 5});
  ASSERT_TRUE(restarted.OpenLog().ok());
  EXPECT_EQ(log_.ReadAfter(0, 100)->size(), 1u) << "all but the newest went at open";
  for (int i = 0; i < 5; ++i) restarted.Publish(Make(EventType::kStarted, "web"));
  auto kept = log_.ReadAfter(0, 100);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 4u) << "pruned to keep_count after 5 appends";
  EXPECT_EQ(kept->back().id, 8);
}

// ---- EventFeed ----

TEST_F(EventFeedTest, LiveOnlyFeedSeesOnlyNewEvents) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  PublishN(2);
  EventFeed feed(&bus_, {}, std::nullopt, [] {});
  EXPECT_TRUE(Drain(feed).empty());
  PublishN(2);
  EXPECT_THAT(Drain(feed), ElementsAre(3, 4));
}

TEST_F(EventFeedTest, SinceReplaysStoredEventsThenLiveOnes) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  PublishN(600);  // More than two replay pages.
  EventFeed feed(&bus_, {}, uint64_t{100}, [] {});
  PublishN(5);
  EXPECT_EQ(Drain(feed), Range(101, 605));
  PublishN(1);
  EXPECT_THAT(Drain(feed), ElementsAre(606));
}

TEST_F(EventFeedTest, NotifyFollowsAnEmptyNext) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  int notified = 0;
  EventFeed feed(&bus_, {}, std::nullopt, [&] { ++notified; });
  PublishN(1);
  EXPECT_EQ(notified, 0) << "nobody waits yet";
  EXPECT_THAT(Drain(feed), ElementsAre(1));  // Ends with an empty Next: now waiting.
  PublishN(2);
  EXPECT_EQ(notified, 1) << "once per empty Next";
  feed.Close();
  PublishN(1);
  EXPECT_EQ(notified, 1) << "never after Close";
}

TEST_F(EventFeedTest, TheSeamHasNoGapAndNoDuplicateWhilePublishersRun) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  PublishN(300);
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    for (int i = 0; i < 700 && !stop; ++i) bus_.Publish(Make(EventType::kStarted, "web"));
  });
  std::vector<uint64_t> seen;
  {
    EventFeed feed(&bus_, {}, uint64_t{0}, [] {});
    while (seen.size() < 1000) {
      absl::StatusOr<std::optional<Event>> next = feed.Next();
      ASSERT_TRUE(next.ok()) << next.status();
      if (next->has_value()) {
        seen.push_back((*next)->id);
      } else {
        std::this_thread::yield();  // Busy-polls: the feed is bounded, the test is short.
      }
    }
  }
  stop = true;
  publisher.join();
  EXPECT_EQ(seen, Range(1, 1000));
}

TEST_F(EventFeedTest, FiltersApplyToReplayedAndLiveEvents) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  bus_.Publish(Make(EventType::kStarted, "web"));       // 1
  bus_.Publish(Make(EventType::kStarted, "db"));        // 2
  bus_.Publish(Make(EventType::kOperation, "web"));     // 3
  bus_.Publish(Make(EventType::kDaemonStarted, ""));    // 4
  EventFilter filter{.types = {EventType::kStarted, EventType::kDaemonStarted},
                     .containers = {"web"}};
  EventFeed feed(&bus_, filter, uint64_t{0}, [] {});
  bus_.Publish(Make(EventType::kStarted, "web"));       // 5
  bus_.Publish(Make(EventType::kStopped, "web"));       // 6
  EXPECT_THAT(Drain(feed), ElementsAre(1, 5));
  EventFeed daemon_only(&bus_, {.types = {EventType::kDaemonStarted}, .containers = {}},
                        uint64_t{0}, [] {});
  EXPECT_THAT(Drain(daemon_only), ElementsAre(4));
}

TEST_F(EventFeedTest, ASlowSubscriberIsCutOffNamingWhereToResume) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  int notified = 0;
  EventFeed feed(&bus_, {}, std::nullopt, [&] { ++notified; }, /*max_backlog=*/8);
  PublishN(3);
  EXPECT_THAT(Drain(feed), ElementsAre(1, 2, 3));
  PublishN(8);  // 4..11: a full backlog is still fine.
  absl::StatusOr<std::optional<Event>> next = feed.Next();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)->id, 4u);
  PublishN(2);  // 12, 13: the backlog (5..12) overflows at 13.
  absl::Status error;
  EXPECT_TRUE(Drain(feed, &error).empty());
  EXPECT_EQ(error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(error.message()), HasSubstr("more than 8 events behind"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("since=4"));
  // Resuming from there loses nothing.
  EventFeed resumed(&bus_, {}, uint64_t{4}, [] {});
  EXPECT_EQ(Drain(resumed), Range(5, 13));
}

TEST_F(EventFeedTest, AWaitingSubscriberIsToldOfTheCutoff) {
  ASSERT_TRUE(bus_.OpenLog().ok());
  int notified = 0;
  EventFeed feed(&bus_, {}, std::nullopt, [&] { ++notified; }, /*max_backlog=*/2);
  EXPECT_TRUE(Drain(feed).empty());
  PublishN(3);
  EXPECT_EQ(notified, 1);
  absl::Status error;
  Drain(feed, &error);
  EXPECT_EQ(error.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(error.message()), HasSubstr("since=0"));
}

TEST_F(EventFeedTest, AFeedWithoutALogIsLiveOnly) {
  EventBus bus(&clock_);
  bus.Publish(Make(EventType::kStarted, "web"));
  EventFeed feed(&bus, {}, uint64_t{0}, [] {});
  bus.Publish(Make(EventType::kStarted, "web"));
  EXPECT_THAT(Drain(feed), ElementsAre(2));
}

}  // namespace
}  // namespace berth::core

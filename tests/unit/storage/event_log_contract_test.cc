// The EventLog contract, run against SqliteEventLog (the events table of a fresh database in a
// temp dir) and InMemoryEventLog, so that the twin the core's tests use cannot drift from the
// real log.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "berth/storage/event_log.h"
#include "berth/storage/in_memory_event_log.h"
#include "berth/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "status_testing.h"
#include "test_files.h"

namespace berth::storage {
namespace {

using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class InMemoryEventLogFactory {
 public:
  static constexpr const char* kName = "InMemoryEventLog";
  EventLog* Make() {
    log_ = std::make_unique<InMemoryEventLog>();
    return log_.get();
  }
  // Nothing survives an in-memory log: the same object stands in for a reopened one.
  EventLog* Reopen() { return log_.get(); }

 private:
  std::unique_ptr<InMemoryEventLog> log_;
};

class SqliteEventLogFactory {
 public:
  static constexpr const char* kName = "SqliteEventLog";
  EventLog* Make() { return Reopen(); }
  // Closes the database and opens it again, as a restarted berthd does.
  EventLog* Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir_.File("berth.db"));
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return nullptr;
    store_ = *std::move(store);
    return &store_->events();
  }

 private:
  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

struct FactoryName {
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};

template <typename Factory>
class EventLogContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = factory_.Make();
    ASSERT_NE(log_, nullptr);
  }

  EventLog& log() { return *log_; }

  Factory factory_;
  EventLog* log_ = nullptr;
};

using LogFactories = ::testing::Types<InMemoryEventLogFactory, SqliteEventLogFactory>;
TYPED_TEST_SUITE(EventLogContractTest, LogFactories, FactoryName);

const absl::Time kT0 = absl::FromUnixNanos(1'700'000'000'123'456'789);

StoredEvent MakeEvent(int64_t id, absl::Time time = kT0) {
  StoredEvent event;
  event.id = id;
  event.time = time;
  event.type = 2;
  event.container = "web";
  event.state = 3;
  event.detail = "detail " + std::to_string(id);
  return event;
}

std::vector<int64_t> Ids(const std::vector<StoredEvent>& events) {
  std::vector<int64_t> ids;
  for (const StoredEvent& e : events) ids.push_back(e.id);
  return ids;
}

TYPED_TEST(EventLogContractTest, AnEmptyLogHasLastIdZeroAndNothingToRead) {
  EXPECT_THAT(this->log().LastId(), testing::IsOkAndHolds(0));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 10));
  EXPECT_THAT(events, IsEmpty());
}

TYPED_TEST(EventLogContractTest, AppendedEventsReadBackExactlyInIdOrder) {
  StoredEvent daemon = MakeEvent(1);
  daemon.container = "";
  daemon.state.reset();
  daemon.type = 13;
  StoredEvent exited = MakeEvent(2, kT0 + absl::Seconds(1));
  exited.exit_code = 137;
  exited.detail = "with \"quotes\" and\nnewline";
  ASSERT_OK(this->log().Append(daemon));
  ASSERT_OK(this->log().Append(exited));
  ASSERT_OK(this->log().Append(MakeEvent(5)));  // Gaps are allowed (a failed append).
  EXPECT_THAT(this->log().LastId(), testing::IsOkAndHolds(5));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 10));
  EXPECT_THAT(events, ElementsAre(daemon, exited, MakeEvent(5)));
}

TYPED_TEST(EventLogContractTest, ReadAfterPagesByIdAndLimit) {
  for (int64_t id = 1; id <= 10; ++id) ASSERT_OK(this->log().Append(MakeEvent(id)));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> first, this->log().ReadAfter(0, 4));
  EXPECT_EQ(Ids(first), (std::vector<int64_t>{1, 2, 3, 4}));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> next, this->log().ReadAfter(4, 4));
  EXPECT_EQ(Ids(next), (std::vector<int64_t>{5, 6, 7, 8}));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> last, this->log().ReadAfter(8, 4));
  EXPECT_EQ(Ids(last), (std::vector<int64_t>{9, 10}));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> none, this->log().ReadAfter(10, 4));
  EXPECT_THAT(none, IsEmpty());
}

TYPED_TEST(EventLogContractTest, IdsMustIncrease) {
  ASSERT_OK(this->log().Append(MakeEvent(3)));
  EXPECT_THAT(this->log().Append(MakeEvent(3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("event id 3 is not above the log's last id 3")));
  EXPECT_THAT(this->log().Append(MakeEvent(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only increase")));
  EXPECT_THAT(this->log().Append(MakeEvent(0)), StatusIs(absl::StatusCode::kInvalidArgument,
                                                         HasSubstr("event id 0")));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 10));
  EXPECT_EQ(Ids(events), (std::vector<int64_t>{3}));
}

TYPED_TEST(EventLogContractTest, AnUnstorableTimeIsRefused) {
  EXPECT_THAT(this->log().Append(MakeEvent(1, absl::InfiniteFuture())),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be stored")));
  EXPECT_THAT(this->log().LastId(), testing::IsOkAndHolds(0));
}

TYPED_TEST(EventLogContractTest, TimesKeepWholeNanoseconds) {
  ASSERT_OK(this->log().Append(MakeEvent(1, kT0 + absl::Nanoseconds(0.75))));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 1));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].time, kT0);
}

TYPED_TEST(EventLogContractTest, PruneKeepsTheNewestCount) {
  for (int64_t id = 1; id <= 10; ++id) ASSERT_OK(this->log().Append(MakeEvent(id)));
  EXPECT_THAT(this->log().Prune(3, absl::InfiniteDuration(), kT0), testing::IsOkAndHolds(7));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 100));
  EXPECT_EQ(Ids(events), (std::vector<int64_t>{8, 9, 10}));
  EXPECT_THAT(this->log().Prune(3, absl::InfiniteDuration(), kT0), testing::IsOkAndHolds(0));
}

TYPED_TEST(EventLogContractTest, PruneDropsOldEventsButNeverTheNewest) {
  for (int64_t id = 1; id <= 4; ++id) {
    ASSERT_OK(this->log().Append(MakeEvent(id, kT0 + absl::Hours(id))));
  }
  // Older than now - 2h = kT0 + 2h: events 1 (kT0+1h) goes; 2 (exactly the cutoff) stays.
  EXPECT_THAT(this->log().Prune(100, absl::Hours(2), kT0 + absl::Hours(4)),
              testing::IsOkAndHolds(1));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, this->log().ReadAfter(0, 100));
  EXPECT_EQ(Ids(events), (std::vector<int64_t>{2, 3, 4}));
  // Everything is old: all but the newest go, so LastId (the next daemon's numbering) stays.
  EXPECT_THAT(this->log().Prune(100, absl::Hours(1), kT0 + absl::Hours(100)),
              testing::IsOkAndHolds(2));
  EXPECT_THAT(this->log().LastId(), testing::IsOkAndHolds(4));
  // A keep count below 1 still keeps the newest.
  EXPECT_THAT(this->log().Prune(0, absl::InfiniteDuration(), kT0), testing::IsOkAndHolds(0));
  EXPECT_THAT(this->log().LastId(), testing::IsOkAndHolds(4));
}

TYPED_TEST(EventLogContractTest, EventsSurviveReopening) {
  for (int64_t id = 1; id <= 3; ++id) ASSERT_OK(this->log().Append(MakeEvent(id)));
  EventLog* reopened = this->factory_.Reopen();
  ASSERT_NE(reopened, nullptr);
  EXPECT_THAT(reopened->LastId(), testing::IsOkAndHolds(3));
  ASSERT_OK_AND_ASSIGN(std::vector<StoredEvent> events, reopened->ReadAfter(1, 10));
  EXPECT_EQ(Ids(events), (std::vector<int64_t>{2, 3}));
  EXPECT_THAT(reopened->Append(MakeEvent(3)), StatusIs(absl::StatusCode::kInvalidArgument,
                                                       HasSubstr("only increase")));
}

}  // namespace
}  // namespace berth::storage

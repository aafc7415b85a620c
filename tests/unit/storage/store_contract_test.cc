// The ContainerStore contract, run against every implementation: SqliteStore (a fresh file in a
// temp dir) and InMemoryStore. A behaviour the daemon relies on belongs here, so that the
// in-memory twin the core's tests use cannot drift from the real store.

#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "berth/storage/container_store.h"
#include "berth/storage/in_memory_store.h"
#include "berth/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "status_testing.h"
#include "test_files.h"

namespace berth::storage {
namespace {

using ::berth::storage::testing::IsOkAndHolds;
using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- Implementations under test ----

class InMemoryStoreFactory {
 public:
  static constexpr const char* kName = "InMemoryStore";
  std::unique_ptr<ContainerStore> Make() { return std::make_unique<InMemoryStore>(); }
};

class SqliteStoreFactory {
 public:
  static constexpr const char* kName = "SqliteStore";
  std::unique_ptr<ContainerStore> Make() {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir_.File("berth.db"));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

 private:
  TempDir dir_;
};

struct FactoryName {
  template <typename Factory>
  static std::string GetName(int) {
    return Factory::kName;
  }
};

template <typename Factory>
class ContainerStoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Make();
    ASSERT_NE(store_, nullptr);
  }

  ContainerStore& store() { return *store_; }

  Factory factory_;
  std::unique_ptr<ContainerStore> store_;
};

using StoreFactories = ::testing::Types<InMemoryStoreFactory, SqliteStoreFactory>;
TYPED_TEST_SUITE(ContainerStoreContractTest, StoreFactories, FactoryName);

// ---- Records ----

constexpr int64_t kCreatedNs = 1'700'000'000'123'456'789;

ContainerRecord MakeRecord(std::string name) {
  ContainerRecord record;
  record.name = std::move(name);
  record.source_kind = "template";
  record.source_name = "busybox";
  record.source_args = {"--arch", "amd64"};
  record.config = {{"lxc.net.0.type", "veth"}, {"limits.memory", "256MiB"}};
  record.labels = {{"tier", "front"}};
  record.phase = Phase::kCreating;
  record.phase_detail = "";
  record.created_at = absl::FromUnixNanos(kCreatedNs);
  record.updated_at = absl::FromUnixNanos(kCreatedNs + 1);
  return record;
}

// `record` as a store hands it back after Create: revision 1.
ContainerRecord AsCreated(ContainerRecord record) {
  record.revision = 1;
  return record;
}

// ---- Create and Get ----

TYPED_TEST(ContainerStoreContractTest, CreateStoresRevisionOneAndGetReturnsIt) {
  ContainerRecord record = MakeRecord("web");
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
  EXPECT_EQ(created, AsCreated(record));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, created);
}

TYPED_TEST(ContainerStoreContractTest, CreateIgnoresTheGivenRevision) {
  ContainerRecord record = MakeRecord("web");
  record.revision = 42;
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
  EXPECT_EQ(created.revision, 1);
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got.revision, 1);
}

TYPED_TEST(ContainerStoreContractTest, CreateOfATakenNameIsAlreadyExistsAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord first, this->store().Create(MakeRecord("web")));
  ContainerRecord second = MakeRecord("web");
  second.source_name = "alpine";
  second.labels = {};
  EXPECT_THAT(this->store().Create(second),
              StatusIs(absl::StatusCode::kAlreadyExists, "container \"web\" already exists"));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, first);
}

TYPED_TEST(ContainerStoreContractTest, GetOfAMissingNameIsNotFound) {
  EXPECT_THAT(this->store().Get("web"),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" not found"));
}

TYPED_TEST(ContainerStoreContractTest, NamesAreExactNotCaseFolded) {
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  EXPECT_THAT(this->store().Get("Web"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("Web")));
  EXPECT_THAT(this->store().Get("web "), StatusIs(absl::StatusCode::kNotFound, HasSubstr("web ")));
  ASSERT_OK(this->store().Create(MakeRecord("WEB")));
}

// ---- List ----

TYPED_TEST(ContainerStoreContractTest, ListOfAnEmptyStoreIsEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  EXPECT_THAT(all, IsEmpty());
}

TYPED_TEST(ContainerStoreContractTest, ListReturnsWholeRecordsOrderedByNameBytes) {
  // Byte order: uppercase before lowercase, '-' before digits, UTF-8 after ASCII.
  const std::vector<std::string> names = {
      "web", "b", "db-2", "B", "db10", "db1", "\xC3\xA9t\xC3\xA9", "a"};
  for (const std::string& name : names) {
    ContainerRecord record = MakeRecord(name);
    record.labels = {{"name", name}};
    record.source_args = {name, "x"};
    ASSERT_OK(this->store().Create(record));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  std::vector<std::string> listed;
  for (const ContainerRecord& record : all) {
    listed.push_back(record.name);
    ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get(record.name));
    EXPECT_EQ(record, got);
    EXPECT_EQ(record.labels.at("name"), record.name);
    EXPECT_THAT(record.source_args, ElementsAre(record.name, "x"));
  }
  EXPECT_THAT(listed,
              ElementsAre("B", "a", "b", "db-2", "db1", "db10", "web", "\xC3\xA9t\xC3\xA9"));
}

// ---- Update ----

TYPED_TEST(ContainerStoreContractTest, UpdateReplacesTheRecordAndBumpsTheRevision) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ContainerRecord changed = created;
  changed.revision = 99;  // Ignored.
  changed.source_args = {"--release", "1.36"};
  changed.config = {{"limits.memory", "1GiB"}, {"limits.cpu", "2"}};
  changed.labels = {{"tier", "back"}, {"owner", "ops"}};
  changed.phase = Phase::kReady;
  changed.phase_detail = "started once";
  changed.updated_at = created.updated_at + absl::Seconds(5);
  ASSERT_OK_AND_ASSIGN(ContainerRecord updated, this->store().Update("web", changed, 1));
  ContainerRecord expected = changed;
  expected.revision = 2;
  EXPECT_EQ(updated, expected);
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, expected);

  ASSERT_OK_AND_ASSIGN(ContainerRecord again, this->store().Update("web", changed, 2));
  EXPECT_EQ(again.revision, 3);
}

TYPED_TEST(ContainerStoreContractTest, UpdateCanEmptyMapsAndArgs) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ContainerRecord changed = created;
  changed.config.clear();
  changed.labels.clear();
  changed.source_args.clear();
  ASSERT_OK(this->store().Update("web", changed, 1));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_THAT(got.config, IsEmpty());
  EXPECT_THAT(got.labels, IsEmpty());
  EXPECT_THAT(got.source_args, IsEmpty());
}

TYPED_TEST(ContainerStoreContractTest, UpdateWithAStaleRevisionIsAbortedAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ASSERT_OK_AND_ASSIGN(ContainerRecord updated, this->store().Update("web", created, 1));
  ContainerRecord changed = updated;
  changed.source_name = "alpine";
  EXPECT_THAT(this->store().Update("web", changed, 1),
              StatusIs(absl::StatusCode::kAborted,
                       "container \"web\" is at revision 2, not the expected revision 1"));
  EXPECT_THAT(this->store().Update("web", changed, 3),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("expected revision 3")));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, updated);
}

TYPED_TEST(ContainerStoreContractTest, UpdateOfAMissingNameIsNotFound) {
  EXPECT_THAT(this->store().Update("web", MakeRecord("web"), 1),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" not found"));
  // A rename of a missing container does not create the new name.
  EXPECT_THAT(this->store().Update("web", MakeRecord("www"), 1),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" not found"));
  EXPECT_THAT(this->store().Get("www"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("www")));
}

TYPED_TEST(ContainerStoreContractTest, TheRevisionIsCheckedBeforeTheNewName) {
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().Create(MakeRecord("db")));
  // Stale revision and a taken new name: the revision is checked first.
  EXPECT_THAT(this->store().Update("web", MakeRecord("db"), 7),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("\"web\"")));
}

// ---- Rename ----

TYPED_TEST(ContainerStoreContractTest, UpdateWithANewNameRenamesAndTheChildrenFollow) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ContainerRecord renamed = created;
  renamed.name = "www";
  renamed.phase = Phase::kRenaming;
  renamed.phase_detail = "web";
  ASSERT_OK_AND_ASSIGN(ContainerRecord updated, this->store().Update("web", renamed, 1));
  EXPECT_EQ(updated.name, "www");
  EXPECT_EQ(updated.revision, 2);

  EXPECT_THAT(this->store().Get("web"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("web")));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("www"));
  EXPECT_EQ(got, updated);
  EXPECT_EQ(got.config, created.config);
  EXPECT_EQ(got.labels, created.labels);
  EXPECT_EQ(got.source_args, created.source_args);
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  EXPECT_THAT(all, ElementsAre(updated));

  // The old name is free again, with no leftovers.
  ContainerRecord bare = MakeRecord("web");
  bare.config.clear();
  bare.labels.clear();
  bare.source_args.clear();
  ASSERT_OK_AND_ASSIGN(ContainerRecord reused, this->store().Create(bare));
  EXPECT_EQ(reused, AsCreated(bare));
}

TYPED_TEST(ContainerStoreContractTest, RenameWithChangedChildrenStoresTheNewChildren) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ContainerRecord renamed = created;
  renamed.name = "www";
  renamed.config["extra"] = "1";
  renamed.labels.clear();
  renamed.source_args.push_back("--flavor");
  ASSERT_OK_AND_ASSIGN(ContainerRecord updated, this->store().Update("web", renamed, 1));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("www"));
  EXPECT_EQ(got, updated);
  EXPECT_EQ(got.config.at("extra"), "1");
  EXPECT_THAT(got.labels, IsEmpty());
  EXPECT_THAT(got.source_args, ElementsAre("--arch", "amd64", "--flavor"));
}

TYPED_TEST(ContainerStoreContractTest, RenameOntoATakenNameIsAlreadyExistsAndChangesNothing) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord web, this->store().Create(MakeRecord("web")));
  ContainerRecord db_record = MakeRecord("db");
  db_record.labels = {{"tier", "data"}};
  ASSERT_OK_AND_ASSIGN(ContainerRecord db, this->store().Create(db_record));
  ContainerRecord renamed = web;
  renamed.name = "db";
  EXPECT_THAT(this->store().Update("web", renamed, 1),
              StatusIs(absl::StatusCode::kAlreadyExists, "container \"db\" already exists"));
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  EXPECT_THAT(all, ElementsAre(db, web));
}

// ---- Delete ----

TYPED_TEST(ContainerStoreContractTest, DeleteRemovesTheRecord) {
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().Create(MakeRecord("db")));
  ASSERT_OK(this->store().Delete("web", 1));
  EXPECT_THAT(this->store().Get("web"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("web")));
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name, "db");
}

TYPED_TEST(ContainerStoreContractTest, DeleteWithAStaleRevisionIsAbortedAndKeepsTheRecord) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ASSERT_OK_AND_ASSIGN(ContainerRecord updated, this->store().Update("web", created, 1));
  EXPECT_THAT(this->store().Delete("web", 1),
              StatusIs(absl::StatusCode::kAborted,
                       "container \"web\" is at revision 2, not the expected revision 1"));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, updated);
  ASSERT_OK(this->store().Delete("web", 2));
}

TYPED_TEST(ContainerStoreContractTest, DeleteOfAMissingNameIsNotFound) {
  EXPECT_THAT(this->store().Delete("web", 1),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" not found"));
}

TYPED_TEST(ContainerStoreContractTest, RecreatingADeletedNameStartsAfresh) {
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().Delete("web", 1));
  ContainerRecord bare = MakeRecord("web");
  bare.config.clear();
  bare.labels.clear();
  bare.source_args.clear();
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(bare));
  EXPECT_EQ(created, AsCreated(bare));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, AsCreated(bare));
}

// ---- Values ----

TYPED_TEST(ContainerStoreContractTest, TimestampsRoundTripWithNanosecondPrecision) {
  const std::vector<absl::Time> times = {
      absl::UnixEpoch(),
      absl::FromUnixNanos(1),
      absl::FromUnixNanos(kCreatedNs),
      absl::FromUnixNanos(-1),                       // Before the epoch.
      absl::FromUnixNanos(-86'400'000'000'000'123),  // 1969-12-31, with nanoseconds.
      absl::FromUnixNanos(std::numeric_limits<int64_t>::max()),
      absl::FromUnixNanos(std::numeric_limits<int64_t>::min()),
  };
  int i = 0;
  for (absl::Time time : times) {
    ContainerRecord record = MakeRecord(absl::StrCat("c", i++));
    record.created_at = time;
    record.updated_at = time;
    ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
    ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get(record.name));
    EXPECT_EQ(got.created_at, time) << absl::FormatTime(time);
    EXPECT_EQ(got.updated_at, time) << absl::FormatTime(time);
    EXPECT_EQ(created, got);
  }
}

TYPED_TEST(ContainerStoreContractTest, SubNanosecondPartsAreDroppedTowardThePast) {
  ContainerRecord record = MakeRecord("web");
  record.created_at = absl::FromUnixNanos(kCreatedNs) + absl::Nanoseconds(1) / 4;
  record.updated_at = absl::FromUnixNanos(-5) - absl::Nanoseconds(1) / 4;
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
  EXPECT_EQ(created.created_at, absl::FromUnixNanos(kCreatedNs));
  EXPECT_EQ(created.updated_at, absl::FromUnixNanos(-6));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, created);
}

TYPED_TEST(ContainerStoreContractTest, UnstorableTimestampsAreInvalidArgument) {
  for (absl::Time time :
       {absl::InfiniteFuture(), absl::InfinitePast(),
        absl::FromUnixNanos(std::numeric_limits<int64_t>::max()) + absl::Nanoseconds(1)}) {
    ContainerRecord record = MakeRecord("web");
    record.updated_at = time;
    EXPECT_THAT(this->store().Create(record),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be stored")));
  }
  EXPECT_THAT(this->store().Get("web"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("web")));

  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  ContainerRecord changed = created;
  changed.created_at = absl::InfinitePast();
  EXPECT_THAT(this->store().Update("web", changed, 1),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("cannot be stored")));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, created);
}

TYPED_TEST(ContainerStoreContractTest, MapsAndArgsRoundTripExactly) {
  ContainerRecord record = MakeRecord("web");
  record.config = {
      {"", "empty key"},
      {"empty value", ""},
      {"multi.line", "first\nsecond\r\nthird"},
      {"quotes", "it's \"quoted\"; DROP TABLE containers; --"},
      {"unicode", "\xE2\x9C\x93 \xF0\x9F\x90\xB3"},
      {"nul", std::string("a\0b", 3)},
  };
  for (int i = 0; i < 100; ++i) record.labels[absl::StrCat("label-", i)] = absl::StrCat(i * i);
  // Order and duplicates are kept.
  record.source_args = {"z", "a", "", "a", "--opt=value with spaces", "\t"};
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
  EXPECT_EQ(created, AsCreated(record));
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, AsCreated(record));
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  EXPECT_THAT(all, ElementsAre(AsCreated(record)));
}

TYPED_TEST(ContainerStoreContractTest, EveryPhaseRoundTrips) {
  for (Phase phase : {Phase::kReady, Phase::kCreating, Phase::kDeleting, Phase::kRenaming}) {
    ContainerRecord record = MakeRecord(absl::StrCat("c", static_cast<int>(phase)));
    record.phase = phase;
    record.phase_detail = absl::StrCat("detail ", static_cast<int>(phase));
    ASSERT_OK(this->store().Create(record));
    ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get(record.name));
    EXPECT_EQ(got.phase, phase);
    EXPECT_EQ(got.phase_detail, record.phase_detail);
  }
}

TYPED_TEST(ContainerStoreContractTest, ReturnedRecordsAreCopies) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  created.labels["changed"] = "yes";
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  got.config.clear();
  ASSERT_OK_AND_ASSIGN(ContainerRecord again, this->store().Get("web"));
  EXPECT_EQ(again, AsCreated(MakeRecord("web")));
}

// ---- Concurrency ----

constexpr int kThreads = 8;

// Runs `body(i)` on kThreads threads released together.
template <typename Body>
void RunTogether(Body body) {
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&go, &body, i] {
      go.WaitForNotification();
      body(i);
    });
  }
  go.Notify();
  for (std::thread& thread : threads) thread.join();
}

TYPED_TEST(ContainerStoreContractTest, ConcurrentCreatesOfOneNameHaveExactlyOneWinner) {
  std::atomic<int> created{0};
  std::atomic<int> already_exists{0};
  std::atomic<int> winner{-1};
  RunTogether([&](int i) {
    ContainerRecord record = MakeRecord("web");
    record.source_name = absl::StrCat("image-", i);
    absl::StatusOr<ContainerRecord> result = this->store().Create(record);
    if (result.ok()) {
      ++created;
      winner = i;
    } else if (result.status().code() == absl::StatusCode::kAlreadyExists) {
      ++already_exists;
    } else {
      ADD_FAILURE() << result.status();
    }
  });
  EXPECT_EQ(created, 1);
  EXPECT_EQ(already_exists, kThreads - 1);
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got.source_name, absl::StrCat("image-", winner.load()));
  EXPECT_EQ(got.revision, 1);
}

TYPED_TEST(ContainerStoreContractTest, ConcurrentUpdatesFromOneRevisionHaveExactlyOneWinner) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(MakeRecord("web")));
  std::atomic<int> updated{0};
  std::atomic<int> aborted{0};
  RunTogether([&](int i) {
    ContainerRecord changed = created;
    changed.phase_detail = absl::StrCat("writer ", i);
    absl::StatusOr<ContainerRecord> result = this->store().Update("web", changed, 1);
    if (result.ok()) {
      ++updated;
    } else if (result.status().code() == absl::StatusCode::kAborted) {
      ++aborted;
    } else {
      ADD_FAILURE() << result.status();
    }
  });
  EXPECT_EQ(updated, 1);
  EXPECT_EQ(aborted, kThreads - 1);
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got.revision, 2);
}

TYPED_TEST(ContainerStoreContractTest, ConcurrentCreatesOfDistinctNamesAllSucceed) {
  RunTogether([&](int i) {
    for (int j = 0; j < 10; ++j) {
      EXPECT_OK(this->store().Create(MakeRecord(absl::StrCat("c", i, "-", j))));
      EXPECT_OK(this->store().List());
    }
  });
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * 10));
  EXPECT_TRUE(std::is_sorted(
      all.begin(), all.end(),
      [](const ContainerRecord& a, const ContainerRecord& b) { return a.name < b.name; }));
}

// ---- Snapshots ----

SnapshotRecord MakeSnapshot(std::string container, std::string name, int64_t at_ns) {
  SnapshotRecord snap;
  snap.container = std::move(container);
  snap.name = std::move(name);
  // Any bytes round-trip, including the encoding's own separators.
  snap.config = {{"limits.memory", "256MiB"}, {"raw.lxc", "a:1\n2:b=c"}, {"", ""}};
  snap.labels = {{"tier", "3:front"}};
  snap.created_at = absl::FromUnixNanos(at_ns);
  return snap;
}

TYPED_TEST(ContainerStoreContractTest, SnapshotsRoundTripOldestFirst) {
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().CreateSnapshot(MakeSnapshot("web", "b", kCreatedNs + 2)));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord a,
                       this->store().CreateSnapshot(MakeSnapshot("web", "a", kCreatedNs + 5)));
  EXPECT_EQ(a, MakeSnapshot("web", "a", kCreatedNs + 5));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord got, this->store().GetSnapshot("web", "a"));
  EXPECT_EQ(got, a);
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> all, this->store().ListSnapshots("web"));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "b");
  EXPECT_EQ(all[1].name, "a");
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> none, this->store().ListSnapshots("db"));
  EXPECT_THAT(none, IsEmpty());
}

TYPED_TEST(ContainerStoreContractTest, SnapshotErrors) {
  EXPECT_THAT(this->store().CreateSnapshot(MakeSnapshot("web", "a", kCreatedNs)),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" not found"));
  ASSERT_OK(this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().CreateSnapshot(MakeSnapshot("web", "a", kCreatedNs)));
  EXPECT_THAT(this->store().CreateSnapshot(MakeSnapshot("web", "a", kCreatedNs + 1)),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "container \"web\" already has a snapshot \"a\""));
  EXPECT_THAT(this->store().GetSnapshot("web", "b"),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" has no snapshot \"b\""));
  EXPECT_THAT(this->store().DeleteSnapshot("web", "b"),
              StatusIs(absl::StatusCode::kNotFound, "container \"web\" has no snapshot \"b\""));
  ASSERT_OK(this->store().DeleteSnapshot("web", "a"));
  EXPECT_THAT(this->store().GetSnapshot("web", "a"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TYPED_TEST(ContainerStoreContractTest, SnapshotsFollowRenameAndGoWithDelete) {
  ASSERT_OK_AND_ASSIGN(ContainerRecord web, this->store().Create(MakeRecord("web")));
  ASSERT_OK(this->store().CreateSnapshot(MakeSnapshot("web", "a", kCreatedNs)));
  ContainerRecord renamed = web;
  renamed.name = "web2";
  ASSERT_OK_AND_ASSIGN(ContainerRecord stored, this->store().Update("web", renamed, 1));
  ASSERT_OK_AND_ASSIGN(SnapshotRecord moved, this->store().GetSnapshot("web2", "a"));
  EXPECT_EQ(moved.container, "web2");
  EXPECT_THAT(this->store().GetSnapshot("web", "a"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  ASSERT_OK(this->store().Delete("web2", stored.revision));
  // A new container of the old name starts without snapshots.
  ASSERT_OK(this->store().Create(MakeRecord("web2")));
  ASSERT_OK_AND_ASSIGN(std::vector<SnapshotRecord> none, this->store().ListSnapshots("web2"));
  EXPECT_THAT(none, IsEmpty());
}

// ---- Profiles and devices ----

ProfileRecord MakeProfile(std::string name) {
  ProfileRecord profile;
  profile.name = std::move(name);
  profile.description = "small box";
  profile.config = {{"limits.cpu", "1"}};
  profile.devices = {{"data", Device{"disk", {{"source", "/srv"}, {"path", "/data"}}}}};
  profile.created_at = absl::FromUnixNanos(kCreatedNs);
  profile.updated_at = absl::FromUnixNanos(kCreatedNs);
  return profile;
}

TYPED_TEST(ContainerStoreContractTest, TheDefaultProfileIsThereFromTheStart) {
  ASSERT_OK_AND_ASSIGN(ProfileRecord profile, this->store().GetProfile(kDefaultProfile));
  EXPECT_EQ(profile.revision, 1);
  EXPECT_TRUE(profile.config.empty());
  EXPECT_TRUE(profile.devices.empty());
}

TYPED_TEST(ContainerStoreContractTest, ProfilesAndDevicesRoundTripInOrder) {
  ASSERT_OK(this->store().CreateProfile(MakeProfile("small")).status());
  EXPECT_THAT(this->store().CreateProfile(MakeProfile("small")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("\"small\"")));
  ContainerRecord record = MakeRecord("web");
  record.profiles = {"small", "default"};
  record.devices = {{"eth1", Device{"nic", {{"network", "br0"}}}},
                    {"data", Device{"disk", {{"source", "/a"}, {"path", "/b"}}}}};
  ASSERT_OK(this->store().Create(record).status());
  ASSERT_OK_AND_ASSIGN(ContainerRecord got, this->store().Get("web"));
  EXPECT_EQ(got, AsCreated(record));
  ASSERT_OK_AND_ASSIGN(std::vector<ContainerRecord> all, this->store().List());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], AsCreated(record));
  ASSERT_OK_AND_ASSIGN(ProfileRecord profile, this->store().GetProfile("small"));
  ProfileRecord expected = MakeProfile("small");
  expected.revision = 1;
  EXPECT_EQ(profile, expected);
  EXPECT_THAT(this->store().ProfileUsers("small"), IsOkAndHolds(ElementsAre("web")));

  // A rename carries the profiles and devices along.
  ContainerRecord renamed = got;
  renamed.name = "web2";
  renamed.devices.erase("eth1");
  ASSERT_OK(this->store().Update("web", renamed, got.revision).status());
  ASSERT_OK_AND_ASSIGN(ContainerRecord after, this->store().Get("web2"));
  EXPECT_EQ(after.profiles, record.profiles);
  EXPECT_EQ(after.devices.size(), 1u);
  EXPECT_THAT(this->store().ProfileUsers("small"), IsOkAndHolds(ElementsAre("web2")));
}

TYPED_TEST(ContainerStoreContractTest, AnUnknownOrRepeatedProfileIsRefused) {
  ContainerRecord record = MakeRecord("web");
  record.profiles = {"default", "nope"};
  EXPECT_THAT(this->store().Create(record),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"nope\"")));
  EXPECT_THAT(this->store().Get("web"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  record.profiles = {"default"};
  ASSERT_OK_AND_ASSIGN(ContainerRecord created, this->store().Create(record));
  ContainerRecord updated = created;
  updated.profiles = {"default", "default"};
  EXPECT_THAT(this->store().Update("web", updated, created.revision),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  updated.profiles = {"missing"};
  EXPECT_THAT(this->store().Update("web", updated, created.revision),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(this->store().Get("web"), IsOkAndHolds(created));
}

TYPED_TEST(ContainerStoreContractTest, ProfileUpdatesCompareAndSwapAndDeleteRefusesUsedOnes) {
  ASSERT_OK_AND_ASSIGN(ProfileRecord created, this->store().CreateProfile(MakeProfile("small")));
  ProfileRecord changed = created;
  changed.config["limits.memory"] = "1GiB";
  changed.devices.clear();
  ASSERT_OK_AND_ASSIGN(ProfileRecord stored, this->store().UpdateProfile(changed, 1));
  EXPECT_EQ(stored.revision, 2);
  EXPECT_THAT(this->store().UpdateProfile(changed, 1),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("revision 2")));
  EXPECT_THAT(this->store().GetProfile("small"), IsOkAndHolds(stored));

  ContainerRecord record = MakeRecord("web");
  record.profiles = {"small"};
  ASSERT_OK(this->store().Create(record).status());
  EXPECT_THAT(this->store().DeleteProfile("small", 2),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("\"web\"")));
  EXPECT_THAT(this->store().DeleteProfile("small", 1),
              StatusIs(absl::StatusCode::kAborted, ::testing::_));
  ASSERT_OK(this->store().Delete("web", 1));
  ASSERT_OK(this->store().DeleteProfile("small", 2));
  EXPECT_THAT(this->store().GetProfile("small"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  ASSERT_OK_AND_ASSIGN(std::vector<ProfileRecord> profiles, this->store().ListProfiles());
  ASSERT_EQ(profiles.size(), 1u);
  EXPECT_EQ(profiles[0].name, "default");
}

}  // namespace
}  // namespace berth::storage

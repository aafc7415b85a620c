// SqliteStore speed: Get, List of 20 and 1000 rows, Create+Delete (two durable transactions:
// synchronous=FULL, so this measures the disk's fsync). The database lives in a fresh directory
// under $BERTH_BENCH_DIR (default /tmp); put it on the filesystem you care about.
//
//   store_bench [--benchmark_filter=...]

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "berth/storage/sqlite_store.h"

namespace berth::storage {
namespace {

// A directory removed with its contents when the benchmark is done with it.
class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("BERTH_BENCH_DIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/berth-bench-XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  ~BenchDir() {
    std::error_code error;
    if (!path_.empty()) std::filesystem::remove_all(path_, error);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

ContainerRecord MakeRecord(std::string name) {
  ContainerRecord record;
  record.name = std::move(name);
  record.source_kind = "template";
  record.source_name = "busybox";
  record.source_args = {"--arch", "amd64"};
  record.config = {{"limits.memory", "512MiB"},
                   {"limits.cpu", "2"},
                   {"net.0.type", "veth"},
                   {"net.0.link", "berthbr0"},
                   {"boot.autostart", "true"}};
  record.labels = {{"tier", "front"}, {"owner", "ops"}};
  record.created_at = absl::FromUnixNanos(1'700'000'000'000'000'000);
  record.updated_at = record.created_at;
  return record;
}

// A store in a fresh directory holding `rows` containers named c0000, c0001...
struct Fixture {
  explicit Fixture(int rows) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> opened =
        SqliteStore::Open(absl::StrCat(dir.path(), "/berth.db"));
    if (!opened.ok()) return;
    store = *std::move(opened);
    for (int i = 0; i < rows; ++i) {
      if (!store->Create(MakeRecord(absl::StrFormat("c%04d", i))).ok()) {
        store.reset();
        return;
      }
    }
  }
  BenchDir dir;
  std::unique_ptr<SqliteStore> store;
};

void BM_Get(benchmark::State& state) {
  Fixture fixture(20);
  if (fixture.store == nullptr) return state.SkipWithError("cannot set up the store");
  for (auto _ : state) {
    absl::StatusOr<ContainerRecord> record = fixture.store->Get("c0010");
    if (!record.ok()) return state.SkipWithError("Get failed");
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_Get);

void BM_List(benchmark::State& state) {
  Fixture fixture(static_cast<int>(state.range(0)));
  if (fixture.store == nullptr) return state.SkipWithError("cannot set up the store");
  for (auto _ : state) {
    absl::StatusOr<std::vector<ContainerRecord>> records = fixture.store->List();
    if (!records.ok() || records->size() != static_cast<size_t>(state.range(0))) {
      return state.SkipWithError("List failed");
    }
    benchmark::DoNotOptimize(records);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_List)->Arg(20)->Arg(1000);

void BM_CreateDelete(benchmark::State& state) {
  Fixture fixture(20);
  if (fixture.store == nullptr) return state.SkipWithError("cannot set up the store");
  const ContainerRecord record = MakeRecord("bench");
  for (auto _ : state) {
    if (!fixture.store->Create(record).ok() || !fixture.store->Delete("bench", 1).ok()) {
      return state.SkipWithError("Create or Delete failed");
    }
  }
}
BENCHMARK(BM_CreateDelete)->UseRealTime();

void BM_Update(benchmark::State& state) {
  Fixture fixture(20);
  if (fixture.store == nullptr) return state.SkipWithError("cannot set up the store");
  absl::StatusOr<ContainerRecord> record = fixture.store->Get("c0010");
  if (!record.ok()) return state.SkipWithError("Get failed");
  int64_t revision = record->revision;
  for (auto _ : state) {
    record->labels["counter"] = absl::StrCat(revision);
    absl::StatusOr<ContainerRecord> updated = fixture.store->Update("c0010", *record, revision);
    if (!updated.ok()) return state.SkipWithError("Update failed");
    revision = updated->revision;
  }
}
BENCHMARK(BM_Update)->UseRealTime();

}  // namespace
}  // namespace berth::storage

BENCHMARK_MAIN();

// Benchmarks of LxcDriver against raw liblxc. Needs root and working containers.
//
//   BM_RawStartStopInProcess  liblxc start (daemonized, forking this process) + stop, no helper
//   BM_DriverStartStop        LxcDriver::Start (helper) + Stop(force) (in process)
//   BM_HelperSpawn            one berth-lxc-helper run that fails fast (start of a missing
//                             container): the fixed cost a helper call adds
//   BM_RawInspectInProcess    lxc_container_new + state + init_pid, what any in-process call pays
//   BM_DriverInspectRunning   LxcDriver::Inspect of a running container (state, pid, addresses,
//                             memory, CPU)
//
// The raw in-process benchmark is registered first so it runs while this process has one thread.

#include <lxc/lxccontainer.h>
#include <stdlib.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "berth/runtime/lxc_driver.h"
#include "lxc/fs_util.h"
#include "lxc/helper_client.h"

namespace berth::runtime {
namespace {

const std::string& LxcPath() {
  static const std::string* path = [] {
    char dir[] = "/tmp/blb-XXXXXX";
    if (mkdtemp(dir) == nullptr) abort();
    return new std::string(dir);
  }();
  return *path;
}

std::unique_ptr<LxcDriver> NewDriver() {
  LxcDriverOptions options;
  options.lxc_path = LxcPath() + "/c";
  options.helper_path = BERTH_LXC_HELPER_PATH;
  absl::StatusOr<std::unique_ptr<LxcDriver>> driver = LxcDriver::Open(options);
  if (!driver.ok()) {
    fprintf(stderr, "LxcDriver::Create: %s\n", driver.status().ToString().c_str());
    abort();
  }
  return std::move(*driver);
}

// Creates a busybox container once per name (with a short-lived driver).
void EnsureContainer(const std::string& name) {
  const std::string dir = absl::StrCat(LxcPath(), "/c/", name);
  if (lxc::PathExists(dir)) return;
  std::unique_ptr<LxcDriver> driver = NewDriver();
  absl::Status status = driver->Create({name, "busybox", {}});
  if (!status.ok()) {
    fprintf(stderr, "Create %s: %s\n", name.c_str(), status.ToString().c_str());
    abort();
  }
}

void BM_RawStartStopInProcess(benchmark::State& state) {
  EnsureContainer("raw");
  const std::string path = LxcPath() + "/c";
  for (auto _ : state) {
    lxc_container* c = lxc_container_new("raw", path.c_str());
    c->want_daemonize(c, true);
    c->want_close_all_fds(c, true);
    if (!c->start(c, 0, nullptr)) state.SkipWithError("start failed");
    if (!c->stop(c) || !c->wait(c, "STOPPED", 10)) state.SkipWithError("stop failed");
    lxc_container_put(c);
  }
}
BENCHMARK(BM_RawStartStopInProcess)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_DriverStartStop(benchmark::State& state) {
  EnsureContainer("drv");
  std::unique_ptr<LxcDriver> driver = NewDriver();
  for (auto _ : state) {
    if (absl::Status s = driver->Start("drv"); !s.ok()) state.SkipWithError("start failed");
    if (absl::Status s = driver->Stop("drv", absl::ZeroDuration(), true); !s.ok()) {
      state.SkipWithError("stop failed");
    }
  }
}
BENCHMARK(BM_DriverStartStop)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_HelperSpawn(benchmark::State& state) {
  const std::string path = LxcPath() + "/c";
  for (auto _ : state) {
    absl::Status s = lxc::RunHelper(BERTH_LXC_HELPER_PATH, lxc::HelperOp::kStart, {path, "missing"},
                                    absl::Seconds(30));
    if (s.code() != absl::StatusCode::kNotFound) state.SkipWithError("unexpected status");
  }
}
BENCHMARK(BM_HelperSpawn)->Unit(benchmark::kMillisecond);

void BM_RawInspectInProcess(benchmark::State& state) {
  EnsureContainer("ins");
  std::unique_ptr<LxcDriver> driver = NewDriver();
  (void)driver->Start("ins");
  const std::string path = LxcPath() + "/c";
  for (auto _ : state) {
    lxc_container* c = lxc_container_new("ins", path.c_str());
    benchmark::DoNotOptimize(c->state(c));
    benchmark::DoNotOptimize(c->init_pid(c));
    lxc_container_put(c);
  }
  (void)driver->Stop("ins", absl::ZeroDuration(), true);
}
BENCHMARK(BM_RawInspectInProcess)->Unit(benchmark::kMicrosecond);

void BM_DriverInspectRunning(benchmark::State& state) {
  EnsureContainer("ins");
  std::unique_ptr<LxcDriver> driver = NewDriver();
  (void)driver->Start("ins");
  for (auto _ : state) {
    absl::StatusOr<LiveInfo> info = driver->Inspect("ins");
    if (!info.ok() || info->state != LiveState::kRunning) state.SkipWithError("not running");
    benchmark::DoNotOptimize(info);
  }
  (void)driver->Stop("ins", absl::ZeroDuration(), true);
}
BENCHMARK(BM_DriverInspectRunning)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace berth::runtime

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Remove the containers (all stopped) and the temporary lxcpath.
  (void)berth::runtime::lxc::RemoveTree(berth::runtime::LxcPath());
  return 0;
}

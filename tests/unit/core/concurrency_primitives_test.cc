#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "berth/core/clock.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/core/keyed_mutex.h"
#include "gtest/gtest.h"

namespace berth::core {
namespace {

TEST(KeyedMutex, SerializesOneKeyAndLetsOthersThrough) {
  KeyedMutex locks;
  std::atomic<int> inside_a{0};
  std::atomic<int> max_inside_a{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 200; ++j) {
        auto guard = locks.Lock("a");
        int now = ++inside_a;
        int seen = max_inside_a.load();
        while (now > seen && !max_inside_a.compare_exchange_weak(seen, now)) {
        }
        --inside_a;
      }
    });
  }
  // While "a" is busy, another key is never blocked by it.
  {
    auto a = locks.Lock("b");
    auto c = locks.Lock("c");
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(max_inside_a.load(), 1);
}

TEST(KeyedMutex, TwoKeyLocksInOppositeOrderDoNotDeadlock) {
  KeyedMutex locks;
  std::thread t1([&] {
    for (int i = 0; i < 500; ++i) auto g = locks.LockAll({"x", "y"});
  });
  std::thread t2([&] {
    for (int i = 0; i < 500; ++i) auto g = locks.LockAll({"y", "x"});
  });
  t1.join();
  t2.join();
  auto again = locks.LockAll({"x", "x"});  // A duplicate key is taken once.
}

TEST(ThreadPoolExecutor, RunsEverythingQueuedBeforeShutdownReturns) {
  std::atomic<int> ran{0};
  {
    ThreadPoolExecutor executor(4, 1000);
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(executor.Post([&] { ++ran; }).ok());
    executor.Shutdown();
    EXPECT_EQ(ran.load(), 500);
    EXPECT_EQ(executor.Post([] {}).code(), absl::StatusCode::kUnavailable);
  }
}

TEST(ThreadPoolExecutor, RefusesWorkBeyondItsQueueBound) {
  ThreadPoolExecutor executor(1, 2);
  absl::Notification release;
  absl::Notification started;
  ASSERT_TRUE(executor.Post([&] {
                        started.Notify();
                        release.WaitForNotification();
                      })
                  .ok());
  started.WaitForNotification();
  ASSERT_TRUE(executor.Post([] {}).ok());
  ASSERT_TRUE(executor.Post([] {}).ok());
  EXPECT_EQ(executor.Post([] {}).code(), absl::StatusCode::kResourceExhausted);
  release.Notify();
}

TEST(ThreadPoolExecutor, APausedPoolTakesTasksAndRunsThemOnResume) {
  ThreadPoolExecutor executor(2, 10, /*paused=*/true);
  absl::Notification ran;
  ASSERT_TRUE(executor.Post([&] { ran.Notify(); }).ok());
  EXPECT_FALSE(ran.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  executor.Resume();
  EXPECT_TRUE(ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST(ThreadPoolExecutor, ShutdownOfAPausedPoolRunsWhatItAccepted) {
  std::atomic<int> ran{0};
  ThreadPoolExecutor executor(2, 10, /*paused=*/true);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(executor.Post([&] { ++ran; }).ok());
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 5);
}

TEST(EventBus, NumbersEventsAndDeliversToSubscribersUntilUnsubscribed) {
  FakeClock clock;
  EventBus bus(&clock);
  std::vector<uint64_t> seen;
  uint64_t sub = bus.Subscribe([&](const Event& e) { seen.push_back(e.id); });
  Event e;
  e.container = "web";
  EXPECT_EQ(bus.Publish(e).id, 1u);
  Event delivered = bus.Publish(e);
  EXPECT_EQ(delivered.id, 2u);
  EXPECT_EQ(delivered.time, clock.Now());
  bus.Unsubscribe(sub);
  bus.Publish(e);
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
}

TEST(EventBus, SubscribersSeeEventsInIdOrderWhateverThreadPublishes) {
  FakeClock clock;
  EventBus bus(&clock);
  absl::Mutex mu;
  std::vector<uint64_t> seen;
  bus.Subscribe([&](const Event& e) {
    absl::MutexLock lock(&mu);
    seen.push_back(e.id);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) bus.Publish(Event{});
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(seen.size(), 4000u);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
}

}  // namespace
}  // namespace berth::core

// berth.v1.Events through the real gRPC server on a temp Unix socket, with berthd's real SQLite
// event log and the fake runtime: replay with since, the seam between replay and live events
// while events are published, filters, bad input, a slow subscriber cut off, and draining.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "berth/api/server.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/sqlite_store.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/events.grpc.pb.h"
#include "berth/v1/lifecycle.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
namespace v1 = berth::v1;

class EventsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/be-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/berth.sock";
    spdlog::set_level(spdlog::level::warn);
    auto store = storage::SqliteStore::Open(dir_ + "/berth.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    events_ = std::make_unique<core::EventBus>(&clock_, &store_->events());
    ASSERT_TRUE(events_->OpenLog().ok());
    manager_ = std::make_unique<core::ContainerManager>(store_.get(), &driver_, &clock_,
                                                        events_.get());
    driver_.SetExitHandler([this](const std::string& n, std::optional<int> code) {
      manager_->OnContainerExit(n, code);
    });
    executor_ = std::make_unique<core::ThreadPoolExecutor>(8, 256);
    api::Server::Options options;
    options.listener.path = socket_;
    auto server = api::Server::Start(options, manager_.get(), executor_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetServing(true);
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    stub_ = v1::Events::NewStub(channel_);
    containers_ = v1::Containers::NewStub(channel_);
    lifecycle_ = v1::Lifecycle::NewStub(channel_);
  }

  void TearDown() override {
    stub_.reset();
    containers_.reset();
    lifecycle_.reset();
    channel_.reset();
    if (server_) {
      server_->Drain();
      executor_->Shutdown();
      server_->Shutdown(absl::Now() + absl::Seconds(5));
      server_.reset();
    }
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A subscription whose every Read is bounded by the context's deadline.
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<v1::Event>> reader;
  };
  std::unique_ptr<Stream> Subscribe(const v1::SubscribeRequest& request,
                                    absl::Duration timeout = absl::Seconds(30)) {
    auto stream = std::make_unique<Stream>();
    stream->ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    stream->reader = stub_->Subscribe(&stream->ctx, request);
    return stream;
  }

  // Reads `n` events (fails the test on an early end).
  std::vector<v1::Event> ReadN(Stream& stream, size_t n) {
    std::vector<v1::Event> events;
    v1::Event event;
    while (events.size() < n && stream.reader->Read(&event)) events.push_back(event);
    EXPECT_EQ(events.size(), n) << "the stream ended early: "
                                << stream.reader->Finish().error_message();
    return events;
  }

  void Publish(int n, const std::string& detail = {}) {
    for (int i = 0; i < n; ++i) {
      core::Event event;
      event.type = core::EventType::kOperation;
      event.container = "bulk";
      event.detail = detail;
      events_->Publish(std::move(event));
    }
  }

  grpc::Status Launch(const std::string& name) {
    v1::CreateContainerRequest req;
    req.set_name(name);
    req.set_start(true);
    req.mutable_source()->mutable_template_()->set_name("busybox");
    v1::Container resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return containers_->CreateContainer(&ctx, req, &resp);
  }

  std::string dir_;
  std::string socket_;
  core::FakeClock clock_;
  runtime::FakeRuntimeDriver driver_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<core::EventBus> events_;
  std::unique_ptr<core::ContainerManager> manager_;
  std::unique_ptr<core::ThreadPoolExecutor> executor_;
  std::unique_ptr<api::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Events::Stub> stub_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
};

TEST_F(EventsApiTest, SinceReplaysTheStoredEventsThenLiveOnes) {
  ASSERT_TRUE(Launch("web").ok());  // operation, created, operation, started: ids 1..4
  v1::SubscribeRequest request;
  request.set_since(0);
  request.add_types(v1::EVENT_TYPE_CREATED);
  request.add_types(v1::EVENT_TYPE_STARTED);
  request.add_types(v1::EVENT_TYPE_STOPPED);
  auto stream = Subscribe(request);
  std::vector<v1::Event> replayed = ReadN(*stream, 2);
  ASSERT_EQ(replayed.size(), 2u);
  EXPECT_EQ(replayed[0].type(), v1::EVENT_TYPE_CREATED);
  EXPECT_EQ(replayed[0].container(), "web");
  EXPECT_EQ(replayed[0].state(), v1::STATE_STOPPED);
  EXPECT_EQ(replayed[0].time().seconds(), absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(replayed[1].type(), v1::EVENT_TYPE_STARTED);
  EXPECT_LT(replayed[0].id(), replayed[1].id());

  v1::StopContainerRequest stop;
  stop.set_name("web");
  v1::Container c;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ASSERT_TRUE(lifecycle_->StopContainer(&ctx, stop, &c).ok());
  std::vector<v1::Event> live = ReadN(*stream, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].type(), v1::EVENT_TYPE_STOPPED);
  EXPECT_EQ(live[0].state(), v1::STATE_STOPPED);
  stream->ctx.TryCancel();
}

TEST_F(EventsApiTest, TheSeamHasNoGapAndNoDuplicateWhileEventsArePublished) {
  Publish(500);
  std::atomic<bool> stop{false};
  std::atomic<size_t> received{0};
  std::thread publisher([&] {
    // Publishing goes on through the replay and the hand-over, but never more than 512 events
    // ahead of the reader: a subscriber 1024 behind is cut off, which is another test.
    for (size_t published = 500; published < 2000 && !stop; ++published) {
      while (!stop && published - received.load() > 512) std::this_thread::yield();
      Publish(1);
    }
  });
  v1::SubscribeRequest request;
  request.set_since(0);
  auto stream = Subscribe(request);
  std::vector<v1::Event> events;
  v1::Event event;
  while (events.size() < 2000 && stream->reader->Read(&event)) {
    events.push_back(event);
    received = events.size();
  }
  stop = true;
  publisher.join();
  ASSERT_EQ(events.size(), 2000u);
  for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i].id(), i + 1) << "at " << i;
  stream->ctx.TryCancel();
}

TEST_F(EventsApiTest, ResumingWithSinceLosesNothing) {
  Publish(10);
  v1::SubscribeRequest request;
  request.set_since(0);
  {
    auto first = Subscribe(request);
    std::vector<v1::Event> events = ReadN(*first, 4);
    ASSERT_EQ(events.size(), 4u);
    request.set_since(events.back().id());
    first->ctx.TryCancel();
  }
  Publish(5);
  auto second = Subscribe(request);
  std::vector<v1::Event> events = ReadN(*second, 11);
  ASSERT_EQ(events.size(), 11u);
  EXPECT_EQ(events.front().id(), 5u);
  EXPECT_EQ(events.back().id(), 15u);
  second->ctx.TryCancel();
}

TEST_F(EventsApiTest, ContainerFilterAndUnknownTypes) {
  ASSERT_TRUE(Launch("web").ok());
  ASSERT_TRUE(Launch("db").ok());
  v1::SubscribeRequest request;
  request.set_since(0);
  request.add_containers("db");
  request.add_types(v1::EVENT_TYPE_STARTED);
  auto stream = Subscribe(request);
  std::vector<v1::Event> events = ReadN(*stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].container(), "db");
  stream->ctx.TryCancel();

  v1::SubscribeRequest bad;
  bad.add_types(static_cast<v1::EventType>(99));
  auto refused = Subscribe(bad, absl::Seconds(10));
  v1::Event event;
  EXPECT_FALSE(refused->reader->Read(&event));
  grpc::Status status = refused->reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("unknown event type 99"));
}

TEST_F(EventsApiTest, ASlowSubscriberIsCutOffWithWhereToResume) {
  // A channel whose flow-control window stays at its 64 KiB start (no BDP probing), so that a
  // client that does not read stops the server's writes after a few 8 KiB events.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  auto channel =
      grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
  auto stub = v1::Events::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  // since=0 so that the first event arrives whether or not it was published before the
  // subscription took hold.
  v1::SubscribeRequest request;
  request.set_since(0);
  Publish(1);
  auto slow = stub->Subscribe(&ctx, request);
  v1::Event event;
  ASSERT_TRUE(slow->Read(&event));  // The subscription exists.
  ASSERT_EQ(event.id(), 1u);

  // The reader stops reading: a few events fill the transport, then 1024 the backlog.
  constexpr uint64_t kPublished = 2048;
  Publish(kPublished - 1, std::string(8 * 1024, 'x'));
  uint64_t last = event.id();
  while (slow->Read(&event)) {
    ASSERT_EQ(event.id(), last + 1);
    last = event.id();
  }
  grpc::Status status = slow->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("more than 1024 events behind"));
  EXPECT_THAT(status.error_message(), HasSubstr("since=" + std::to_string(last)));
  EXPECT_LT(last, kPublished);

  // Resuming where the message says replays the rest, none missing.
  v1::SubscribeRequest resume;
  resume.set_since(last);
  auto again = Subscribe(resume);
  std::vector<v1::Event> rest = ReadN(*again, kPublished - last);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().id(), last + 1);
  EXPECT_EQ(rest.back().id(), kPublished);
  again->ctx.TryCancel();
}

TEST_F(EventsApiTest, DrainEndsStreamsWithUnavailable) {
  v1::SubscribeRequest request;
  request.set_since(0);
  Publish(1);
  auto stream = Subscribe(request);
  v1::Event event;
  ASSERT_TRUE(stream->reader->Read(&event));
  server_->Drain();
  EXPECT_FALSE(stream->reader->Read(&event));
  grpc::Status status = stream->reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("berthd is stopping"));
}

}  // namespace
}  // namespace berth

// The Console service end to end: real gRPC server on a temp socket, real SQLite, the fake driver
// (whose console is a real /bin/sh on a pseudo-terminal).

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "berth/api/server.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/sqlite_store.h"
#include "berth/v1/console.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
namespace v1 = berth::v1;

class GrpcOnce : public ::testing::Environment {
 public:
  void SetUp() override { grpc_init(); }
};
::testing::Environment* const kGrpcOnce = ::testing::AddGlobalTestEnvironment(new GrpcOnce);

using Stream = grpc::ClientReaderWriter<v1::ConsoleRequest, v1::ConsoleResponse>;

class ConsoleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/bc-XXXXXX";
    dir_ = mkdtemp(tmpl);
    spdlog::set_level(spdlog::level::warn);
    auto store = storage::SqliteStore::Open(dir_ + "/berth.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    events_ = std::make_unique<core::EventBus>(&clock_);
    manager_ =
        std::make_unique<core::ContainerManager>(store_.get(), &driver_, &clock_, events_.get());
    executor_ = std::make_unique<core::ThreadPoolExecutor>(4, 64);
    api::Server::Options options;
    options.listener.path = dir_ + "/berth.sock";
    auto server = api::Server::Start(options, manager_.get(), executor_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetServing(true);
    channel_ =
        grpc::CreateChannel("unix:" + dir_ + "/berth.sock", grpc::InsecureChannelCredentials());
    console_ = v1::Console::NewStub(channel_);
    core::CreateParams params;
    params.name = "web";
    params.template_name = "busybox";
    params.start = true;
    ASSERT_TRUE(manager_->Create(params).ok());
    params.name = "cold";
    params.start = false;
    ASSERT_TRUE(manager_->Create(params).ok());
  }

  void TearDown() override {
    console_.reset();
    channel_.reset();
    server_->Drain();
    executor_->Shutdown();
    server_->Shutdown(absl::Now() + absl::Seconds(5));
    server_.reset();
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  static v1::ConsoleRequest Start(const std::string& name) {
    v1::ConsoleRequest req;
    req.mutable_start()->set_container(name);
    req.mutable_start()->mutable_window()->set_rows(30);
    req.mutable_start()->mutable_window()->set_cols(100);
    return req;
  }

  static v1::ConsoleRequest Input(const std::string& bytes) {
    v1::ConsoleRequest req;
    req.set_input(bytes);
    return req;
  }

  static void WithDeadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }

  static bool Attached(grpc::ClientContext& ctx, Stream& stream) {
    stream.WaitForInitialMetadata();
    const auto& md = ctx.GetServerInitialMetadata();
    auto it = md.find("berth-console");
    return it != md.end() && it->second == "attached";
  }

  // Reads output until `needle` appears (the deadline of the call bounds it). False at the end.
  // Reads until `needle` has been output; what was read up to then goes to `seen` (one chunk may
  // hold the output of several commands, so look for an earlier line there, not in a new read).
  static bool ReadUntil(Stream& stream, const std::string& needle, std::string* closed = nullptr,
                        std::string* seen = nullptr) {
    std::string text;
    v1::ConsoleResponse response;
    while (text.find(needle) == std::string::npos) {
      if (!stream.Read(&response)) return false;
      if (response.has_closed() && closed != nullptr) *closed = response.closed();
      text += response.output();
    }
    if (seen != nullptr) *seen = std::move(text);
    return true;
  }

  std::string dir_;
  core::RealClock clock_;
  runtime::FakeRuntimeDriver driver_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<core::EventBus> events_;
  std::unique_ptr<core::ContainerManager> manager_;
  std::unique_ptr<core::ThreadPoolExecutor> executor_;
  std::unique_ptr<api::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Console::Stub> console_;
};

TEST_F(ConsoleApiTest, TypesAndReadsThenDetachesOk) {
  grpc::ClientContext ctx;
  WithDeadline(ctx);
  auto stream = console_->Attach(&ctx);
  ASSERT_TRUE(stream->Write(Start("web")));
  ASSERT_TRUE(Attached(ctx, *stream));
  ASSERT_TRUE(stream->Write(Input("stty size; echo hi-$((1+2))\n")));
  std::string seen;
  ASSERT_TRUE(ReadUntil(*stream, "hi-3", nullptr, &seen));
  EXPECT_THAT(seen, HasSubstr("30 100"));
  v1::ConsoleRequest resize;
  resize.mutable_resize()->set_rows(40);
  resize.mutable_resize()->set_cols(120);
  ASSERT_TRUE(stream->Write(resize));
  ASSERT_TRUE(stream->Write(Input("stty size\n")));
  EXPECT_TRUE(ReadUntil(*stream, "40 120"));
  stream->WritesDone();
  v1::ConsoleResponse response;
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ConsoleApiTest, OneClientAtATime) {
  grpc::ClientContext first_ctx;
  WithDeadline(first_ctx);
  auto first = console_->Attach(&first_ctx);
  ASSERT_TRUE(first->Write(Start("web")));
  ASSERT_TRUE(Attached(first_ctx, *first));

  {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    auto second = console_->Attach(&ctx);
    second->Write(Start("web"));
    second->WritesDone();
    v1::ConsoleResponse response;
    while (second->Read(&response)) {
    }
    const grpc::Status status = second->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), HasSubstr("in use"));
  }
  // A client that goes away (cancel, not a clean detach) frees the console too.
  first_ctx.TryCancel();
  v1::ConsoleResponse response;
  while (first->Read(&response)) {
  }
  (void)first->Finish();

  bool attached = false;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!attached && absl::Now() < deadline) {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    auto again = console_->Attach(&ctx);
    again->Write(Start("web"));
    attached = Attached(ctx, *again);
    again->WritesDone();
    while (again->Read(&response)) {
    }
    (void)again->Finish();
  }
  EXPECT_TRUE(attached);
}

TEST_F(ConsoleApiTest, ConsoleGoingAwayEndsWithAClosedFrame) {
  grpc::ClientContext ctx;
  WithDeadline(ctx);
  auto stream = console_->Attach(&ctx);
  ASSERT_TRUE(stream->Write(Start("web")));
  ASSERT_TRUE(Attached(ctx, *stream));
  ASSERT_TRUE(stream->Write(Input("echo bye-$((2*3)); exit\n")));
  std::string closed;
  EXPECT_TRUE(ReadUntil(*stream, "bye-6", &closed));
  v1::ConsoleResponse response;
  while (stream->Read(&response)) {
    if (response.has_closed()) closed = response.closed();
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(closed, HasSubstr("closed"));
}

TEST_F(ConsoleApiTest, RefusedAttaches) {
  struct Case {
    v1::ConsoleRequest first;
    grpc::StatusCode code;
    std::string message;
  };
  v1::ConsoleRequest not_a_start = Input("x");
  const Case cases[] = {
      {Start("cold"), grpc::StatusCode::FAILED_PRECONDITION, "berth start cold"},
      {Start("ghost"), grpc::StatusCode::NOT_FOUND, "ghost"},
      {Start("Bad_Name"), grpc::StatusCode::INVALID_ARGUMENT, "Bad_Name"},
      {not_a_start, grpc::StatusCode::INVALID_ARGUMENT, "start frame"},
  };
  for (const Case& c : cases) {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    auto stream = console_->Attach(&ctx);
    stream->Write(c.first);
    stream->WritesDone();
    EXPECT_FALSE(Attached(ctx, *stream));
    v1::ConsoleResponse response;
    while (stream->Read(&response)) {
    }
    const grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST_F(ConsoleApiTest, GetLogReturnsTheBoundedTail) {
  ASSERT_TRUE(driver_.SetConsoleLog("cold", "boot line\nlast line\n").ok());
  v1::GetConsoleLogRequest request;
  request.set_container("cold");
  v1::GetConsoleLogResponse response;
  {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    ASSERT_TRUE(console_->GetLog(&ctx, request, &response).ok());
    EXPECT_EQ(response.data(), "boot line\nlast line\n");
    EXPECT_FALSE(response.truncated());
  }
  request.set_max_bytes(10);
  {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    ASSERT_TRUE(console_->GetLog(&ctx, request, &response).ok());
    EXPECT_EQ(response.data(), "last line\n");
    EXPECT_TRUE(response.truncated());
  }
  request.set_max_bytes(2 * 1024 * 1024);
  {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    EXPECT_EQ(console_->GetLog(&ctx, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  request.set_container("ghost");
  request.set_max_bytes(0);
  {
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    EXPECT_EQ(console_->GetLog(&ctx, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
}

}  // namespace
}  // namespace berth

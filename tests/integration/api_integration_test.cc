#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "berth/api/server.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/sqlite_store.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/lifecycle.grpc.pb.h"
#include "berth/v1/system.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace berth {
namespace {

using runtime::FakeRuntimeDriver;
using runtime::LiveState;
using ::testing::HasSubstr;
using Op = FakeRuntimeDriver::Op;
namespace v1 = berth::v1;

// A whole berthd minus liblxc: real SQLite, real gRPC server and listener, fake driver.
class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/bi-XXXXXX";
    dir_ = mkdtemp(tmpl);
    socket_ = dir_ + "/run/berth.sock";
    audit_sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(audit_log_);
    spdlog::drop("audit");
    spdlog::register_logger(std::make_shared<spdlog::logger>("audit", audit_sink_));
    spdlog::set_level(spdlog::level::warn);
    spdlog::get("audit")->set_level(spdlog::level::info);

    auto store = storage::SqliteStore::Open(dir_ + "/berth.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    events_ = std::make_unique<core::EventBus>(&clock_);
    manager_ = std::make_unique<core::ContainerManager>(store_.get(), &driver_, &clock_,
                                                        events_.get());
    driver_.SetExitHandler([this](const std::string& n, std::optional<int> code) {
      manager_->OnContainerExit(n, code);
    });
    executor_ = std::make_unique<core::ThreadPoolExecutor>(8, 256);
    StartServer();
  }

  void StartServer(int max_connections = 256) {
    api::Server::Options options;
    options.listener.path = socket_;
    options.listener.max_connections = max_connections;
    options.facts.liblxc_version = "5.0.2-test";
    options.facts.state_dir = dir_;
    options.facts.started_at = absl::Now();
    auto server = api::Server::Start(options, manager_.get(), executor_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    server_->SetServing(true);
    channel_ = grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials());
    containers_ = v1::Containers::NewStub(channel_);
    lifecycle_ = v1::Lifecycle::NewStub(channel_);
    system_ = v1::System::NewStub(channel_);
  }

  void TearDown() override {
    containers_.reset();
    lifecycle_.reset();
    system_.reset();
    channel_.reset();
    if (server_) {
      server_->Drain();
      executor_->Shutdown();
      server_->Shutdown(absl::Now() + absl::Seconds(5));
      server_.reset();
    }
    manager_.reset();
    std::filesystem::remove_all(dir_);
    spdlog::drop("audit");
  }

  std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return ctx;
  }

  grpc::Status Create(const std::string& name, bool start = false,
                      std::map<std::string, std::string> labels = {}) {
    v1::CreateContainerRequest req;
    req.set_name(name);
    req.set_start(start);
    req.mutable_source()->mutable_template_()->set_name("busybox");
    req.mutable_labels()->insert(labels.begin(), labels.end());
    v1::Container resp;
    return containers_->CreateContainer(Ctx().get(), req, &resp);
  }

  std::string HealthStatus() {
    grpc::GenericStub generic(channel_);
    // grpc.health.v1.HealthCheckRequest{} is an empty message: zero bytes on the wire.
    grpc::ByteBuffer request;
    grpc::Slice empty("", 0);
    request = grpc::ByteBuffer(&empty, 1);
    grpc::ByteBuffer response;
    auto ctx = Ctx();
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(ctx.get(), "/grpc.health.v1.Health/Check", request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag;
    bool ok;
    cq.Next(&tag, &ok);
    if (!status.ok()) return "error";
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    std::string bytes;
    for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    // HealthCheckResponse{status = 1 (SERVING) | 2 (NOT_SERVING)}: field 1, varint.
    if (bytes == std::string("\x08\x01", 2)) return "SERVING";
    if (bytes == std::string("\x08\x02", 2)) return "NOT_SERVING";
    return "other";
  }

  std::string dir_;
  std::string socket_;
  std::ostringstream audit_log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> audit_sink_;
  core::FakeClock clock_;
  FakeRuntimeDriver driver_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<core::EventBus> events_;
  std::unique_ptr<core::ContainerManager> manager_;
  std::unique_ptr<core::ThreadPoolExecutor> executor_;
  std::unique_ptr<api::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::System::Stub> system_;
};

TEST_F(ApiTest, LaunchGetAndListRoundTripThroughSqlite) {
  ASSERT_TRUE(Create("web", /*start=*/true, {{"tier", "front"}}).ok());
  v1::GetContainerRequest get;
  get.set_name("web");
  v1::Container c;
  ASSERT_TRUE(containers_->GetContainer(Ctx().get(), get, &c).ok());
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.status().state(), v1::STATE_RUNNING);
  EXPECT_GT(c.status().init_pid(), 0);
  EXPECT_EQ(c.source().template_().name(), "busybox");
  EXPECT_EQ(c.labels().at("tier"), "front");
  EXPECT_EQ(c.created_at().seconds(), absl::ToUnixSeconds(clock_.Now()));
  // The definition is in the database file itself.
  auto stored = store_->Get("web");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->revision, c.revision());

  get.set_view(v1::CONTAINER_VIEW_DEFINITION);
  ASSERT_TRUE(containers_->GetContainer(Ctx().get(), get, &c).ok());
  EXPECT_FALSE(c.has_status());
}

TEST_F(ApiTest, ErrorsKeepTheirCodesAndSentences) {
  v1::GetContainerRequest get;
  get.set_name("nope");
  v1::Container c;
  grpc::Status s = containers_->GetContainer(Ctx().get(), get, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("\"nope\""));

  s = Create("bad/name");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("1-63 letters"));

  ASSERT_TRUE(Create("web", true).ok());
  EXPECT_EQ(Create("web").error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::StartContainerRequest start;
  start.set_name("web");
  s = lifecycle_->StartContainer(Ctx().get(), start, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("RUNNING"));

  v1::CreateContainerRequest no_source;
  no_source.set_name("x");
  s = containers_->CreateContainer(Ctx().get(), no_source, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  driver_.FailNext(Op::kCreate, absl::InternalError("lxc-start: ERROR something broke"));
  s = Create("broken");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_THAT(s.error_message(), HasSubstr("ERROR something broke"));
  EXPECT_EQ(store_->Get("broken").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ApiTest, ListPagesFiltersByLabelAndRejectsForeignTokens) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(Create("c" + std::to_string(i), false, {{"even", i % 2 == 0 ? "yes" : "no"}}).ok());
  }
  v1::ListContainersRequest req;
  req.set_page_size(2);
  std::vector<std::string> names;
  for (;;) {
    v1::ListContainersResponse resp;
    ASSERT_TRUE(containers_->ListContainers(Ctx().get(), req, &resp).ok());
    for (const auto& c : resp.containers()) names.push_back(c.name());
    if (resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));

  v1::ListContainersRequest filtered;
  (*filtered.mutable_label_selector())["even"] = "yes";
  v1::ListContainersResponse resp;
  ASSERT_TRUE(containers_->ListContainers(Ctx().get(), filtered, &resp).ok());
  ASSERT_EQ(resp.containers_size(), 3);
  EXPECT_EQ(resp.containers(2).name(), "c4");

  v1::ListContainersRequest bad;
  bad.set_page_token("not-a-token");
  EXPECT_EQ(containers_->ListContainers(Ctx().get(), bad, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiTest, LifecycleAndRenameAndDelete) {
  ASSERT_TRUE(Create("web", true).ok());
  v1::Container c;
  v1::FreezeContainerRequest freeze;
  freeze.set_name("web");
  ASSERT_TRUE(lifecycle_->FreezeContainer(Ctx().get(), freeze, &c).ok());
  EXPECT_EQ(c.status().state(), v1::STATE_FROZEN);
  v1::UnfreezeContainerRequest thaw;
  thaw.set_name("web");
  ASSERT_TRUE(lifecycle_->UnfreezeContainer(Ctx().get(), thaw, &c).ok());
  v1::StopContainerRequest stop;
  stop.set_name("web");
  stop.set_timeout_seconds(7);
  ASSERT_TRUE(lifecycle_->StopContainer(Ctx().get(), stop, &c).ok());
  EXPECT_EQ(c.status().state(), v1::STATE_STOPPED);
  EXPECT_EQ(driver_.LastStopArgs(), std::make_pair(absl::Seconds(7), false));
  stop.set_timeout_seconds(-1);
  EXPECT_EQ(lifecycle_->StopContainer(Ctx().get(), stop, &c).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::RenameContainerRequest rename;
  rename.set_name("web");
  rename.set_new_name("web2");
  ASSERT_TRUE(containers_->RenameContainer(Ctx().get(), rename, &c).ok());
  EXPECT_EQ(c.name(), "web2");
  EXPECT_TRUE(store_->Get("web2").ok());
  EXPECT_EQ(store_->Get("web").status().code(), absl::StatusCode::kNotFound);

  v1::DeleteContainerRequest del;
  del.set_name("web2");
  v1::DeleteContainerResponse deleted;
  ASSERT_TRUE(containers_->DeleteContainer(Ctx().get(), del, &deleted).ok());
  EXPECT_EQ(store_->Get("web2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(driver_.StateOf("web2").has_value());
}

TEST_F(ApiTest, WaitReturnsWhenTheContainerExits) {
  ASSERT_TRUE(Create("web", true).ok());
  v1::WaitContainerRequest req;
  req.set_name("web");
  req.set_state(v1::STATE_STOPPED);
  v1::Container c;
  grpc::Status status;
  absl::Notification done;
  auto ctx = Ctx();
  lifecycle_->async()->WaitContainer(ctx.get(), &req, &c, [&](grpc::Status s) {
    status = s;
    done.Notify();
  });
  EXPECT_FALSE(done.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  ASSERT_TRUE(driver_.SimulateExit("web").ok());
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(c.status().state(), v1::STATE_STOPPED);
}

TEST_F(ApiTest, WaitEndsAtTheDeadlineAndTheServerForgetsIt) {
  ASSERT_TRUE(Create("web").ok());
  v1::WaitContainerRequest req;
  req.set_name("web");
  req.set_state(v1::STATE_RUNNING);
  v1::Container c;
  grpc::Status s = lifecycle_->WaitContainer(Ctx(absl::Milliseconds(200)).get(), req, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // Starting afterwards completes nothing stale and the server goes on answering.
  v1::StartContainerRequest start;
  start.set_name("web");
  ASSERT_TRUE(lifecycle_->StartContainer(Ctx().get(), start, &c).ok());
  req.set_state(v1::STATE_UNSPECIFIED);
  EXPECT_EQ(lifecycle_->WaitContainer(Ctx().get(), req, &c).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ApiTest, AnOperationOutlivesItsClient) {
  ASSERT_TRUE(Create("web").ok());
  driver_.HoldOp(Op::kStart);
  {
    v1::StartContainerRequest start;
    start.set_name("web");
    v1::Container c;
    grpc::Status s = lifecycle_->StartContainer(Ctx(absl::Milliseconds(200)).get(), start, &c);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  ASSERT_TRUE(driver_.AwaitHeld(Op::kStart, absl::Seconds(5)));
  driver_.ReleaseOp(Op::kStart);
  // The start the client gave up on still completes.
  v1::WaitContainerRequest wait;
  wait.set_name("web");
  wait.set_state(v1::STATE_RUNNING);
  v1::Container c;
  EXPECT_TRUE(lifecycle_->WaitContainer(Ctx().get(), wait, &c).ok());
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
}

TEST_F(ApiTest, HealthFollowsServingAndDraining) {
  EXPECT_EQ(HealthStatus(), "SERVING");
  server_->SetServing(false);
  EXPECT_EQ(HealthStatus(), "NOT_SERVING");
  server_->SetServing(true);
  EXPECT_EQ(HealthStatus(), "SERVING");
}

TEST_F(ApiTest, DrainStopsNewConnectionsButFinishesOperationsInFlight) {
  ASSERT_TRUE(Create("web").ok());
  driver_.HoldOp(Op::kStart);
  grpc::Status status;
  absl::Notification done;
  v1::StartContainerRequest start;
  start.set_name("web");
  v1::Container c;
  auto ctx = Ctx();
  lifecycle_->async()->StartContainer(ctx.get(), &start, &c, [&](grpc::Status s) {
    status = s;
    done.Notify();
  });
  ASSERT_TRUE(driver_.AwaitHeld(Op::kStart, absl::Seconds(5)));
  server_->Drain();
  EXPECT_FALSE(std::filesystem::exists(socket_));
  // The executor's shutdown waits for the held start; release it from elsewhere.
  std::thread release([&] { driver_.ReleaseOp(Op::kStart); });
  executor_->Shutdown();
  server_->Shutdown(absl::Now() + absl::Seconds(5));
  release.join();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(driver_.StateOf("web"), LiveState::kRunning);
  server_.reset();
}

TEST_F(ApiTest, AuditNamesTheCallersUidAndPid) {
  ASSERT_TRUE(Create("web").ok());
  v1::DeleteContainerRequest del;
  del.set_name("web");
  v1::DeleteContainerResponse resp;
  ASSERT_TRUE(containers_->DeleteContainer(Ctx().get(), del, &resp).ok());
  std::string expected_who =
      "by uid " + std::to_string(getuid()) + " pid " + std::to_string(getpid());
  EXPECT_THAT(audit_log_.str(), HasSubstr("Create \"web\" " + expected_who));
  EXPECT_THAT(audit_log_.str(), HasSubstr("Delete \"web\" " + expected_who));
}

TEST_F(ApiTest, AuditEscapesControlCharacters) {
  EXPECT_EQ(Create("x\ny").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(audit_log_.str(), HasSubstr("Create \"x\\x0ay\""));
}

TEST_F(ApiTest, SocketAndDirectoryPermissions) {
  struct stat st;
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(ApiTest, ASecondDaemonOnTheSameSocketIsRefused) {
  api::UnixListener::Options options;
  options.path = socket_;
  auto second = api::UnixListener::Bind(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("already listening"));
  // The first one is unharmed.
  EXPECT_EQ(HealthStatus(), "SERVING");
}

TEST_F(ApiTest, ConnectionsBeyondTheCapAreRefused) {
  server_->Drain();
  executor_->Shutdown();
  server_->Shutdown(absl::Now());
  server_.reset();
  executor_ = std::make_unique<core::ThreadPoolExecutor>(4, 64);
  StartServer(/*max_connections=*/2);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  int ok = 0;
  for (int i = 0; i < 4; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);  // A connection of its own each.
    auto ch =
        grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(), args);
    auto stub = v1::System::NewStub(ch);
    v1::Version v;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    if (stub->GetVersion(&ctx, v1::GetVersionRequest(), &v).ok()) ++ok;
    channels.push_back(ch);
  }
  EXPECT_EQ(ok, 2);
}

TEST_F(ApiTest, VersionAndHostInfo) {
  v1::Version v;
  ASSERT_TRUE(system_->GetVersion(Ctx().get(), v1::GetVersionRequest(), &v).ok());
  EXPECT_EQ(v.api_version(), "v1");
  EXPECT_EQ(v.liblxc_version(), "5.0.2-test");
  EXPECT_FALSE(v.grpc_version().empty());
  ASSERT_TRUE(Create("a", true).ok());
  ASSERT_TRUE(Create("b").ok());
  v1::HostInfo h;
  ASSERT_TRUE(system_->GetHostInfo(Ctx().get(), v1::GetHostInfoRequest(), &h).ok());
  EXPECT_EQ(h.containers_total(), 2u);
  EXPECT_EQ(h.containers_running(), 1u);
  EXPECT_EQ(h.containers_stopped(), 1u);
  EXPECT_EQ(h.state_dir(), dir_);
  EXPECT_GT(h.cpus(), 0u);
  EXPECT_GT(h.memory_total_bytes(), 0u);
}

// --- Config over the API ---

TEST_F(ApiTest, ConfigUpdateSetsUnsetsAndNotesWhatWaits) {
  v1::CreateContainerRequest create;
  create.set_name("web");
  create.set_start(true);
  create.mutable_source()->mutable_template_()->set_name("busybox");
  (*create.mutable_config())["limits.memory"] = "256MiB";
  v1::Container created;
  ASSERT_TRUE(containers_->CreateContainer(Ctx().get(), create, &created).ok());
  EXPECT_EQ(driver_.SettingsOf("web")->memory_bytes, int64_t{256} << 20);

  v1::UpdateContainerConfigRequest update;
  update.set_name("web");
  update.set_expected_revision(created.revision());
  (*update.mutable_set())["limits.memory"] = "512MiB";
  (*update.mutable_set())["environment.FOO"] = "bar";
  v1::UpdateContainerConfigResponse response;
  grpc::Status status = containers_->UpdateContainerConfig(Ctx().get(), update, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.container().config().at("limits.memory"), "512MiB");
  EXPECT_GT(response.container().revision(), created.revision());
  ASSERT_EQ(response.notices_size(), 1);
  EXPECT_THAT(response.notices(0), HasSubstr("environment.FOO"));
  EXPECT_EQ(driver_.SettingsOf("web")->memory_bytes, int64_t{512} << 20);

  // The same revision again is stale now.
  status = containers_->UpdateContainerConfig(Ctx().get(), update, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);

  v1::UpdateContainerConfigRequest unset;
  unset.set_name("web");
  unset.add_unset("limits.memory");
  ASSERT_TRUE(containers_->UpdateContainerConfig(Ctx().get(), unset, &response).ok());
  EXPECT_FALSE(response.container().config().contains("limits.memory"));
  EXPECT_FALSE(driver_.SettingsOf("web")->memory_bytes.has_value());
  EXPECT_THAT(audit_log_.str(), HasSubstr("UpdateConfig \"web\" -limits.memory"));
}

TEST_F(ApiTest, BadConfigIsInvalidArgumentAndChangesNothing) {
  ASSERT_TRUE(Create("web", true).ok());
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"limits.memory", "a lot"},
           {"limits.cpu", "9999"},
           {"nope", "1"},
           {"raw.lxc", "lxc.hook.pre-start = /bin/sh -c id"},
           {"environment.FOO", "x\nlxc.hook.start = /bin/sh"}}) {
    v1::UpdateContainerConfigRequest update;
    update.set_name("web");
    (*update.mutable_set())[key] = value;
    v1::UpdateContainerConfigResponse response;
    grpc::Status status = containers_->UpdateContainerConfig(Ctx().get(), update, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << key;
    EXPECT_THAT(status.error_message(), HasSubstr(key));
  }
  v1::UpdateContainerConfigRequest empty;
  empty.set_name("web");
  v1::UpdateContainerConfigResponse response;
  EXPECT_EQ(containers_->UpdateContainerConfig(Ctx().get(), empty, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetContainerRequest get;
  get.set_name("web");
  v1::Container container;
  ASSERT_TRUE(containers_->GetContainer(Ctx().get(), get, &container).ok());
  EXPECT_TRUE(container.config().empty());
  EXPECT_EQ(driver_.CallCount(Op::kApplyLive), 0);
}

TEST_F(ApiTest, ListConfigKeysServesTheSchema) {
  v1::ListConfigKeysResponse keys;
  ASSERT_TRUE(system_->ListConfigKeys(Ctx().get(), v1::ListConfigKeysRequest(), &keys).ok());
  std::map<std::string, v1::ConfigKey> by_name;
  for (const v1::ConfigKey& key : keys.keys()) by_name[key.name()] = key;
  ASSERT_TRUE(by_name.contains("limits.memory"));
  EXPECT_EQ(by_name["limits.memory"].type(), "bytes");
  EXPECT_TRUE(by_name["limits.memory"].live());
  EXPECT_FALSE(by_name["environment.*"].live());
  EXPECT_FALSE(by_name["raw.lxc"].help().empty());
}

}  // namespace
}  // namespace berth

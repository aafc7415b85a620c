// The Exec stream end to end: real gRPC server on a temp socket, real SQLite, the fake driver
// (which runs the command as a real local process).

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "berth/api/server.h"
#include "berth/core/clock.h"
#include "berth/core/container_manager.h"
#include "berth/core/event_bus.h"
#include "berth/core/executor.h"
#include "berth/runtime/fake_runtime_driver.h"
#include "berth/storage/sqlite_store.h"
#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/exec.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
namespace v1 = berth::v1;

// Keeps gRPC initialized for the whole program: otherwise each test's server teardown runs
// grpc_shutdown, which can wait up to 10 s for gRPC's own poller thread.
class GrpcOnce : public ::testing::Environment {
 public:
  void SetUp() override { grpc_init(); }
};
::testing::Environment* const kGrpcOnce = ::testing::AddGlobalTestEnvironment(new GrpcOnce);

// True while `pid` is a live process (a zombie waiting for its reaper counts as gone).
bool Alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

struct Outcome {
  std::string out;
  std::string err;
  int exit_frames = 0;
  v1::ExecExit exit;
  grpc::Status status;
};

class ExecApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char tmpl[] = "/tmp/be-XXXXXX";
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
    exec_ = v1::Exec::NewStub(channel_);
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
    exec_.reset();
    channel_.reset();
    server_->Drain();
    executor_->Shutdown();
    server_->Shutdown(absl::Now() + absl::Seconds(5));
    server_.reset();
    manager_.reset();
    std::filesystem::remove_all(dir_);
  }

  static v1::ExecRequest Start(const std::string& container, std::vector<std::string> argv) {
    v1::ExecRequest req;
    req.mutable_start()->set_container(container);
    for (auto& arg : argv) req.mutable_start()->add_argv(arg);
    req.mutable_start()->set_cwd("/");
    return req;
  }

  // Sends `first`, then `stdin` and EOF, reads everything, finishes.
  Outcome Run(const v1::ExecRequest& first, const std::string& stdin_data = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    auto stream = exec_->Exec(&ctx);
    stream->Write(first);
    if (!stdin_data.empty()) {
      v1::ExecRequest req;
      req.set_stdin(stdin_data);
      stream->Write(req);
    }
    v1::ExecRequest eof;
    eof.set_stdin_eof(true);
    stream->Write(eof);
    Outcome o;
    v1::ExecResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_exit()) {
        ++o.exit_frames;
        o.exit = resp.exit();
      }
      o.out += resp.stdout();
      o.err += resp.stderr();
    }
    stream->WritesDone();
    o.status = stream->Finish();
    return o;
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
  std::unique_ptr<v1::Exec::Stub> exec_;
};

TEST_F(ExecApiTest, StdoutStderrApartAndExactlyOneExitFrame) {
  // A process that exits at once, many times: the exit frame is never lost.
  for (int i = 0; i < 30; ++i) {
    Outcome o = Run(Start("web", {"sh", "-c", "printf out; printf err >&2; exit 3"}));
    ASSERT_TRUE(o.status.ok()) << o.status.error_message();
    EXPECT_EQ(o.out, "out");
    EXPECT_EQ(o.err, "err");
    EXPECT_EQ(o.exit_frames, 1);
    EXPECT_EQ(o.exit.code(), 3);
    EXPECT_EQ(o.exit.signal(), 0);
  }
}

TEST_F(ExecApiTest, StdinThenEofReachesTheProcess) {
  const std::string data(3 * 1024 * 1024 + 7, 'x');
  Outcome o = Run(Start("web", {"wc", "-c"}), data);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(o.out)), std::to_string(data.size()));
  EXPECT_EQ(o.exit.code(), 0);
}

TEST_F(ExecApiTest, MissingCommandIs127) {
  Outcome o = Run(Start("web", {"/no/such/command"}));
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o.exit.code(), 127);
  EXPECT_FALSE(o.err.empty());
}

TEST_F(ExecApiTest, EnvAndCwdAndTty) {
  v1::ExecRequest first = Start("web", {"sh", "-c", "echo $A; pwd; stty size"});
  (*first.mutable_start()->mutable_env())["A"] = "one";
  first.mutable_start()->set_cwd("/tmp");
  first.mutable_start()->set_tty(true);
  first.mutable_start()->mutable_window()->set_rows(33);
  first.mutable_start()->mutable_window()->set_cols(77);
  Outcome o = Run(first);
  ASSERT_TRUE(o.status.ok()) << o.status.error_message();
  EXPECT_EQ(o.out, "one\r\n/tmp\r\n33 77\r\n");
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(o.exit.code(), 0);
  auto spec = driver_.LastExecSpec();
  ASSERT_TRUE(spec.has_value());
  EXPECT_THAT(spec->env, ::testing::Contains("TERM=xterm-256color"));
}

TEST_F(ExecApiTest, SignalFrameReachesTheProcessGroup) {
  grpc::ClientContext ctx;
  auto stream = exec_->Exec(&ctx);
  stream->Write(Start("web", {"sh", "-c", "echo ready; sleep 1000"}));
  v1::ExecResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.stdout(), "ready\n");
  v1::ExecRequest sig;
  sig.set_signal(SIGTERM);
  stream->Write(sig);
  int exits = 0;
  while (stream->Read(&resp)) {
    if (resp.has_exit()) {
      ++exits;
      EXPECT_EQ(resp.exit().code(), 128 + SIGTERM);
      EXPECT_EQ(resp.exit().signal(), SIGTERM);
    }
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(exits, 1);
}

TEST_F(ExecApiTest, ClientCancelKillsTheProcess) {
  grpc::ClientContext ctx;
  auto stream = exec_->Exec(&ctx);
  // The shell prints the pid of a child that ignores nothing but is not the group leader.
  stream->Write(Start("web", {"sh", "-c", "sleep 1000 & echo $!; wait"}));
  v1::ExecResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  int pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(resp.stdout()), &pid)) << resp.stdout();
  ASSERT_TRUE(Alive(pid));
  ctx.TryCancel();
  while (stream->Read(&resp)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The stream has ended, so the session killed the group (SIGHUP) and reaped the shell; the
  // background child got the same SIGHUP. Give the kernel a bounded time to deliver it.
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Alive(pid) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(Alive(pid)) << "process " << pid << " outlived its stream";
}

TEST_F(ExecApiTest, ErrorsBeforeStart) {
  EXPECT_EQ(Run(Start("ghost", {"true"})).status.error_code(), grpc::StatusCode::NOT_FOUND);
  Outcome cold = Run(Start("cold", {"true"}));
  EXPECT_EQ(cold.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(cold.status.error_message(), HasSubstr("STOPPED"));
  EXPECT_EQ(Run(Start("web", {})).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ExecRequest rel = Start("web", {"true"});
  rel.mutable_start()->set_cwd("tmp");
  EXPECT_EQ(Run(rel).status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::ExecRequest stdin_first;
  stdin_first.set_stdin("x");
  Outcome o = Run(stdin_first);
  EXPECT_EQ(o.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(o.exit_frames, 0);
}

}  // namespace
}  // namespace berth

// The runner against a real gRPC server: hand-written fake services on a temp Unix socket, so every
// test is a real client <-> server round trip (deadline on the wire, message, exit code).

#include "berth/client/runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "berth/client/exit_codes.h"
#include "berth/version.h"
#include "fake_daemon.h"

namespace berth::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using Clock = std::chrono::system_clock;

v1::Container Container(const std::string& name, v1::State state, int64_t created) {
  v1::Container c;
  c.set_name(name);
  c.mutable_source()->mutable_template_()->set_name("busybox");
  c.mutable_created_at()->set_seconds(created);
  c.mutable_status()->set_state(state);
  if (state == v1::STATE_RUNNING) {
    c.mutable_status()->set_init_pid(4242);
    c.mutable_status()->add_ipv4_addresses("10.0.3.7");
  }
  return c;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start());
    dir_ = server_.dir();
    socket_ = server_.socket_path();
  }

  // Runs the CLI with --socket pointing at the fake daemon; times print in UTC.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_});
    return RunRaw(std::move(args));
  }

  int RunRaw(std::vector<std::string> args) {
    out_.str("");
    err_.str("");
    return RunCommandLine(args, Environment{}, ConnectUnixSocket,
                          Console{out_, err_, absl::UTCTimeZone()});
  }

  // The single call the daemon saw, with its request as `Request`.
  template <typename Request>
  std::pair<fakes::FakeDaemon::Call, Request> OnlyCall(const std::string& method) {
    std::vector<fakes::FakeDaemon::Call> calls = daemon_.Calls();
    EXPECT_EQ(calls.size(), 1u);
    if (calls.empty()) return {};
    EXPECT_EQ(calls[0].method, method);
    Request request;
    request.CopyFrom(*calls[0].request);
    return {calls[0], request};
  }

  // Expects `deadline` to be `expected` after the call started (within a second of slack).
  static void ExpectDeadline(Clock::time_point deadline, Clock::time_point before,
                             Clock::time_point after, std::chrono::seconds expected) {
    EXPECT_GE(deadline, before + expected - std::chrono::seconds(1));
    EXPECT_LE(deadline, after + expected + std::chrono::seconds(1));
  }

  fakes::FakeDaemonServer server_;
  fakes::FakeDaemon& daemon_ = server_.daemon();
  std::string dir_;
  std::string socket_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(RunnerTest, LaunchSendsRequestWithDefaultDeadlineAndPrintsNothing) {
  daemon_.SetContainer(Container("web", v1::STATE_RUNNING, 1795711800));
  const auto before = Clock::now();
  EXPECT_EQ(Run({"launch", "web", "--template", "busybox", "-l", "app=web", "-c", "k=v"}), kExitOk);
  const auto after = Clock::now();
  auto [call, request] = OnlyCall<v1::CreateContainerRequest>("CreateContainer");
  EXPECT_EQ(request.name(), "web");
  EXPECT_TRUE(request.start());
  EXPECT_EQ(request.source().template_().name(), "busybox");
  EXPECT_THAT(request.labels(), UnorderedElementsAre(Pair("app", "web")));
  EXPECT_THAT(request.config(), UnorderedElementsAre(Pair("k", "v")));
  ExpectDeadline(call.deadline, before, after, std::chrono::seconds(30));
  EXPECT_THAT(out_.str(), IsEmpty());
  EXPECT_THAT(err_.str(), IsEmpty());
}

TEST_F(RunnerTest, EachCommandCallsItsRpc) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"create", "web", "--template", "busybox"}, "CreateContainer"},
      {{"start", "web"}, "StartContainer"},
      {{"stop", "web"}, "StopContainer"},
      {{"restart", "web"}, "RestartContainer"},
      {{"pause", "web"}, "FreezeContainer"},
      {{"resume", "web"}, "UnfreezeContainer"},
      {{"rename", "web", "www"}, "RenameContainer"},
      {{"delete", "web", "--force"}, "DeleteContainer"},
      {{"wait", "web"}, "WaitContainer"},
      {{"info", "web"}, "GetContainer"},
      {{"list"}, "ListContainers"},
      {{"version"}, "GetVersion"},
      {{"host"}, "GetHostInfo"},
  };
  daemon_.SetPages({v1::ListContainersResponse()});
  std::vector<std::string> methods;
  for (const auto& [args, method] : cases) {
    EXPECT_EQ(Run(args), kExitOk) << args[0] << ": " << err_.str();
    methods.push_back(method);
  }
  std::vector<std::string> seen;
  for (const fakes::FakeDaemon::Call& call : daemon_.Calls()) seen.push_back(call.method);
  EXPECT_EQ(seen, methods);
}

TEST_F(RunnerTest, StopDeadlineIsTimeoutPlusSlack) {
  const auto before = Clock::now();
  EXPECT_EQ(Run({"stop", "web", "--timeout", "10", "--force"}), kExitOk);
  const auto after = Clock::now();
  auto [call, request] = OnlyCall<v1::StopContainerRequest>("StopContainer");
  EXPECT_EQ(request.timeout_seconds(), 10);
  EXPECT_TRUE(request.force());
  ExpectDeadline(call.deadline, before, after, std::chrono::seconds(25));
}

TEST_F(RunnerTest, WaitWithoutTimeoutHasNoDeadline) {
  daemon_.SetContainer(Container("web", v1::STATE_STOPPED, 1795711800));
  EXPECT_EQ(Run({"wait", "web", "--state", "stopped"}), kExitOk);
  auto [call, request] = OnlyCall<v1::WaitContainerRequest>("WaitContainer");
  EXPECT_EQ(request.state(), v1::STATE_STOPPED);
  EXPECT_EQ(call.deadline, Clock::time_point::max());
}

TEST_F(RunnerTest, WaitWithTimeoutSendsItAsDeadline) {
  const auto before = Clock::now();
  EXPECT_EQ(Run({"wait", "web", "--state", "running", "--timeout", "20"}), kExitOk);
  const auto after = Clock::now();
  auto [call, request] = OnlyCall<v1::WaitContainerRequest>("WaitContainer");
  EXPECT_EQ(request.state(), v1::STATE_RUNNING);
  ExpectDeadline(call.deadline, before, after, std::chrono::seconds(20));
}

TEST_F(RunnerTest, WaitPastItsDeadlineExitsWithDeadlineCode) {
  daemon_.HoldWaits();
  Invocation invocation;
  invocation.socket_path = socket_;
  invocation.deadline = std::chrono::milliseconds(200);
  v1::WaitContainerRequest request;
  request.set_name("web");
  request.set_state(v1::STATE_STOPPED);
  invocation.request = request;
  std::unique_ptr<Connection> connection = ConnectUnixSocket(socket_);
  EXPECT_EQ(RunInvocation(invocation, *connection, Console{out_, err_, absl::UTCTimeZone()}),
            kExitDeadlineExceeded);
  EXPECT_EQ(err_.str(), "berth: container \"web\" did not reach STOPPED within 200 ms\n");
  EXPECT_THAT(out_.str(), IsEmpty());
}

TEST_F(RunnerTest, ListFollowsPagesAndPrintsTable) {
  v1::ListContainersResponse first;
  *first.add_containers() = Container("web", v1::STATE_RUNNING, 1795711800);
  first.set_next_page_token("page-1");
  v1::ListContainersResponse second;
  *second.add_containers() = Container("db", v1::STATE_STOPPED, 1795766709);
  daemon_.SetPages({first, second});

  EXPECT_EQ(Run({"list", "-l", "app=x"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "NAME  STATE    PID   MEMORY  IPV4      CREATED\n"
            "web   RUNNING  4242  -       10.0.3.7  2026-11-26 16:50:00\n"
            "db    STOPPED  -     -       -         2026-11-27 08:05:09\n");
  std::vector<fakes::FakeDaemon::Call> calls = daemon_.Calls();
  ASSERT_EQ(calls.size(), 2u);
  std::vector<std::string> tokens;
  for (const fakes::FakeDaemon::Call& call : calls) {
    v1::ListContainersRequest request;
    request.CopyFrom(*call.request);
    tokens.push_back(request.page_token());
    EXPECT_EQ(request.view(), v1::CONTAINER_VIEW_FULL);
    EXPECT_THAT(request.label_selector(), UnorderedElementsAre(Pair("app", "x")));
  }
  EXPECT_THAT(tokens, ElementsAre("", "page-1"));
}

TEST_F(RunnerTest, ListJson) {
  v1::ListContainersResponse page;
  *page.add_containers() = Container("web", v1::STATE_RUNNING, 1795711800);
  daemon_.SetPages({page});
  EXPECT_EQ(Run({"list", "--format", "json"}), kExitOk);
  const nlohmann::json json = nlohmann::json::parse(out_.str());
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["name"], "web");
  EXPECT_EQ(json[0]["status"]["state"], "RUNNING");
  EXPECT_EQ(json[0]["status"]["init_pid"], 4242);
}

TEST_F(RunnerTest, InfoNotFound) {
  daemon_.FailWith(grpc::Status(grpc::StatusCode::NOT_FOUND, "container \"web\" not found"));
  EXPECT_EQ(Run({"info", "web"}), kExitNotFound);
  EXPECT_EQ(err_.str(), "berth: container \"web\" not found\n");
  EXPECT_THAT(out_.str(), IsEmpty());
}

TEST_F(RunnerTest, DebugAddsCodeName) {
  daemon_.FailWith(grpc::Status(grpc::StatusCode::NOT_FOUND, "container \"web\" not found"));
  EXPECT_EQ(Run({"--debug", "info", "web"}), kExitNotFound);
  EXPECT_EQ(err_.str(),
            "berth: container \"web\" not found\n"
            "berth: debug: GetContainer failed with NOT_FOUND: container \"web\" not found\n");
}

TEST_F(RunnerTest, EveryCodeRoundTripsToItsExitCodeAndMessage) {
  const std::vector<std::pair<grpc::StatusCode, int>> table = {
      {grpc::StatusCode::CANCELLED, 1},
      {grpc::StatusCode::UNKNOWN, 1},
      {grpc::StatusCode::INVALID_ARGUMENT, 6},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 9},
      {grpc::StatusCode::NOT_FOUND, 3},
      {grpc::StatusCode::ALREADY_EXISTS, 4},
      {grpc::StatusCode::PERMISSION_DENIED, 8},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 11},
      {grpc::StatusCode::FAILED_PRECONDITION, 5},
      {grpc::StatusCode::ABORTED, 10},
      {grpc::StatusCode::OUT_OF_RANGE, 1},
      {grpc::StatusCode::UNIMPLEMENTED, 1},
      {grpc::StatusCode::INTERNAL, 1},
      {grpc::StatusCode::UNAVAILABLE, 7},
      {grpc::StatusCode::DATA_LOSS, 1},
      {grpc::StatusCode::UNAUTHENTICATED, 8},
  };
  for (const auto& [code, exit_code] : table) {
    const std::string message = "the daemon says " + StatusCodeName(code);
    daemon_.FailWith(grpc::Status(code, message));
    EXPECT_EQ(Run({"start", "web"}), exit_code) << StatusCodeName(code);
    EXPECT_EQ(err_.str(), "berth: " + message + "\n");
  }
}

TEST_F(RunnerTest, DaemonDrainingShowsItsMessage) {
  daemon_.FailWith(grpc::Status(grpc::StatusCode::UNAVAILABLE, "berthd is shutting down"));
  EXPECT_EQ(Run({"list"}), kExitUnavailable);
  EXPECT_EQ(err_.str(), "berth: berthd is shutting down\n");
}

TEST_F(RunnerTest, Version) {
  v1::Version version;
  version.set_daemon_version("0.9.0");
  version.set_api_version("v1");
  version.set_liblxc_version("5.0.2");
  version.set_grpc_version("1.51.1");
  daemon_.SetVersion(version);
  EXPECT_EQ(Run({"version"}), kExitOk);
  EXPECT_EQ(out_.str(), std::string("Client version:  ") + kVersion +
                            "\n"
                            "Daemon version:  0.9.0\n"
                            "API version:     v1\n"
                            "liblxc version:  5.0.2\n"
                            "gRPC version:    1.51.1\n");
  EXPECT_THAT(err_.str(), IsEmpty());
}

TEST_F(RunnerTest, VersionWithoutDaemonPrintsClientPartThenError) {
  const std::string missing = dir_ + "/missing.sock";
  EXPECT_EQ(RunRaw({"version", "--socket", missing}), kExitUnavailable);
  EXPECT_EQ(out_.str(), std::string("Client version:  ") + kVersion + "\n");
  EXPECT_EQ(err_.str(), "berth: cannot reach berthd at " + missing +
                            ": No such file or directory. Is berthd running? (start it, or point "
                            "--socket/BERTH_SOCKET at its socket)\n");

  EXPECT_EQ(RunRaw({"version", "--socket", missing, "--format", "json", "--debug"}),
            kExitUnavailable);
  EXPECT_EQ(nlohmann::json::parse(out_.str()), nlohmann::json({{"client_version", kVersion}}));
  EXPECT_THAT(err_.str(), HasSubstr("\nberth: debug: GetVersion failed with UNAVAILABLE: "));
}

TEST_F(RunnerTest, HostJson) {
  v1::HostInfo host;
  host.set_hostname("box");
  host.set_containers_total(3);
  daemon_.SetHost(host);
  EXPECT_EQ(Run({"host", "--format", "json"}), kExitOk);
  const nlohmann::json json = nlohmann::json::parse(out_.str());
  EXPECT_EQ(json["hostname"], "box");
  EXPECT_EQ(json["containers_total"], 3);
}

TEST_F(RunnerTest, UsageErrorMakesNoCall) {
  bool connected = false;
  const Connector connect = [&](const std::string& path) {
    connected = true;
    return ConnectUnixSocket(path);
  };
  EXPECT_EQ(RunCommandLine({"launch", "web", "--template", "busybox", "-l", "oops"}, Environment{},
                           connect, Console{out_, err_, absl::UTCTimeZone()}),
            kExitUsage);
  EXPECT_FALSE(connected);
  EXPECT_THAT(err_.str(), HasSubstr("berth: --label: expected KEY=VALUE, got \"oops\""));
  EXPECT_THAT(daemon_.Calls(), IsEmpty());
}

TEST_F(RunnerTest, SocketFromEnvironment) {
  out_.str("");
  EXPECT_EQ(RunCommandLine({"host"}, Environment{socket_}, ConnectUnixSocket,
                           Console{out_, err_, absl::UTCTimeZone()}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(daemon_.Calls().size(), 1u);
}

}  // namespace
}  // namespace berth::client

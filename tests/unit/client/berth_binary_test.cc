// Runs the built `berth` executable (statically linked when BERTH_STATIC_CLIENT is on) as a child
// process: against nothing, and against the fake daemon. Checks it starts, talks, prints and exits
// cleanly (an exit code, not a signal).

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "berth/client/exit_codes.h"
#include "berth/version.h"
#include "fake_daemon.h"

#ifndef BERTH_CLI_PATH
#error "BERTH_CLI_PATH must name the berth executable"
#endif

namespace berth::client {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Outcome {
  bool exited = false;  // false: killed by a signal
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs berth with `args` and exactly the environment `env`; stdout and stderr go to files in `dir`.
Outcome RunBerth(const std::string& dir, std::vector<std::string> args,
                 std::vector<std::string> env = {"TZ=UTC"}) {
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  args.insert(args.begin(), BERTH_CLI_PATH);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  pid_t pid = -1;
  const int spawn_error =
      posix_spawn(&pid, BERTH_CLI_PATH, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  Outcome outcome;
  EXPECT_EQ(spawn_error, 0) << BERTH_CLI_PATH;
  if (spawn_error != 0) return outcome;
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  outcome.exited = WIFEXITED(status);
  outcome.exit_code = outcome.exited ? WEXITSTATUS(status) : -1;
  EXPECT_TRUE(outcome.exited) << "berth died of signal " << WTERMSIG(status);
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return outcome;
}

class BerthBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start()); }

  fakes::FakeDaemonServer server_;
};

TEST_F(BerthBinaryTest, VersionWithoutDaemon) {
  const std::string missing = server_.dir() + "/missing.sock";
  Outcome outcome = RunBerth(server_.dir(), {"version", "--socket", missing});
  EXPECT_EQ(outcome.exit_code, kExitUnavailable);
  EXPECT_EQ(outcome.out, std::string("Client version:  ") + kVersion + "\n");
  EXPECT_EQ(outcome.err, "berth: cannot reach berthd at " + missing +
                             ": No such file or directory. Is berthd running? (start it, or "
                             "point --socket/BERTH_SOCKET at its socket)\n");
}

TEST_F(BerthBinaryTest, ListTableAgainstFakeDaemon) {
  v1::ListContainersResponse page;
  v1::Container* web = page.add_containers();
  web->set_name("web");
  web->mutable_created_at()->set_seconds(1795711800);
  web->mutable_status()->set_state(v1::STATE_RUNNING);
  web->mutable_status()->set_init_pid(77);
  server_.daemon().SetPages({page});
  Outcome outcome = RunBerth(server_.dir(), {"list", "--socket", server_.socket_path()});
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  EXPECT_EQ(outcome.out,
            "NAME  STATE    PID  MEMORY  IPV4  CREATED\n"
            "web   RUNNING  77   -       -     2026-11-26 16:50:00\n");
  EXPECT_THAT(outcome.err, IsEmpty());
}

TEST_F(BerthBinaryTest, InfoJsonWithSocketFromEnvironment) {
  v1::Container web;
  web.set_name("web");
  (*web.mutable_labels())["app"] = "web";
  server_.daemon().SetContainer(web);
  Outcome outcome = RunBerth(server_.dir(), {"info", "web", "--format", "json"},
                             {"BERTH_SOCKET=" + server_.socket_path()});
  EXPECT_EQ(outcome.exit_code, kExitOk) << outcome.err;
  const nlohmann::json json = nlohmann::json::parse(outcome.out);
  EXPECT_EQ(json["name"], "web");
  EXPECT_EQ(json["labels"]["app"], "web");
}

TEST_F(BerthBinaryTest, ErrorsAndUsage) {
  server_.daemon().FailWith(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "container \"web\" is running"));
  Outcome outcome =
      RunBerth(server_.dir(), {"rename", "web", "www", "--socket", server_.socket_path()});
  EXPECT_EQ(outcome.exit_code, kExitFailedPrecondition);
  EXPECT_EQ(outcome.err, "berth: container \"web\" is running\n");

  outcome = RunBerth(server_.dir(), {"launch", "web", "--template", "busybox", "-c", "nokey"});
  EXPECT_EQ(outcome.exit_code, kExitUsage);
  EXPECT_THAT(outcome.err, HasSubstr("berth: --config: expected KEY=VALUE"));

  outcome = RunBerth(server_.dir(), {"--help"});
  EXPECT_EQ(outcome.exit_code, kExitOk);
  EXPECT_THAT(outcome.out, HasSubstr("Usage: berth"));
}

}  // namespace
}  // namespace berth::client

#include "berth/client/command_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "berth/client/exit_codes.h"

namespace berth::client {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

ParseResult Parse(std::vector<std::string> args, Environment env = {}) {
  return ParseCommandLine(args, env);
}

// The invocation for args that must parse.
Invocation MustParse(std::vector<std::string> args, Environment env = {}) {
  ParseResult result = Parse(args, env);
  EXPECT_TRUE(result.invocation.has_value()) << result.err;
  return result.invocation.value_or(Invocation{});
}

template <typename Request>
Request RequestOf(const Invocation& invocation) {
  const Request* request = std::get_if<Request>(&invocation.request);
  EXPECT_NE(request, nullptr) << "request variant index " << invocation.request.index();
  return request == nullptr ? Request() : *request;
}

void ExpectUsageError(std::vector<std::string> args, const std::string& mentions) {
  ParseResult result = Parse(args);
  EXPECT_FALSE(result.invocation.has_value());
  EXPECT_EQ(result.exit_code, kExitUsage);
  EXPECT_THAT(result.err, StartsWith("berth: "));
  EXPECT_THAT(result.err, HasSubstr(mentions));
  EXPECT_EQ(result.err.back(), '\n');
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "one line: " << result.err;
  EXPECT_THAT(result.out, IsEmpty());
}

TEST(CommandLineTest, LaunchBuildsCreateRequestWithStart) {
  Invocation inv = MustParse({"launch", "web", "--template", "busybox", "--template-arg", "--a",
                              "--template-arg=-b", "-l", "app=web", "--label", "tier=front", "-c",
                              "limits.memory=1G", "--config", "x=y=z"});
  auto request = RequestOf<v1::CreateContainerRequest>(inv);
  EXPECT_EQ(request.name(), "web");
  EXPECT_TRUE(request.start());
  ASSERT_TRUE(request.source().has_template_());
  EXPECT_EQ(request.source().template_().name(), "busybox");
  EXPECT_THAT(request.source().template_().args(), ::testing::ElementsAre("--a", "-b"));
  EXPECT_THAT(request.labels(), UnorderedElementsAre(Pair("app", "web"), Pair("tier", "front")));
  EXPECT_THAT(request.config(),
              UnorderedElementsAre(Pair("limits.memory", "1G"), Pair("x", "y=z")));
  EXPECT_EQ(inv.deadline, std::chrono::seconds(30));
  EXPECT_EQ(inv.socket_path, "/run/berth/berth.sock");
  EXPECT_FALSE(inv.debug);
}

TEST(CommandLineTest, CreateDoesNotStart) {
  auto request =
      RequestOf<v1::CreateContainerRequest>(MustParse({"create", "--template", "busybox", "db"}));
  EXPECT_EQ(request.name(), "db");
  EXPECT_FALSE(request.start());
  EXPECT_THAT(request.labels(), IsEmpty());
  EXPECT_THAT(request.source().template_().args(), IsEmpty());
}

TEST(CommandLineTest, LaunchFromAnImage) {
  auto request = RequestOf<v1::CreateContainerRequest>(
      MustParse({"launch", "web", "--image", "debian/12"}));
  ASSERT_TRUE(request.source().has_image());
  EXPECT_EQ(request.source().image().image(), "debian/12");
  EXPECT_TRUE(request.start());
}

TEST(CommandLineTest, CreateNeedsExactlyOneSource) {
  EXPECT_EQ(ParseCommandLine({"create", "web"}, Environment{}).exit_code, kExitUsage);
  EXPECT_EQ(
      ParseCommandLine({"create", "web", "--image", "a", "--template", "busybox"}, Environment{})
          .exit_code,
      kExitUsage);
  EXPECT_EQ(ParseCommandLine({"create", "web", "--image", "a", "--template-arg", "x"},
                             Environment{})
                .exit_code,
            kExitUsage);
}

TEST(CommandLineTest, RepeatedOptionTakesOneValueSoNameMayFollow) {
  auto request = RequestOf<v1::CreateContainerRequest>(
      MustParse({"launch", "-l", "a=1", "-l", "b=2", "web", "--template", "busybox"}));
  EXPECT_EQ(request.name(), "web");
  EXPECT_THAT(request.labels(), UnorderedElementsAre(Pair("a", "1"), Pair("b", "2")));
}

TEST(CommandLineTest, KeyValueEdgeCases) {
  auto request = RequestOf<v1::CreateContainerRequest>(MustParse(
      {"create", "web", "--template", "busybox", "-l", "empty=", "-l", "k=first", "-l", "k=last"}));
  EXPECT_THAT(request.labels(), UnorderedElementsAre(Pair("empty", ""), Pair("k", "last")));
}

TEST(CommandLineTest, BadKeyValueIsUsageError) {
  ExpectUsageError({"launch", "web", "--template", "busybox", "-l", "novalue"},
                   "expected KEY=VALUE, got \"novalue\"");
  ExpectUsageError({"launch", "web", "--template", "busybox", "-l", "=v"}, "KEY=VALUE");
  ExpectUsageError({"create", "web", "--template", "busybox", "--config", "x"}, "--config");
  ExpectUsageError({"list", "-l", "bad"}, "--label");
}

TEST(CommandLineTest, NamesAreNotValidatedByTheClient) {
  auto request = RequestOf<v1::StartContainerRequest>(MustParse({"start", "Not A Valid Name!"}));
  EXPECT_EQ(request.name(), "Not A Valid Name!");
}

TEST(CommandLineTest, ListAsksForFullViewWithSelector) {
  Invocation inv = MustParse({"list", "--format", "json", "-l", "app=web"});
  auto request = RequestOf<v1::ListContainersRequest>(inv);
  EXPECT_EQ(request.view(), v1::CONTAINER_VIEW_FULL);
  EXPECT_THAT(request.label_selector(), UnorderedElementsAre(Pair("app", "web")));
  EXPECT_EQ(request.page_token(), "");
  EXPECT_EQ(inv.format, OutputFormat::kJson);
}

TEST(CommandLineTest, Formats) {
  EXPECT_EQ(MustParse({"list"}).format, OutputFormat::kTable);
  EXPECT_EQ(MustParse({"info", "web", "--format", "yaml"}).format, OutputFormat::kYaml);
  EXPECT_EQ(MustParse({"version", "--format", "csv"}).format, OutputFormat::kCsv);
  EXPECT_EQ(MustParse({"host", "--format", "table"}).format, OutputFormat::kTable);
  ExpectUsageError({"list", "--format", "xml"}, "--format");
  // --format belongs to the commands that print something.
  ExpectUsageError({"start", "web", "--format", "json"}, "--format");
}

TEST(CommandLineTest, InfoAsksForFullView) {
  auto request = RequestOf<v1::GetContainerRequest>(MustParse({"info", "web"}));
  EXPECT_EQ(request.name(), "web");
  EXPECT_EQ(request.view(), v1::CONTAINER_VIEW_FULL);
}

TEST(CommandLineTest, StopTimeoutForceAndDeadline) {
  Invocation plain = MustParse({"stop", "web"});
  auto request = RequestOf<v1::StopContainerRequest>(plain);
  EXPECT_EQ(request.name(), "web");
  EXPECT_EQ(request.timeout_seconds(), 0);
  EXPECT_FALSE(request.force());
  // The daemon's default stop timeout (30 s) plus 15 s.
  EXPECT_EQ(plain.deadline, std::chrono::seconds(45));

  Invocation timed = MustParse({"stop", "--timeout", "10", "--force", "web"});
  request = RequestOf<v1::StopContainerRequest>(timed);
  EXPECT_EQ(request.timeout_seconds(), 10);
  EXPECT_TRUE(request.force());
  EXPECT_EQ(timed.deadline, std::chrono::seconds(25));

  ExpectUsageError({"stop", "web", "--timeout", "-1"}, "--timeout");
  ExpectUsageError({"stop", "web", "--timeout", "soon"}, "--timeout");
  ExpectUsageError({"stop", "web", "--timeout", "99999999999"}, "--timeout");
}

TEST(CommandLineTest, RestartTimeoutForceAndDeadline) {
  Invocation inv = MustParse({"restart", "web", "--timeout", "5", "--force"});
  auto request = RequestOf<v1::RestartContainerRequest>(inv);
  EXPECT_EQ(request.name(), "web");
  EXPECT_EQ(request.timeout_seconds(), 5);
  EXPECT_TRUE(request.force());
  EXPECT_EQ(inv.deadline, std::chrono::seconds(20));
}

TEST(CommandLineTest, PauseResumeRenameDelete) {
  EXPECT_EQ(RequestOf<v1::FreezeContainerRequest>(MustParse({"pause", "web"})).name(), "web");
  EXPECT_EQ(RequestOf<v1::UnfreezeContainerRequest>(MustParse({"resume", "web"})).name(), "web");
  auto rename = RequestOf<v1::RenameContainerRequest>(MustParse({"rename", "web", "www"}));
  EXPECT_EQ(rename.name(), "web");
  EXPECT_EQ(rename.new_name(), "www");
  ExpectUsageError({"rename", "web"}, "NEW_NAME");
  auto del = RequestOf<v1::DeleteContainerRequest>(MustParse({"delete", "web"}));
  EXPECT_EQ(del.name(), "web");
  EXPECT_FALSE(del.force());
  EXPECT_TRUE(
      RequestOf<v1::DeleteContainerRequest>(MustParse({"delete", "--force", "web"})).force());
}

TEST(CommandLineTest, WaitStateAndDeadline) {
  Invocation forever = MustParse({"wait", "web"});
  auto request = RequestOf<v1::WaitContainerRequest>(forever);
  EXPECT_EQ(request.name(), "web");
  EXPECT_EQ(request.state(), v1::STATE_STOPPED);
  EXPECT_FALSE(forever.deadline.has_value());

  Invocation bounded = MustParse({"wait", "web", "--state", "running", "--timeout", "10"});
  EXPECT_EQ(RequestOf<v1::WaitContainerRequest>(bounded).state(), v1::STATE_RUNNING);
  EXPECT_EQ(bounded.deadline, std::chrono::seconds(10));
  EXPECT_EQ(
      RequestOf<v1::WaitContainerRequest>(MustParse({"wait", "web", "--state", "frozen"})).state(),
      v1::STATE_FROZEN);

  ExpectUsageError({"wait", "web", "--state", "exploded"}, "--state");
  ExpectUsageError({"wait", "web", "--timeout", "0"}, "--timeout");
}

TEST(CommandLineTest, VersionAndHost) {
  Invocation version = MustParse({"version"});
  EXPECT_TRUE(std::holds_alternative<v1::GetVersionRequest>(version.request));
  EXPECT_EQ(version.deadline, std::chrono::seconds(30));
  EXPECT_TRUE(std::holds_alternative<v1::GetHostInfoRequest>(MustParse({"host"}).request));
}

TEST(CommandLineTest, SocketFromFlagEnvOrDefault) {
  EXPECT_EQ(MustParse({"list"}).socket_path, "/run/berth/berth.sock");
  EXPECT_EQ(MustParse({"list"}, Environment{"/tmp/env.sock"}).socket_path, "/tmp/env.sock");
  EXPECT_EQ(MustParse({"list"}, Environment{""}).socket_path, "/run/berth/berth.sock");
  EXPECT_EQ(
      MustParse({"--socket", "/tmp/flag.sock", "list"}, Environment{"/tmp/env.sock"}).socket_path,
      "/tmp/flag.sock");
  // Global options also work after the command.
  Invocation after = MustParse({"version", "--socket", "/tmp/x.sock", "--debug"});
  EXPECT_EQ(after.socket_path, "/tmp/x.sock");
  EXPECT_TRUE(after.debug);
}

TEST(CommandLineTest, UsageErrors) {
  ExpectUsageError({}, "a command is required");
  ExpectUsageError({"explode"}, "explode");
  ExpectUsageError({"start"}, "NAME");
  ExpectUsageError({"start", "a", "b"}, "b");
  ExpectUsageError({"launch", "web"}, "--template");
  ExpectUsageError({"--no-such-flag", "list"}, "--no-such-flag");
}

TEST(CommandLineTest, HelpGoesToStdoutWithExitZero) {
  ParseResult top = Parse({"--help"});
  EXPECT_FALSE(top.invocation.has_value());
  EXPECT_EQ(top.exit_code, kExitOk);
  EXPECT_THAT(top.out, HasSubstr("Usage: berth"));
  EXPECT_THAT(top.out, HasSubstr("launch"));
  EXPECT_THAT(top.out, HasSubstr("exec NAME -- CMD"));
  EXPECT_THAT(top.err, IsEmpty());

  ParseResult stop = Parse({"stop", "--help"});
  EXPECT_EQ(stop.exit_code, kExitOk);
  EXPECT_THAT(stop.out, HasSubstr("--timeout"));
  EXPECT_THAT(stop.out, HasSubstr("--force"));
}


TEST(LeadingOptionsTest, SkipsGlobalOptionsBeforeTheCommand) {
  LeadingOptions o = ParseLeadingOptions({"--debug", "--socket", "/s", "exec", "--socket", "x"});
  EXPECT_TRUE(o.debug);
  EXPECT_EQ(o.socket, "/s");
  EXPECT_EQ(o.command_index, 3u);
  o = ParseLeadingOptions({"monitor"});
  EXPECT_FALSE(o.debug);
  EXPECT_EQ(o.socket, "");
  EXPECT_EQ(o.command_index, 0u);
  // A --socket without its value is not skipped over the end: there is no command.
  EXPECT_EQ(ParseLeadingOptions({"--socket"}).command_index, 0u);
  EXPECT_EQ(ParseLeadingOptions({"--debug"}).command_index, 1u);
}

}  // namespace
}  // namespace berth::client

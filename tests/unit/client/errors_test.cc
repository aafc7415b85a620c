#include "berth/client/errors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <utility>
#include <vector>

#include "berth/client/exit_codes.h"

namespace berth::client {
namespace {

using grpc::StatusCode;

TEST(ExitCodeTest, TheTable) {
  const std::vector<std::pair<StatusCode, int>> table = {
      {StatusCode::OK, 0},
      {StatusCode::CANCELLED, 1},
      {StatusCode::UNKNOWN, 1},
      {StatusCode::INVALID_ARGUMENT, 6},
      {StatusCode::DEADLINE_EXCEEDED, 9},
      {StatusCode::NOT_FOUND, 3},
      {StatusCode::ALREADY_EXISTS, 4},
      {StatusCode::PERMISSION_DENIED, 8},
      {StatusCode::RESOURCE_EXHAUSTED, 11},
      {StatusCode::FAILED_PRECONDITION, 5},
      {StatusCode::ABORTED, 10},
      {StatusCode::OUT_OF_RANGE, 1},
      {StatusCode::UNIMPLEMENTED, 1},
      {StatusCode::INTERNAL, 1},
      {StatusCode::UNAVAILABLE, 7},
      {StatusCode::DATA_LOSS, 1},
      {StatusCode::UNAUTHENTICATED, 8},
      {static_cast<StatusCode>(20), 1},
  };
  for (const auto& [code, exit_code] : table) {
    EXPECT_EQ(ExitCodeForStatus(code), exit_code) << StatusCodeName(code);
  }
  // Usage errors are not a status, but they are part of the same table.
  EXPECT_EQ(kExitUsage, 2);
}

TEST(ExitCodeTest, CodeNames) {
  EXPECT_EQ(StatusCodeName(StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(StatusCodeName(StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(StatusCodeName(StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(30)), "CODE_30");
}

ErrorContext Context() {
  ErrorContext context;
  context.socket_path = "/run/berth/berth.sock";
  context.rpc_name = "GetContainer";
  return context;
}

TEST(ErrorSentenceTest, UsesTheDaemonsMessage) {
  grpc::Status status(StatusCode::NOT_FOUND, "container \"web\" not found");
  EXPECT_EQ(ErrorSentence(status, Context()), "container \"web\" not found");
  EXPECT_EQ(ErrorReport(status, Context(), false), "berth: container \"web\" not found\n");
}

TEST(ErrorSentenceTest, DebugAddsCodeNameAndDetails) {
  grpc::Status status(StatusCode::FAILED_PRECONDITION, "container \"web\" is running",
                      std::string(12, 'x'));
  EXPECT_EQ(ErrorReport(status, Context(), true),
            "berth: container \"web\" is running\n"
            "berth: debug: GetContainer failed with FAILED_PRECONDITION: container \"web\" is "
            "running (12 bytes of error details)\n");
}

TEST(ErrorSentenceTest, CannotReachDaemon) {
  ErrorContext context = Context();
  context.reached_daemon = false;
  grpc::Status status(StatusCode::UNAVAILABLE,
                      "failed to connect to all addresses; last error: UNKNOWN: "
                      "unix:/run/berth/berth.sock: No such file or directory");
  EXPECT_EQ(ErrorReport(status, context, false),
            "berth: cannot reach berthd at /run/berth/berth.sock: No such file or directory. Is "
            "berthd running? (start it, or point --socket/BERTH_SOCKET at its socket)\n");
  // A detail in another shape is kept whole.
  EXPECT_EQ(ErrorSentence(grpc::Status(StatusCode::UNAVAILABLE, "Socket closed"), context),
            "cannot reach berthd at /run/berth/berth.sock: Socket closed. Is berthd running? "
            "(start it, or point --socket/BERTH_SOCKET at its socket)");
}

TEST(ErrorSentenceTest, DaemonSaidUnavailable) {
  grpc::Status status(StatusCode::UNAVAILABLE, "berthd is shutting down");
  EXPECT_EQ(ErrorSentence(status, Context()), "berthd is shutting down");
}

TEST(ErrorSentenceTest, ClientDeadline) {
  grpc::Status status(StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  ErrorContext context = Context();
  EXPECT_EQ(ErrorSentence(status, context), "berthd did not answer in time (deadline exceeded)");
  context.deadline_sentence = "container \"web\" did not reach STOPPED within 10 s";
  EXPECT_EQ(ErrorSentence(status, context), "container \"web\" did not reach STOPPED within 10 s");
  // The daemon's own deadline message wins.
  EXPECT_EQ(
      ErrorSentence(grpc::Status(StatusCode::DEADLINE_EXCEEDED, "start took too long"), context),
      "start took too long");
}

TEST(ErrorSentenceTest, EmptyMessageNamesTheCode) {
  EXPECT_EQ(ErrorSentence(grpc::Status(StatusCode::INTERNAL, ""), Context()),
            "berthd failed the request with INTERNAL and no message");
}

TEST(ErrorSentenceTest, ControlCharactersCannotDriveTheTerminal) {
  grpc::Status status(StatusCode::INVALID_ARGUMENT, "bad name \"a\x1b[2Jb\nc\".");
  EXPECT_EQ(ErrorReport(status, Context(), false), "berth: bad name \"a [2Jb c\"\n");
}

TEST(ErrorSentenceTest, ALostSessionIsNotUnreachable) {
  const grpc::Status gone(grpc::StatusCode::UNAVAILABLE, "Socket closed");
  ErrorContext context = CallContext("/run/berth/berth.sock", "Exec", gone);
  EXPECT_FALSE(context.reached_daemon);
  EXPECT_FALSE(ConnectionLost(gone, context));  // Never up: berthd could not be reached.
  EXPECT_THAT(ErrorSentence(gone, context), ::testing::HasSubstr("cannot reach berthd"));

  context.session_up = true;
  context.after_loss = "the container keeps running";
  for (const grpc::Status& status :
       {gone, grpc::Status(grpc::StatusCode::CANCELLED, ""),
        grpc::Status(grpc::StatusCode::INTERNAL, "RST_STREAM")}) {
    EXPECT_TRUE(ConnectionLost(status, context));
    std::ostringstream err;
    EXPECT_EQ(ReportCallError(status, context, false, err), kExitUnavailable);
    EXPECT_THAT(err.str(), ::testing::StartsWith("berth: the connection to berthd was lost ("));
    EXPECT_THAT(err.str(), ::testing::HasSubstr("); the container keeps running\n"));
  }
  // A refusal the daemon sent while the session was up keeps its own code and sentence.
  const grpc::Status refused(grpc::StatusCode::FAILED_PRECONDITION, "container \"web\" stopped");
  std::ostringstream err;
  EXPECT_EQ(ReportCallError(refused, context, false, err),
            ExitCodeForStatus(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(err.str(), "berth: container \"web\" stopped\n");
}

}  // namespace
}  // namespace berth::client

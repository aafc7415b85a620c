#include "berth/client/errors.h"

#include <absl/strings/match.h>

#include <absl/strings/str_cat.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "berth/client/exit_codes.h"

namespace berth::client {
namespace {

// gRPC's own message for a deadline the client's timer ended.
constexpr std::string_view kGrpcDeadlineMessage = "Deadline Exceeded";

// The message with control characters (terminal escapes, newlines) replaced by spaces and
// trailing dots and spaces dropped, so it ends a sentence cleanly.
std::string Clean(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  while (!out.empty() && (out.back() == '.' || out.back() == ' ')) out.pop_back();
  return out;
}

// gRPC's connect failure reads "failed to connect to all addresses; last error: UNKNOWN:
// unix:/run/berth/berth.sock: No such file or directory"; the part after the last ": " is the
// reason. Other messages are kept whole.
std::string ConnectFailureReason(const std::string& message) {
  constexpr std::string_view kConnectFailure = "failed to connect to all addresses";
  if (message.rfind(kConnectFailure, 0) != 0) return message;
  const size_t colon = message.rfind(": ");
  if (colon == std::string::npos || colon + 2 >= message.size()) return message;
  return message.substr(colon + 2);
}

}  // namespace

bool ConnectionLost(const grpc::Status& status, const ErrorContext& context) {
  // Killed, crashed or restarted mid-session, berthd takes the connection with it: the client
  // sees UNAVAILABLE, CANCELLED or an INTERNAL stream reset.
  const grpc::StatusCode code = status.error_code();
  return context.session_up &&
         (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::CANCELLED ||
          code == grpc::StatusCode::INTERNAL);
}

std::string ErrorSentence(const grpc::Status& status, const ErrorContext& context) {
  const std::string message = Clean(status.error_message());
  const grpc::StatusCode code = status.error_code();
  if (ConnectionLost(status, context)) {
    return absl::StrCat("the connection to berthd was lost (",
                        message.empty() ? StatusCodeName(code) : message, ")",
                        context.after_loss.empty() ? "" : "; ", context.after_loss);
  }
  if (code == grpc::StatusCode::UNAVAILABLE && !context.reached_daemon &&
      absl::StartsWith(context.socket_path, "remote:")) {
    return absl::StrCat("cannot reach berthd at remote \"", context.socket_path.substr(7), "\": ",
                        message.empty() ? "no connection" : ConnectFailureReason(message),
                        ". Is it up with listen_tcp set, and is its certificate still the one "
                        "pinned by berth remote add?");
  }
  if (code == grpc::StatusCode::UNAVAILABLE && !context.reached_daemon) {
    return absl::StrCat("cannot reach berthd at ", context.socket_path, ": ",
                        message.empty() ? "no connection" : ConnectFailureReason(message),
                        ". Is berthd running? (start it, or point --socket/BERTH_SOCKET at its "
                        "socket)");
  }
  if (code == grpc::StatusCode::DEADLINE_EXCEEDED &&
      (message.empty() || message == kGrpcDeadlineMessage)) {
    return context.deadline_sentence.empty() ? "berthd did not answer in time (deadline exceeded)"
                                             : context.deadline_sentence;
  }
  if (message.empty()) {
    return absl::StrCat("berthd failed the request with ", StatusCodeName(code), " and no message");
  }
  return message;
}

std::string ErrorReport(const grpc::Status& status, const ErrorContext& context, bool debug) {
  std::string report = absl::StrCat("berth: ", ErrorSentence(status, context), "\n");
  if (debug) {
    absl::StrAppend(&report, "berth: debug: ", context.rpc_name.empty() ? "call" : context.rpc_name,
                    " failed with ", StatusCodeName(status.error_code()), ": ",
                    Clean(status.error_message()));
    if (!status.error_details().empty()) {
      absl::StrAppend(&report, " (", status.error_details().size(), " bytes of error details)");
    }
    absl::StrAppend(&report, "\n");
  }
  return report;
}

ErrorContext CallContext(const std::string& socket_path, std::string rpc_name,
                         const grpc::Status& status) {
  ErrorContext context;
  context.socket_path = socket_path;
  context.rpc_name = std::move(rpc_name);
  context.reached_daemon = status.error_code() != grpc::StatusCode::UNAVAILABLE;
  return context;
}

int ReportCallError(const grpc::Status& status, const ErrorContext& context, bool debug,
                    std::ostream& err) {
  err << ErrorReport(status, context, debug);
  return ConnectionLost(status, context) ? kExitUnavailable : ExitCodeForStatus(status.error_code());
}

}  // namespace berth::client

#pragma once

// Turns a failed call into what the user reads on stderr: one clear sentence, prefixed "berth: ".

#include <grpcpp/support/status.h>

#include <iosfwd>
#include <string>

namespace berth::client {

// What the CLI knew about a call beyond its status.
struct ErrorContext {
  // The socket the CLI dialled, named in the "cannot reach" sentence.
  std::string socket_path;
  // False when the call failed because no connection to the daemon could be made; an UNAVAILABLE
  // the daemon itself sent (e.g. while draining) keeps this true and shows the daemon's message.
  bool reached_daemon = true;
  // Sentence for a DEADLINE_EXCEEDED raised by the client's own deadline (the daemon's own
  // DEADLINE_EXCEEDED messages are shown as sent), e.g. `berthd did not answer within 30 s`.
  // Empty: a generic sentence.
  std::string deadline_sentence;
  // The RPC's method name, e.g. "GetContainer", shown with --debug.
  std::string rpc_name;
  // For streams: set once the daemon said the session is up (exec started, console attached). A
  // broken connection after that is "the connection to berthd was lost", followed by
  // `after_loss` (e.g. "the container keeps running"), never "cannot reach berthd".
  bool session_up = false;
  std::string after_loss;
};

// True when `status` says the connection broke under a session that was up (see session_up):
// the CLI exits with kExitUnavailable then, whatever the code.
bool ConnectionLost(const grpc::Status& status, const ErrorContext& context);

// The one sentence for a failed `status` (not OK), without the "berth: " prefix or a newline.
// Uses the daemon's message, which names what is wrong; control characters in it are replaced so a
// message cannot drive the terminal.
std::string ErrorSentence(const grpc::Status& status, const ErrorContext& context);

// Everything to write to stderr for a failed `status`: "berth: <sentence>\n", and with `debug` a
// second line "berth: debug: <rpc> failed with <CODE_NAME>: <raw message>[ (<n> bytes of error
// details)]\n".
std::string ErrorReport(const grpc::Status& status, const ErrorContext& context, bool debug);

// The context of a call that failed with `status`: the socket and the RPC named, the daemon reached
// unless the status is UNAVAILABLE (an UNAVAILABLE berthd sent itself, e.g. while draining, comes
// with a message and still reads well as "cannot reach").
ErrorContext CallContext(const std::string& socket_path, std::string rpc_name,
                         const grpc::Status& status);

// Writes ErrorReport to `err` and returns the CLI's exit code for the failure: kExitUnavailable
// when the connection was lost under a session (ConnectionLost), else ExitCodeForStatus.
int ReportCallError(const grpc::Status& status, const ErrorContext& context, bool debug,
                    std::ostream& err);

}  // namespace berth::client

#include "berth/api/console_service.h"

#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "berth/api/converters.h"
#include "reactor_util.h"
#include "stdio_session.h"

namespace berth::api {
namespace {

using berth::v1::ConsoleRequest;
using berth::v1::ConsoleResponse;

// The initial metadata that tells the client the console is attached (see console.proto).
constexpr char kAttachedKey[] = "berth-console";
constexpr char kAttachedValue[] = "attached";

class ConsoleSession final : public StdioSession<ConsoleRequest, ConsoleResponse> {
 public:
  ConsoleSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, std::atomic<int>* sessions)
      : StdioSession(sessions), deps_(deps), ctx_(ctx) {}

 private:
  absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> Open(
      const ConsoleRequest& first) override {
    if (!first.has_start()) {
      return absl::InvalidArgumentError(
          "the first frame of a console stream must be a start frame");
    }
    name_ = first.start().container();
    Audit(deps_, ctx_, "AttachConsole", name_);
    auto console = deps_.manager->AttachConsole(name_, first.start().window().rows(),
                                                first.start().window().cols());
    if (console.ok()) ctx_->AddInitialMetadata(kAttachedKey, kAttachedValue);
    return console;
  }

  void OnFrame(ConsoleRequest& frame, runtime::StdioEndpoint& endpoint, bool,
               ClientInput& input) override {
    switch (frame.frame_case()) {
      case ConsoleRequest::kInput:
        input.pending = std::move(*frame.mutable_input());
        break;
      case ConsoleRequest::kResize:
        (void)endpoint.Resize(
            static_cast<uint16_t>(std::min<uint32_t>(frame.resize().rows(), 65535)),
            static_cast<uint16_t>(std::min<uint32_t>(frame.resize().cols(), 65535)));
        break;
      default:
        break;  // a second start frame or an empty frame: ignored
    }
  }

  // A half-close is the client detaching: the session ends, the container runs on.
  bool OnClientDone(ClientInput&) override { return true; }

  void SetOutput(ConsoleResponse& response, int, const char* data, size_t n) override {
    response.set_output(data, n);
  }

  void OnExited(runtime::StdioEndpoint&) override {}

  void End() override {
    response_.set_closed(
        absl::StrCat("the console of \"", name_, "\" closed: the container stopped or restarted"));
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  // Detaching (closing the endpoint) is all there is to do.
  void Abandon(runtime::StdioEndpoint&) override {}

  const char* GoneMessage() const override { return "the client went away; detached"; }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  std::string name_;
};

}  // namespace

grpc::ServerBidiReactor<ConsoleRequest, ConsoleResponse>* ConsoleService::Attach(
    grpc::CallbackServerContext* ctx) {
  if (sessions_.fetch_add(1) >= kMaxSessions) {
    sessions_.fetch_sub(1);
    return new RefusedStream<ConsoleRequest, ConsoleResponse>(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(kMaxSessions, " console sessions are open already; retry when some end")));
  }
  return new ConsoleSession(deps_, ctx, &sessions_);
}

grpc::ServerUnaryReactor* ConsoleService::GetLog(grpc::CallbackServerContext* ctx,
                                                 const berth::v1::GetConsoleLogRequest* request,
                                                 berth::v1::GetConsoleLogResponse* response) {
  return FinishOnExecutor(
      ctx, deps_.executor, [manager = deps_.manager, request, response]() -> absl::Status {
        auto log = manager->ReadConsoleLog(request->container(), request->max_bytes());
        if (!log.ok()) return log.status();
        response->set_data(std::move(log->data));
        response->set_truncated(log->truncated);
        return absl::OkStatus();
      });
}

}  // namespace berth::api

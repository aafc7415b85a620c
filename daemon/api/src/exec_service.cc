#include "berth/api/exec_service.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "berth/api/converters.h"
#include "berth/runtime/exec_process.h"
#include "stdio_session.h"

namespace berth::api {
namespace {

using berth::v1::ExecRequest;
using berth::v1::ExecResponse;

constexpr absl::Duration kHangupGrace = absl::Seconds(2);

// An exec stream: the endpoint is the process ContainerManager::Exec started; the stream ends
// with its exit frame.
class ExecSession final : public StdioSession<ExecRequest, ExecResponse> {
 public:
  ExecSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, std::atomic<int>* sessions)
      : StdioSession(sessions), deps_(deps), ctx_(ctx) {}

 private:
  absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> Open(const ExecRequest& first) override {
    if (!first.has_start()) {
      return absl::InvalidArgumentError("the first frame of an exec stream must be a start frame");
    }
    const berth::v1::ExecStart& start = first.start();
    core::ExecParams params;
    params.argv.assign(start.argv().begin(), start.argv().end());
    for (const auto& [key, value] : start.env()) params.env[key] = value;
    params.cwd = start.cwd();
    params.uid = start.uid();
    params.gid = start.gid();
    params.tty = start.tty();
    if (start.has_window()) {
      params.rows = start.window().rows();
      params.cols = start.window().cols();
    }
    Audit(deps_, ctx_, "Exec", start.container(), params.argv.empty() ? "" : params.argv[0]);
    auto started = deps_.manager->Exec(start.container(), params);
    if (!started.ok()) return started.status();
    // Tells the client the process runs (see exec.proto): a stream that breaks after this lost
    // its connection to berthd, it did not fail to reach it.
    ctx_->AddInitialMetadata("berth-exec", "started");
    process_ = started->get();
    return std::unique_ptr<runtime::StdioEndpoint>(*std::move(started));
  }

  void OnFrame(ExecRequest& frame, runtime::StdioEndpoint& endpoint, bool exited,
               ClientInput& input) override {
    switch (frame.frame_case()) {
      case ExecRequest::kStdin:
        input.pending = std::move(*frame.mutable_stdin());
        break;
      case ExecRequest::kStdinEof:
        input.eof = true;
        break;
      case ExecRequest::kResize:
        (void)endpoint.Resize(
            static_cast<uint16_t>(std::min<uint32_t>(frame.resize().rows(), 65535)),
            static_cast<uint16_t>(std::min<uint32_t>(frame.resize().cols(), 65535)));
        break;
      case ExecRequest::kSignal:
        if (!exited) (void)process_->Signal(frame.signal());
        break;
      default:
        break;  // a second start frame or an empty frame: ignored
    }
  }

  bool OnClientDone(ClientInput& input) override {
    input.eof = true;  // a half-close is the end of stdin; the process runs on
    return false;
  }

  void SetOutput(ExecResponse& response, int which, const char* data, size_t n) override {
    if (which == 0) {
      response.set_stdout(data, n);
    } else {
      response.set_stderr(data, n);
    }
  }

  void OnExited(runtime::StdioEndpoint&) override { exit_status_ = process_->Wait(); }

  void End() override {
    if (!exit_status_.ok()) {
      Finish(ToGrpc(exit_status_.status()));
      return;
    }
    response_.mutable_exit()->set_code(exit_status_->code);
    response_.mutable_exit()->set_signal(exit_status_->signal);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  // Kills the process group (SIGHUP, then SIGKILL after kHangupGrace) and reaps it.
  void Abandon(runtime::StdioEndpoint&) override {
    (void)process_->Signal(SIGHUP);
    pollfd pfd = {process_->exit_fd(), POLLIN, 0};
    int ready = 0;
    do {
      ready = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(kHangupGrace)));
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) (void)process_->Signal(SIGKILL);
    (void)process_->Wait();
  }

  const char* GoneMessage() const override {
    return "the client went away; the process was killed";
  }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  // The session's process, owned by the pump as its endpoint (valid from Open to the pump's end).
  runtime::ExecProcess* process_ = nullptr;
  absl::StatusOr<runtime::ExecExit> exit_status_ = absl::UnknownError("not exited");
};

}  // namespace

grpc::ServerBidiReactor<ExecRequest, ExecResponse>* ExecService::Exec(
    grpc::CallbackServerContext* ctx) {
  // Each session holds a thread and a helper process: bound them, whatever clients ask for.
  if (sessions_.fetch_add(1) >= kMaxSessions) {
    sessions_.fetch_sub(1);
    return new RefusedStream<ExecRequest, ExecResponse>(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(kMaxSessions, " exec sessions are open already; retry when some end")));
  }
  return new ExecSession(deps_, ctx, &sessions_);
}

}  // namespace berth::api

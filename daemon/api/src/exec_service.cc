#include "berth/api/exec_service.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "berth/api/converters.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/core/logging.h"
#include "berth/runtime/exec_process.h"
#include "spdlog/spdlog.h"

namespace berth::api {
namespace {

using berth::v1::ExecRequest;
using berth::v1::ExecResponse;

constexpr size_t kChunkBytes = 256 * 1024;
constexpr absl::Duration kHangupGrace = absl::Seconds(2);

// A stream refused before it starts: finishes at once with `status`.
class RefusedSession final : public grpc::ServerBidiReactor<ExecRequest, ExecResponse> {
 public:
  explicit RefusedSession(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

class ExecSession final : public grpc::ServerBidiReactor<ExecRequest, ExecResponse> {
 public:
  // `sessions` counts the open sessions; this one is already counted and uncounts itself.
  ExecSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, std::atomic<int>* sessions)
      : deps_(deps),
        ctx_(ctx),
        sessions_(sessions),
        wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    StartRead(&request_);
  }
  ~ExecSession() override {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    sessions_->fetch_sub(1);
  }

  void OnReadDone(bool ok) override {
    if (!pump_started_) {
      // The first frame: the start, on this gRPC thread; all later reactions are the pump's.
      if (!ok || !request_.has_start()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first frame of an exec stream must be a start frame"));
        return;
      }
      if (wake_fd_ < 0) {
        Finish(grpc::Status(grpc::StatusCode::INTERNAL, "cannot create an eventfd"));
        return;
      }
      pump_started_ = true;
      pump_ = std::thread([this, start = request_.start()] { Pump(start); });
      return;
    }
    absl::MutexLock lock(&mu_);
    read_ready_ = true;
    read_ok_ = ok;
    Wake();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) client_gone_ = true;
    Wake();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    client_gone_ = true;
    Wake();
  }

  void OnDone() override {
    if (pump_.joinable()) pump_.join();
    delete this;
  }

 private:
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }

  void Pump(berth::v1::ExecStart start);
  // Kills the process group (SIGHUP, then SIGKILL after kHangupGrace) and reaps it.
  void KillAndReap(runtime::ExecProcess& process);

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  std::atomic<int>* const sessions_;
  const int wake_fd_;
  bool pump_started_ = false;  // only touched by the first OnReadDone
  std::thread pump_;

  // The frame being read. Written by gRPC between StartRead and OnReadDone; read by the pump
  // after it saw read_ready_ and before its next StartRead.
  ExecRequest request_;
  // The frame being written; touched by the pump only while no write is in flight.
  ExecResponse response_;

  absl::Mutex mu_;
  // Guarded by mu_: what the reactions tell the pump.
  bool read_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool read_ok_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
};

void ExecSession::KillAndReap(runtime::ExecProcess& process) {
  (void)process.Signal(SIGHUP);
  pollfd pfd = {process.exit_fd(), POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(kHangupGrace)));
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) (void)process.Signal(SIGKILL);
  (void)process.Wait();
}

void ExecSession::Pump(berth::v1::ExecStart start) {
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
  if (!started.ok()) {
    Finish(ToGrpc(started.status()));
    return;
  }
  runtime::ExecProcess& process = **started;

  bool read_outstanding = true;
  bool read_closed = false;
  StartRead(&request_);
  std::string stdin_pending;
  bool stdin_eof = false;
  int out_fds[2] = {process.stdout_fd(), process.stderr_fd()};  // -1 once at EOF
  bool drained[2] = {false, false};  // after the exit: nothing more right now
  bool exited = false;
  absl::StatusOr<runtime::ExecExit> exit_status = absl::UnknownError("not exited");
  int next_out = 0;  // alternate stdout and stderr so neither starves
  std::string chunk(kChunkBytes, '\0');

  while (true) {
    bool gone = false;
    bool write_busy = false;
    bool frame_ready = false;
    bool frame_ok = false;
    {
      absl::MutexLock lock(&mu_);
      gone = client_gone_;
      write_busy = write_in_flight_;
      frame_ready = read_ready_;
      frame_ok = read_ok_;
      read_ready_ = false;
    }
    if (gone) break;

    if (frame_ready) {
      read_outstanding = false;
      if (!frame_ok) {
        read_closed = true;  // the client half-closed (or went away: then `gone` follows)
        stdin_eof = true;
      } else {
        switch (request_.frame_case()) {
          case ExecRequest::kStdin:
            stdin_pending = std::move(*request_.mutable_stdin());
            break;
          case ExecRequest::kStdinEof:
            stdin_eof = true;
            break;
          case ExecRequest::kResize:
            (void)process.Resize(
                static_cast<uint16_t>(std::min<uint32_t>(request_.resize().rows(), 65535)),
                static_cast<uint16_t>(std::min<uint32_t>(request_.resize().cols(), 65535)));
            break;
          case ExecRequest::kSignal:
            if (!exited) (void)process.Signal(request_.signal());
            break;
          default:
            break;  // a second start frame or an empty frame: ignored
        }
      }
    }

    // stdin: write what is buffered; the next frame is read only when it is all written.
    if (!stdin_pending.empty()) {
      const int fd = process.stdin_fd();
      if (fd < 0 || exited) {
        stdin_pending.clear();
      } else {
        const ssize_t n = ::write(fd, stdin_pending.data(), stdin_pending.size());
        if (n > 0) {
          stdin_pending.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          stdin_pending.clear();  // the process closed its stdin: drop what it will never read
        }
      }
    }
    if (stdin_pending.empty() && stdin_eof && process.stdin_fd() >= 0) process.CloseStdin();
    if (stdin_pending.empty() && !read_outstanding && !read_closed) {
      read_outstanding = true;
      StartRead(&request_);
    }

    // Output: one write in flight; read from the process only when the client took the last one.
    if (!write_busy) {
      bool sent = false;
      for (int k = 0; k < 2 && !sent; ++k) {
        const int which = (next_out + k) % 2;
        const int fd = out_fds[which];
        if (fd < 0 || (exited && drained[which])) continue;
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n > 0) {
          if (which == 0) {
            response_.set_stdout(chunk.data(), static_cast<size_t>(n));
          } else {
            response_.set_stderr(chunk.data(), static_cast<size_t>(n));
          }
          {
            absl::MutexLock lock(&mu_);
            write_in_flight_ = true;
          }
          StartWrite(&response_);
          next_out = (which + 1) % 2;
          sent = true;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          // EOF (or EIO from a pty master whose slave is gone).
          if (!process.tty()) process.CloseOutput(fd);
          out_fds[which] = -1;
        } else if (errno == EAGAIN && exited) {
          drained[which] = true;
        }
      }
      if (sent) continue;
      const bool all_drained = (out_fds[0] < 0 || drained[0]) && (out_fds[1] < 0 || drained[1]);
      if (exited && all_drained) {
        if (!exit_status.ok()) {
          Finish(ToGrpc(exit_status.status()));
        } else {
          response_.mutable_exit()->set_code(exit_status->code);
          response_.mutable_exit()->set_signal(exit_status->signal);
          StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
        }
        return;
      }
    }

    // Wait for something to do.
    pollfd fds[5];
    int nfds = 0;
    fds[nfds++] = {wake_fd_, POLLIN, 0};
    if (!exited) fds[nfds++] = {process.exit_fd(), POLLIN, 0};
    if (!write_busy) {
      for (int fd : out_fds) {
        if (fd >= 0) fds[nfds++] = {fd, POLLIN, 0};
      }
    }
    if (!stdin_pending.empty() && process.stdin_fd() >= 0) {
      fds[nfds++] = {process.stdin_fd(), POLLOUT, 0};
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(nfds), -1);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t value;
      (void)!::read(wake_fd_, &value, sizeof(value));
    }
    if (!exited && ready > 0 && (fds[1].revents & POLLIN) != 0) {
      exited = true;
      exit_status = process.Wait();
    }
  }

  // The client is gone (or poll failed): the process must not outlive the stream.
  if (!exited) KillAndReap(process);
  {
    absl::MutexLock lock(&mu_);
    auto no_write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_; };
    mu_.AwaitWithTimeout(absl::Condition(&no_write), absl::Seconds(10));
  }
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away; the process was killed"));
}

}  // namespace

grpc::ServerBidiReactor<ExecRequest, ExecResponse>* ExecService::Exec(
    grpc::CallbackServerContext* ctx) {
  // Each session holds a thread and a helper process: bound them, whatever clients ask for.
  if (sessions_.fetch_add(1) >= kMaxSessions) {
    sessions_.fetch_sub(1);
    return new RefusedSession(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat(kMaxSessions, " exec sessions are open already; retry when some end")));
  }
  return new ExecSession(deps_, ctx, &sessions_);
}

}  // namespace berth::api

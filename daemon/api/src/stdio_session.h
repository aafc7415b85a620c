#pragma once

// The bidirectional stream shared by berth.v1.Exec and berth.v1.Console: a reactor plus one pump
// thread that moves bytes between the client and a runtime::StdioEndpoint with backpressure.

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/api/converters.h"
#include "berth/runtime/stdio_endpoint.h"
#include "grpcpp/grpcpp.h"

namespace berth::api {

// A stream refused before it starts: finishes at once with `status`.
template <typename Request, typename Response>
class RefusedStream final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedStream(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

// One session per stream. The first frame arrives on a gRPC thread, which starts the pump thread;
// from then on the pump does everything and the reactions (read done, write done, cancel) only
// record what happened under `mu_` and wake the pump through an eventfd. The pump owns the
// endpoint and is the only thread that touches it, so the endpoint needs no locking; the reactor
// deletes itself in OnDone after joining the pump.
//
// Backpressure: one write to the client in flight (no reads from the endpoint's output
// meanwhile, so a slow client stalls the process or console, not the daemon's memory), one
// client frame buffered (the next is not read until its input is written to the endpoint).
// Memory per session: one output chunk (kChunkBytes) and one client frame.
//
// Subclasses say how to open the endpoint from the first frame, what a later frame means, how
// output is framed and how the stream ends. All hooks run on the pump thread.
template <typename Request, typename Response>
class StdioSession : public grpc::ServerBidiReactor<Request, Response> {
 public:
  static constexpr size_t kChunkBytes = 256 * 1024;

  // `sessions` counts the open sessions of the service; this one is already counted and
  // uncounts itself.
  explicit StdioSession(std::atomic<int>* sessions)
      : sessions_(sessions), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    this->StartRead(&request_);
  }
  ~StdioSession() override {
    if (wake_fd_ >= 0) ::close(wake_fd_);
    sessions_->fetch_sub(1);
  }

  void OnReadDone(bool ok) override {
    if (!pump_started_) {
      // The first frame, on this gRPC thread; all later reactions are the pump's.
      if (!ok) {
        this->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "the stream ended before its start frame"));
        return;
      }
      if (wake_fd_ < 0) {
        this->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "cannot create an eventfd"));
        return;
      }
      pump_started_ = true;
      pump_ = std::thread([this] { Pump(); });
      return;
    }
    absl::MutexLock lock(&mu_);
    read_ready_ = true;
    read_ok_ = ok;
    Wake();
  }

  void OnWriteDone(bool ok) override { WriteFinished(ok); }
  void OnSendInitialMetadataDone(bool ok) override { WriteFinished(ok); }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    client_gone_ = true;
    Wake();
  }

  void OnDone() override {
    if (pump_.joinable()) pump_.join();
    delete this;
  }

 protected:
  // What the client's frames asked for so far, for the pump to carry out.
  struct ClientInput {
    std::string pending;  // bytes to write to the endpoint's input; the next frame waits for it
    bool eof = false;     // no more input: close the endpoint's input once `pending` is written
  };

  // The first frame (request_): the endpoint to pump, or the status to end the stream with
  // (e.g. INVALID_ARGUMENT when it is not a start frame). On success the stream's initial
  // metadata (whatever the hook added to the context) is sent at once.
  virtual absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> Open(const Request& first) = 0;
  // A later frame: add input, or act on the endpoint (resize, signal). `exited` is true once the
  // endpoint's other side has ended.
  virtual void OnFrame(Request& frame, runtime::StdioEndpoint& endpoint, bool exited,
                       ClientInput& input) = 0;
  // The client half-closed its side. Returns true to end the session now (OK), false to go on
  // (then `input` may be marked at EOF).
  virtual bool OnClientDone(ClientInput& input) = 0;
  // Frames `n` bytes of output from stream `which` (0: stdout or the terminal, 1: stderr).
  virtual void SetOutput(Response& response, int which, const char* data, size_t n) = 0;
  // exit_fd() became readable: the other side ended (e.g. reap the process). Once.
  virtual void OnExited(runtime::StdioEndpoint& endpoint) = 0;
  // After OnExited all output is drained: end the stream (Finish, or StartWriteAndFinish with
  // response_ as the last frame).
  virtual void End() = 0;
  // The client went away (or the pump failed) before the end: tear the endpoint down (exec
  // kills the process group). Then the stream is finished CANCELLED with GoneMessage().
  virtual void Abandon(runtime::StdioEndpoint& endpoint) = 0;
  virtual const char* GoneMessage() const = 0;

  // The frame being read. Written by gRPC between StartRead and OnReadDone; read by the pump
  // after it saw read_ready_ and before its next StartRead.
  Request request_;
  // The frame being written; touched by the pump only while no write is in flight.
  Response response_;

 private:
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof(one));
  }

  void WriteFinished(bool ok) {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) client_gone_ = true;
    Wake();
  }

  void MarkWriting() {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = true;
  }

  // Finishes with `status` once no write is in flight (bounded: a stuck client is cancelled).
  void FinishAfterWrites(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      auto no_write = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_; };
      mu_.AwaitWithTimeout(absl::Condition(&no_write), absl::Seconds(10));
    }
    this->Finish(std::move(status));
  }

  void Pump();

  std::atomic<int>* const sessions_;
  const int wake_fd_;
  bool pump_started_ = false;  // only touched by the first OnReadDone
  std::thread pump_;

  absl::Mutex mu_;
  // Guarded by mu_: what the reactions tell the pump.
  bool read_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool read_ok_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
};

template <typename Request, typename Response>
void StdioSession<Request, Response>::Pump() {
  absl::StatusOr<std::unique_ptr<runtime::StdioEndpoint>> opened = Open(request_);
  if (!opened.ok()) {
    this->Finish(ToGrpc(opened.status()));
    return;
  }
  std::unique_ptr<runtime::StdioEndpoint> endpoint = *std::move(opened);
  runtime::StdioEndpoint& io = *endpoint;
  // The client learns that the session is up (e.g. the console is attached) before any output.
  MarkWriting();
  this->StartSendInitialMetadata();

  bool read_outstanding = true;
  bool read_closed = false;
  this->StartRead(&request_);
  ClientInput input;
  int out_fds[2] = {io.stdout_fd(), io.stderr_fd()};  // -1 once at EOF
  bool drained[2] = {false, false};                   // after the exit: nothing more right now
  bool exited = false;
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
      if (frame_ok) {
        OnFrame(request_, io, exited, input);
      } else {
        read_closed = true;  // the client half-closed (or went away: then `gone` follows)
        if (OnClientDone(input)) {
          endpoint.reset();
          FinishAfterWrites(grpc::Status::OK);
          return;
        }
      }
    }

    // Input: write what is buffered; the next frame is read only when it is all written.
    if (!input.pending.empty()) {
      const int fd = io.stdin_fd();
      if (fd < 0 || exited) {
        input.pending.clear();
      } else {
        const ssize_t n = ::write(fd, input.pending.data(), input.pending.size());
        if (n > 0) {
          input.pending.erase(0, static_cast<size_t>(n));
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          input.pending.clear();  // the other side closed its input: drop what it never reads
        }
      }
    }
    if (input.pending.empty() && input.eof && io.stdin_fd() >= 0) io.CloseStdin();
    if (input.pending.empty() && !read_outstanding && !read_closed) {
      read_outstanding = true;
      this->StartRead(&request_);
    }

    // Output: one write in flight; read from the endpoint only when the client took the last.
    if (!write_busy) {
      bool sent = false;
      for (int k = 0; k < 2 && !sent; ++k) {
        const int which = (next_out + k) % 2;
        const int fd = out_fds[which];
        if (fd < 0 || (exited && drained[which])) continue;
        const ssize_t n = ::read(fd, chunk.data(), chunk.size());
        if (n > 0) {
          SetOutput(response_, which, chunk.data(), static_cast<size_t>(n));
          MarkWriting();
          this->StartWrite(&response_);
          next_out = (which + 1) % 2;
          sent = true;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          // EOF (or EIO from a terminal master whose other side is gone).
          io.CloseOutput(fd);
          out_fds[which] = -1;
        } else if (errno == EAGAIN && exited) {
          drained[which] = true;
        }
      }
      if (sent) continue;
      const bool all_drained = (out_fds[0] < 0 || drained[0]) && (out_fds[1] < 0 || drained[1]);
      if (exited && all_drained) {
        End();
        endpoint.reset();
        return;
      }
    }

    // Wait for something to do.
    pollfd fds[5];
    int nfds = 0;
    fds[nfds++] = {wake_fd_, POLLIN, 0};
    if (!exited) fds[nfds++] = {io.exit_fd(), POLLIN, 0};
    if (!write_busy) {
      for (int fd : out_fds) {
        if (fd >= 0) fds[nfds++] = {fd, POLLIN, 0};
      }
    }
    if (!input.pending.empty() && io.stdin_fd() >= 0) {
      fds[nfds++] = {io.stdin_fd(), POLLOUT, 0};
    }
    const int ready = ::poll(fds, static_cast<nfds_t>(nfds), -1);
    if (ready < 0 && errno != EINTR) break;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t value;
      (void)!::read(wake_fd_, &value, sizeof(value));
    }
    if (!exited && ready > 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      exited = true;
      OnExited(io);
    }
  }

  // The client is gone (or poll failed): nothing of the session may outlive the stream.
  if (!exited) Abandon(io);
  endpoint.reset();
  FinishAfterWrites(grpc::Status(grpc::StatusCode::CANCELLED, GoneMessage()));
}

}  // namespace berth::api

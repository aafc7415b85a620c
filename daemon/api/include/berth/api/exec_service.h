#pragma once

#include <atomic>

#include "berth/api/services.h"
#include "berth/v1/exec.grpc.pb.h"

namespace berth::api {

// berth.v1.Exec: one bidirectional stream per process (protocol in proto/berth/v1/exec.proto).
//
// Each stream gets a session (the StdioSession shared with the console, in
// daemon/api/src/stdio_session.h): a reactor plus one pump thread that owns the process. The pump
// starts the process (ContainerManager::Exec), then moves bytes with backpressure: one write to
// the client in flight at a time (no reads from the process's stdout/stderr meanwhile, so a slow
// client stalls the process, not the daemon's memory), one stdin frame buffered at a time (the
// next is not read from the client until it is written to the process). Memory per session is
// bounded by one output chunk (256 KiB) and one client frame. When the process has exited its
// remaining output is drained, then exactly one exit frame is sent and the stream ends OK; an
// error from the runtime before that ends it with that status instead. A cancelled stream or a
// client that cannot be written to gets its process group SIGHUP, then SIGKILL after 2 s.
class ExecService final : public berth::v1::Exec::CallbackService {
 public:
  // At most this many sessions at once; more are RESOURCE_EXHAUSTED.
  static constexpr int kMaxSessions = 256;

  explicit ExecService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerBidiReactor<berth::v1::ExecRequest, berth::v1::ExecResponse>* Exec(
      grpc::CallbackServerContext* ctx) override;

 private:
  ServiceDeps deps_;
  std::atomic<int> sessions_{0};  // Open sessions, counted by ExecSession's life.
};

}  // namespace berth::api

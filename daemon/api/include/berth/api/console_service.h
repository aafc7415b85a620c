#pragma once

#include <atomic>

#include "berth/api/services.h"
#include "berth/v1/console.grpc.pb.h"

namespace berth::api {

// berth.v1.Console: a container's console over one bidirectional stream, and its log (protocol
// in proto/berth/v1/console.proto).
//
// Attach runs a session like exec's (daemon/api/src/stdio_session.h: one pump thread, one write
// in flight, one client frame buffered; at most one 256 KiB output chunk per session). The
// endpoint is the console ContainerManager::AttachConsole lends (one client per console). The
// session ends OK when the client half-closes (detach) or, after a `closed` frame, when the
// console goes away (the container stopped); a client that goes away just detaches: the
// container and what runs on its console are never touched. GetLog runs on the executor.
class ConsoleService final : public berth::v1::Console::CallbackService {
 public:
  // At most this many attached sessions at once (each holds a thread); more are
  // RESOURCE_EXHAUSTED.
  static constexpr int kMaxSessions = 256;

  explicit ConsoleService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerBidiReactor<berth::v1::ConsoleRequest, berth::v1::ConsoleResponse>* Attach(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetLog(grpc::CallbackServerContext* ctx,
                                   const berth::v1::GetConsoleLogRequest* request,
                                   berth::v1::GetConsoleLogResponse* response) override;

 private:
  ServiceDeps deps_;
  std::atomic<int> sessions_{0};  // Open sessions, counted by each session's life.
};

}  // namespace berth::api

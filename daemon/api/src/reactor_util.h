#pragma once

#include <utility>

#include "absl/status/status.h"
#include "berth/api/converters.h"
#include "berth/core/executor.h"
#include "grpcpp/grpcpp.h"

namespace berth::api {

// Runs `work` (returning absl::Status; it fills the response) on the executor and finishes the
// call with its outcome. If the executor refuses the work, the call finishes at once with why.
template <typename Work>
grpc::ServerUnaryReactor* FinishOnExecutor(grpc::CallbackServerContext* ctx,
                                           core::Executor* executor, Work work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status posted = executor->Post([reactor, work = std::move(work)]() mutable {
    reactor->Finish(ToGrpc(work()));
  });
  if (!posted.ok()) reactor->Finish(ToGrpc(posted));
  return reactor;
}

inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* ctx,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

}  // namespace berth::api

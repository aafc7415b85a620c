#pragma once

#include <atomic>

#include "berth/api/services.h"
#include "berth/v1/files.grpc.pb.h"

namespace berth::api {

// berth.v1.Files: single files into and out of a container (protocol in
// proto/berth/v1/files.proto; resolution inside the root in berth/core/files.h).
//
// PushFile/PullFile: each call is a reactor whose blocking work (opening the root, file reads and
// writes, the final rename) runs on the executor, one task at a time per call: PushFile reads the
// next frame only after the previous chunk is written; PullFile reads the next chunk only after the
// client took the previous one (one write in flight). Memory per call is bounded by one 1 MiB
// chunk.
//
// PushTree/PullTree: a tar stream is made or taken apart by libarchive, whose callbacks block
// for the next or previous chunk, so each call has a worker thread of its own (not the executor's:
// a slow client would hold an executor thread for the whole transfer) that waits on the reactor's
// reactions. Backpressure as above: a push reads the next frame only once the worker took the
// last one (one frame buffered, one being read, one inside libarchive); a pull has one write in
// flight. At most kMaxTreeTransfers run at once (RESOURCE_EXHAUSTED beyond).
class FilesService final : public berth::v1::Files::CallbackService {
 public:
  explicit FilesService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerReadReactor<berth::v1::PushFileRequest>* PushFile(
      grpc::CallbackServerContext* ctx, berth::v1::PushFileResponse* response) override;
  grpc::ServerWriteReactor<berth::v1::PullFileResponse>* PullFile(
      grpc::CallbackServerContext* ctx, const berth::v1::PullFileRequest* request) override;
  grpc::ServerReadReactor<berth::v1::PushTreeRequest>* PushTree(
      grpc::CallbackServerContext* ctx, berth::v1::PushTreeResponse* response) override;
  grpc::ServerWriteReactor<berth::v1::PullTreeResponse>* PullTree(
      grpc::CallbackServerContext* ctx, const berth::v1::PullTreeRequest* request) override;

  static constexpr int kMaxTreeTransfers = 64;

 private:
  ServiceDeps deps_;
  std::atomic<int> tree_transfers_{0};  // PushTree/PullTree calls open, counted by their lives
};

}  // namespace berth::api

#pragma once

#include "berth/api/services.h"
#include "berth/v1/files.grpc.pb.h"

namespace berth::api {

// berth.v1.Files: single files into and out of a container (protocol in
// proto/berth/v1/files.proto; resolution inside the root in berth/core/files.h).
//
// Each call is a reactor whose blocking work (opening the root, file reads and writes, the final
// rename) runs on the executor, one task at a time per call: PushFile reads the next frame only
// after the previous chunk is written; PullFile reads the next chunk only after the client took
// the previous one (one write in flight). Memory per call is bounded by one 1 MiB chunk.
class FilesService final : public berth::v1::Files::CallbackService {
 public:
  explicit FilesService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerReadReactor<berth::v1::PushFileRequest>* PushFile(
      grpc::CallbackServerContext* ctx, berth::v1::PushFileResponse* response) override;
  grpc::ServerWriteReactor<berth::v1::PullFileResponse>* PullFile(
      grpc::CallbackServerContext* ctx, const berth::v1::PullFileRequest* request) override;

 private:
  ServiceDeps deps_;
};

}  // namespace berth::api

#pragma once

#include <atomic>

#include "berth/api/services.h"
#include "berth/v1/images.grpc.pb.h"

namespace berth::api {

// berth.v1.Images: forwards to core::ImageManager. Import, build and export run on a thread of
// their own per call (they stream and block on disk), bounded by kMaxTransfers; the short calls
// run on the executor.
class ImagesService final : public berth::v1::Images::CallbackService {
 public:
  explicit ImagesService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerBidiReactor<berth::v1::ImportImageRequest, berth::v1::ImageProgress>* ImportImage(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerWriteReactor<berth::v1::ImageProgress>* BuildImage(
      grpc::CallbackServerContext* ctx, const berth::v1::BuildImageRequest* request) override;
  grpc::ServerWriteReactor<berth::v1::ExportImageResponse>* ExportImage(
      grpc::CallbackServerContext* ctx, const berth::v1::ExportImageRequest* request) override;
  grpc::ServerUnaryReactor* ListImages(grpc::CallbackServerContext* ctx,
                                       const berth::v1::ListImagesRequest* request,
                                       berth::v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* GetImage(grpc::CallbackServerContext* ctx,
                                     const berth::v1::GetImageRequest* request,
                                     berth::v1::Image* response) override;
  grpc::ServerUnaryReactor* DeleteImage(grpc::CallbackServerContext* ctx,
                                        const berth::v1::DeleteImageRequest* request,
                                        berth::v1::DeleteImageResponse* response) override;
  grpc::ServerUnaryReactor* AddImageAlias(grpc::CallbackServerContext* ctx,
                                          const berth::v1::AddImageAliasRequest* request,
                                          berth::v1::Image* response) override;
  grpc::ServerUnaryReactor* RemoveImageAlias(grpc::CallbackServerContext* ctx,
                                             const berth::v1::RemoveImageAliasRequest* request,
                                             berth::v1::Image* response) override;

  static constexpr int kMaxTransfers = 8;

 private:
  ServiceDeps deps_;
  std::atomic<int> transfers_{0};  // import/build/export calls open, counted by their lives
};

}  // namespace berth::api

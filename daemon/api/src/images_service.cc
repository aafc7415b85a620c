#include "berth/api/images_service.h"

#include <google/protobuf/util/time_util.h>

#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/api/converters.h"
#include "berth/core/image_manager.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

using berth::v1::ExportImageResponse;
using berth::v1::Image;
using berth::v1::ImageProgress;
using berth::v1::ImportImageRequest;

// How long a finishing worker waits for its last write to complete.
constexpr absl::Duration kLastWriteWait = absl::Seconds(10);
constexpr size_t kMaxChunk = 1024 * 1024;

// Local to this service: nothing else converts images.
void ToProto(const core::ImageView& view, Image* out) {
  const auto& r = view.record;
  out->set_fingerprint(r.fingerprint);
  for (const auto& alias : r.aliases) out->add_aliases(alias);
  out->mutable_metadata()->insert(r.metadata.begin(), r.metadata.end());
  out->set_file_size_bytes(r.file_size);
  out->set_unpacked_size_bytes(r.unpacked_size);
  *out->mutable_created_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(r.created_at));
  for (const auto& name : view.used_by) out->add_used_by(name);
}

absl::Status NotServed() {
  return absl::UnimplementedError("this berthd serves no images");
}

// The writing half of a streaming image call: one write in flight; the worker thread calls
// Send, then FinishWith once; OnDone joins the worker. Progress frames are dropped while a write
// is in flight (the next one carries newer numbers); other frames wait their turn.
template <typename Base, typename Frame>
class WritingSession : public Base {
 public:
  explicit WritingSession(std::atomic<int>* transfers) : transfers_(transfers) {}
  ~WritingSession() override { transfers_->fetch_sub(1); }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) gone_ = true;
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    gone_ = true;
  }

  void OnDone() override {
    if (worker_.joinable()) worker_.join();
    delete this;
  }

 protected:
  absl::Status Send(Frame frame, bool droppable) {
    {
      absl::MutexLock lock(&mu_);
      if (droppable && write_in_flight_) return absl::OkStatus();
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_ || gone_; };
      mu_.Await(absl::Condition(&idle));
      if (gone_) return absl::CancelledError("the client went away");
      frame_ = std::move(frame);
      write_in_flight_ = true;
    }
    this->StartWrite(&frame_);
    return absl::OkStatus();
  }

  void FinishWith(absl::Status s) {
    {
      absl::MutexLock lock(&mu_);
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_; };
      mu_.AwaitWithTimeout(absl::Condition(&idle), kLastWriteWait);
      if (gone_ && s.ok()) s = absl::CancelledError("the client went away");
    }
    this->Finish(ToGrpc(s));
  }

  core::ImageProgressFn ProgressSender() {
    return [this](const core::ImageProgress& p) {
      ImageProgress frame;
      frame.set_stage(p.stage);
      frame.set_done_bytes(p.done);
      frame.set_total_bytes(p.total);
      frame.set_percent(p.percent);
      (void)Send(std::move(frame), /*droppable=*/true);
    };
  }

  absl::Status SendImage(const core::ImageView& view) {
    ImageProgress frame;
    frame.set_stage("done");
    frame.set_done_bytes(view.record.file_size);
    frame.set_total_bytes(view.record.file_size);
    frame.set_percent(100);
    ToProto(view, frame.mutable_image());
    return Send(std::move(frame), /*droppable=*/false);
  }

  std::thread worker_;
  absl::Mutex mu_;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;

 private:
  std::atomic<int>* const transfers_;
  Frame frame_;  // the worker's while no write is in flight, gRPC's meanwhile
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
};

// ImportImage. Threads: the first OnReadDone (a gRPC thread) starts the worker; afterwards the
// worker owns request_ between its StartRead calls and gRPC between a StartRead and its
// OnReadDone, which hands the frame over under mu_.
class ImportSession final
    : public WritingSession<grpc::ServerBidiReactor<ImportImageRequest, ImageProgress>,
                            ImageProgress> {
 public:
  ImportSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, std::atomic<int>* transfers)
      : WritingSession(transfers), deps_(deps), ctx_(ctx) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!worker_started_) {
      if (!ok || !request_.has_start()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first frame of an image import must be a start frame"));
        return;
      }
      worker_started_ = true;
      worker_ = std::thread([this, start = request_.start()] { Work(start); });
      return;
    }
    absl::MutexLock lock(&mu_);
    if (!ok) {
      ended_ = true;  // half-closed, or gone (Next checks)
    } else if (request_.frame_case() != ImportImageRequest::kData) {
      error_ = absl::InvalidArgumentError("only data frames may follow the start frame");
    } else if (request_.data().size() > kMaxChunk) {
      error_ = absl::InvalidArgumentError("a data frame carries at most 1 MiB");
    } else {
      chunk_ = std::move(*request_.mutable_data());
      has_chunk_ = true;
    }
  }

 private:
  void Work(const berth::v1::ImportImageStart& start) {
    Audit(deps_, ctx_, "ImportImage", "", absl::StrJoin(start.aliases(), ","));
    if (deps_.images == nullptr) {
      FinishWith(NotServed());
      return;
    }
    core::ImportParams params;
    params.aliases.assign(start.aliases().begin(), start.aliases().end());
    params.metadata.insert(start.metadata().begin(), start.metadata().end());
    params.expected_size = start.size_bytes();
    StartRead(&request_);
    auto view = deps_.images->Import(params, [this] { return Next(); }, ProgressSender());
    if (!view.ok()) {
      FinishWith(view.status());
      return;
    }
    FinishWith(SendImage(*view));
  }

  absl::StatusOr<std::string> Next() {
    std::string chunk;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return has_chunk_ || ended_ || gone_ || !error_.ok();
      };
      mu_.Await(absl::Condition(&ready));
      if (gone_ || (ended_ && !has_chunk_ && ctx_->IsCancelled())) {
        return absl::CancelledError("the client went away");
      }
      if (!error_.ok()) return error_;
      if (!has_chunk_) return std::string();  // half-closed: the end of the file
      chunk = std::move(chunk_);
      has_chunk_ = false;
    }
    StartRead(&request_);
    return chunk;
  }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  bool worker_started_ = false;  // only touched by the first OnReadDone
  ImportImageRequest request_;
  std::string chunk_ ABSL_GUARDED_BY(mu_);
  bool has_chunk_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

class BuildSession final
    : public WritingSession<grpc::ServerWriteReactor<ImageProgress>, ImageProgress> {
 public:
  BuildSession(ServiceDeps deps, grpc::CallbackServerContext* ctx,
               const berth::v1::BuildImageRequest& request, std::atomic<int>* transfers)
      : WritingSession(transfers) {
    Audit(deps, ctx, "BuildImage", "", request.distribution());
    worker_ = std::thread([this, deps, request] {
      if (deps.images == nullptr) {
        FinishWith(NotServed());
        return;
      }
      auto view = deps.images->Build(
          request.distribution(),
          std::vector<std::string>(request.aliases().begin(), request.aliases().end()),
          ProgressSender());
      FinishWith(view.ok() ? SendImage(*view) : view.status());
    });
  }
};

class ExportSession final
    : public WritingSession<grpc::ServerWriteReactor<ExportImageResponse>, ExportImageResponse> {
 public:
  ExportSession(ServiceDeps deps, const berth::v1::ExportImageRequest& request,
                std::atomic<int>* transfers)
      : WritingSession(transfers) {
    worker_ = std::thread([this, deps, request] {
      if (deps.images == nullptr) {
        FinishWith(NotServed());
        return;
      }
      FinishWith(deps.images->Export(
          request.image(),
          [this](const core::ImageView& view) {
            ExportImageResponse frame;
            ToProto(view, frame.mutable_info());
            return Send(std::move(frame), /*droppable=*/false);
          },
          [this](std::string chunk) {
            ExportImageResponse frame;
            frame.set_data(std::move(chunk));
            return Send(std::move(frame), /*droppable=*/false);
          }));
    });
  }
};

template <typename Base>
class Refused final : public Base {
 public:
  explicit Refused(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

grpc::Status TooManyTransfers() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat(ImagesService::kMaxTransfers,
                                   " image transfers are running already; retry when some end"));
}

}  // namespace

grpc::ServerBidiReactor<ImportImageRequest, ImageProgress>* ImagesService::ImportImage(
    grpc::CallbackServerContext* ctx) {
  if (transfers_.fetch_add(1) >= kMaxTransfers) {
    transfers_.fetch_sub(1);
    return new Refused<grpc::ServerBidiReactor<ImportImageRequest, ImageProgress>>(
        TooManyTransfers());
  }
  return new ImportSession(deps_, ctx, &transfers_);
}

grpc::ServerWriteReactor<ImageProgress>* ImagesService::BuildImage(
    grpc::CallbackServerContext* ctx, const berth::v1::BuildImageRequest* request) {
  if (transfers_.fetch_add(1) >= kMaxTransfers) {
    transfers_.fetch_sub(1);
    return new Refused<grpc::ServerWriteReactor<ImageProgress>>(TooManyTransfers());
  }
  return new BuildSession(deps_, ctx, *request, &transfers_);
}

grpc::ServerWriteReactor<ExportImageResponse>* ImagesService::ExportImage(
    grpc::CallbackServerContext* /*ctx*/, const berth::v1::ExportImageRequest* request) {
  if (transfers_.fetch_add(1) >= kMaxTransfers) {
    transfers_.fetch_sub(1);
    return new Refused<grpc::ServerWriteReactor<ExportImageResponse>>(TooManyTransfers());
  }
  return new ExportSession(deps_, *request, &transfers_);
}

grpc::ServerUnaryReactor* ImagesService::ListImages(grpc::CallbackServerContext* ctx,
                                                    const berth::v1::ListImagesRequest* /*request*/,
                                                    berth::v1::ListImagesResponse* response) {
  if (deps_.images == nullptr) return FinishNow(ctx, NotServed());
  return FinishOnExecutor(ctx, deps_.executor, [images = deps_.images, response] {
    auto views = images->List();
    if (!views.ok()) return views.status();
    for (const auto& view : *views) ToProto(view, response->add_images());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ImagesService::GetImage(grpc::CallbackServerContext* ctx,
                                                  const berth::v1::GetImageRequest* request,
                                                  Image* response) {
  if (deps_.images == nullptr) return FinishNow(ctx, NotServed());
  return FinishOnExecutor(ctx, deps_.executor, [images = deps_.images, request, response] {
    auto view = images->Get(request->image());
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

grpc::ServerUnaryReactor* ImagesService::DeleteImage(grpc::CallbackServerContext* ctx,
                                                     const berth::v1::DeleteImageRequest* request,
                                                     berth::v1::DeleteImageResponse* /*response*/) {
  if (deps_.images == nullptr) return FinishNow(ctx, NotServed());
  Audit(deps_, ctx, "DeleteImage", "", request->image());
  return FinishOnExecutor(ctx, deps_.executor, [images = deps_.images, request] {
    return images->Delete(request->image());
  });
}

grpc::ServerUnaryReactor* ImagesService::AddImageAlias(
    grpc::CallbackServerContext* ctx, const berth::v1::AddImageAliasRequest* request,
    Image* response) {
  if (deps_.images == nullptr) return FinishNow(ctx, NotServed());
  Audit(deps_, ctx, "AddImageAlias", "", absl::StrCat(request->image(), " ", request->alias()));
  return FinishOnExecutor(ctx, deps_.executor, [images = deps_.images, request, response] {
    auto view = images->AddAlias(request->image(), request->alias());
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

grpc::ServerUnaryReactor* ImagesService::RemoveImageAlias(
    grpc::CallbackServerContext* ctx, const berth::v1::RemoveImageAliasRequest* request,
    Image* response) {
  if (deps_.images == nullptr) return FinishNow(ctx, NotServed());
  Audit(deps_, ctx, "RemoveImageAlias", "", request->alias());
  return FinishOnExecutor(ctx, deps_.executor, [images = deps_.images, request, response] {
    auto view = images->RemoveAlias(request->alias());
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

}  // namespace berth::api

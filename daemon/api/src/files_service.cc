#include "berth/api/files_service.h"

#include <optional>
#include <string>
#include <utility>

#include "berth/api/converters.h"
#include "berth/core/files.h"

namespace berth::api {
namespace {

using berth::v1::PullFileRequest;
using berth::v1::PullFileResponse;
using berth::v1::PushFileRequest;
using berth::v1::PushFileResponse;

// Threads: gRPC reactions start at most one executor task at a time, and the next reaction
// (OnReadDone/OnWriteDone) only comes after that task issued the next StartRead/StartWrite, so
// the members are never touched by two threads at once.
class PushSession final : public grpc::ServerReadReactor<PushFileRequest> {
 public:
  PushSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, PushFileResponse* response)
      : deps_(deps), ctx_(ctx), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!started_) {
      if (!ok || !request_.has_start()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first frame of a push stream must be a start frame"));
        return;
      }
      started_ = true;
      Run([this] { Begin(); });
      return;
    }
    if (!ok) {
      Run([this] { Commit(); });  // the client half-closed (or went away: Commit checks)
      return;
    }
    if (request_.frame_case() != PushFileRequest::kData) {
      Fail(absl::InvalidArgumentError("only data frames may follow the start frame"));
      return;
    }
    if (request_.data().size() > core::kFileChunkBytes) {
      Fail(absl::InvalidArgumentError("a data frame carries at most 1 MiB"));
      return;
    }
    Run([this] {
      absl::Status written = file_->Write(request_.data());
      if (!written.ok()) {
        Fail(written);
        return;
      }
      StartRead(&request_);
    });
  }

  void OnDone() override { delete this; }

 private:
  template <typename F>
  void Run(F task) {
    absl::Status posted = deps_.executor->Post(std::move(task));
    if (!posted.ok()) Fail(posted);
  }

  // Removes the temporary file (if any) and ends the call.
  void Fail(const absl::Status& status) {
    file_.reset();
    Finish(ToGrpc(status));
  }

  void Begin() {
    const auto& start = request_.start();
    Audit(deps_, ctx_, "PushFile", start.container(), start.path());
    auto root = deps_.manager->OpenRoot(start.container());
    if (!root.ok()) {
      Fail(root.status());
      return;
    }
    auto file =
        core::PushedFile::Begin(root->get(), start.path(), start.mode(), start.uid(), start.gid());
    if (!file.ok()) {
      Fail(file.status());
      return;
    }
    file_.emplace(*std::move(file));
    StartRead(&request_);
  }

  void Commit() {
    if (ctx_->IsCancelled()) {
      Fail(absl::CancelledError("the client went away; nothing was written"));
      return;
    }
    absl::Status committed = file_->Commit();
    if (!committed.ok()) {
      Fail(committed);
      return;
    }
    response_->set_size(file_->size());
    file_.reset();
    Finish(grpc::Status::OK);
  }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  PushFileResponse* const response_;
  bool started_ = false;
  PushFileRequest request_;
  std::optional<core::PushedFile> file_;
};

class PullSession final : public grpc::ServerWriteReactor<PullFileResponse> {
 public:
  PullSession(ServiceDeps deps, const PullFileRequest& request) : deps_(deps) {
    Run([this, request] { Open(request); });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    Run([this] { Next(); });
  }

  void OnDone() override { delete this; }

 private:
  template <typename F>
  void Run(F task) {
    absl::Status posted = deps_.executor->Post(std::move(task));
    if (!posted.ok()) Finish(ToGrpc(posted));
  }

  void Open(const PullFileRequest& request) {
    auto root = deps_.manager->OpenRoot(request.container());
    if (!root.ok()) {
      Finish(ToGrpc(root.status()));
      return;
    }
    auto file = core::OpenForPull(root->get(), request.path());
    if (!file.ok()) {
      Finish(ToGrpc(file.status()));
      return;
    }
    auto* info = response_.mutable_info();
    info->set_mode(file->mode);
    info->set_uid(file->uid);
    info->set_gid(file->gid);
    info->set_size(file->size);
    fd_ = std::move(file->fd);
    StartWrite(&response_);
  }

  void Next() {
    auto chunk = core::ReadChunk(fd_.get());
    if (!chunk.ok()) {
      Finish(ToGrpc(chunk.status()));
      return;
    }
    if (chunk->empty()) {
      fd_ = core::FileFd();
      Finish(grpc::Status::OK);
      return;
    }
    response_.Clear();
    response_.set_data(*std::move(chunk));
    StartWrite(&response_);
  }

  const ServiceDeps deps_;
  PullFileResponse response_;
  core::FileFd fd_;
};

}  // namespace

grpc::ServerReadReactor<PushFileRequest>* FilesService::PushFile(grpc::CallbackServerContext* ctx,
                                                                 PushFileResponse* response) {
  return new PushSession(deps_, ctx, response);
}

grpc::ServerWriteReactor<PullFileResponse>* FilesService::PullFile(
    grpc::CallbackServerContext* /*ctx*/, const PullFileRequest* request) {
  return new PullSession(deps_, *request);
}

}  // namespace berth::api

#include "berth/api/files_service.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/api/converters.h"
#include "berth/archive/tree.h"
#include "berth/core/files.h"

namespace berth::api {
namespace {

using berth::v1::PullFileRequest;
using berth::v1::PullFileResponse;
using berth::v1::PullTreeRequest;
using berth::v1::PullTreeResponse;
using berth::v1::PushFileRequest;
using berth::v1::PushFileResponse;
using berth::v1::PushTreeRequest;
using berth::v1::PushTreeResponse;

// How long a finishing tree worker waits for its last write to complete.
constexpr absl::Duration kLastWriteWait = absl::Seconds(10);

std::string Where(const std::string& container, const std::string& path) {
  return absl::StrCat("\"", absl::CEscape(path), "\" in container \"", container, "\"");
}

// Receiving the next frame overlaps writing the last one to the file: OnReadDone queues a
// frame's data and, unless one runs already, starts a writer task on the executor; the writer
// starts the next read as it takes a chunk, then writes it. So one chunk is being written, one
// frame is arriving, at most one more waits (3 MiB a push), and the file sees its chunks in order.
// Threads: the task that runs (Begin, the writer, Commit; at most one at a time, `busy_`) owns
// file_; reactions and that task meet under mu_. The call is finished once (`finished_`).
class PushSession final : public grpc::ServerReadReactor<PushFileRequest> {
 public:
  PushSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, PushFileResponse* response)
      : deps_(deps), ctx_(ctx), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!started_) {
      if (!ok || !request_.has_start()) {
        FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "the first frame of a push stream must be a start frame"));
        return;
      }
      started_ = true;
      {
        absl::MutexLock lock(&mu_);
        busy_ = true;
      }
      Run([this] { Begin(); });
      return;
    }
    bool start_writer = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (!ok) {
        ended_ = true;  // the client half-closed (or went away: Commit checks)
      } else if (request_.frame_case() != PushFileRequest::kData) {
        error_ = absl::InvalidArgumentError("only data frames may follow the start frame");
      } else if (request_.data().size() > core::kFileChunkBytes) {
        error_ = absl::InvalidArgumentError("a data frame carries at most 1 MiB");
      } else {
        queued_ = std::move(*request_.mutable_data());
        has_queued_ = true;
      }
      start_writer = !busy_;
      busy_ = true;
    }
    if (start_writer) Run([this] { Drain(); });
  }

  void OnDone() override { delete this; }

 private:
  template <typename F>
  void Run(F task) {
    absl::Status posted = deps_.executor->Post(std::move(task));
    if (!posted.ok()) Fail(posted);
  }

  void FinishOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(std::move(status));
  }

  // Removes the temporary file (if any) and ends the call. Only from the task that owns file_
  // (or before there is one).
  void Fail(const absl::Status& status) {
    file_.reset();
    FinishOnce(ToGrpc(status));
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
    Drain();
  }

  // The writer: writes queued chunks until none is left, then lets go of file_ (or commits at
  // the stream's end).
  void Drain() {
    while (true) {
      std::string chunk;
      absl::Status error;
      bool commit = false;
      bool read_next = false;
      {
        absl::MutexLock lock(&mu_);
        if (!error_.ok()) {
          error = error_;
        } else if (has_queued_) {
          chunk = std::move(queued_);
          has_queued_ = false;
          read_next = true;
        } else if (ended_) {
          commit = true;
        } else {
          busy_ = false;
          return;
        }
      }
      if (!error.ok()) {
        Fail(error);
        return;
      }
      if (commit) {
        Commit();
        return;
      }
      if (read_next) StartRead(&request_);  // the next frame arrives while this one is written
      absl::Status written = file_->Write(chunk);
      if (!written.ok()) {
        Fail(written);
        return;
      }
    }
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
    FinishOnce(grpc::Status::OK);
  }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  PushFileResponse* const response_;
  bool started_ = false;     // only touched by OnReadDone
  PushFileRequest request_;  // gRPC's between StartRead and OnReadDone
  std::optional<core::PushedFile> file_;

  absl::Mutex mu_;
  // Guarded by mu_: what the reactions hand the writer.
  std::string queued_ ABSL_GUARDED_BY(mu_);
  bool has_queued_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // a task owns file_
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Reading the next chunk from the file overlaps writing the last one to the client: a reader task
// reads ahead one chunk while a write is in flight; whichever of the two finishes second (the
// read, or the write's OnWriteDone) starts the next write. Two response buffers alternate, so the
// one gRPC is writing is never touched. Threads: the reader owns fd_ while `reading_`; reactions
// and the reader meet under mu_. The call is finished once (`finished_`), never while the reader
// runs (OnDone deletes the session).
class PullSession final : public grpc::ServerWriteReactor<PullFileResponse> {
 public:
  PullSession(ServiceDeps deps, const PullFileRequest& request) : deps_(deps) {
    {
      absl::MutexLock lock(&mu_);
      reading_ = true;
    }
    Run([this, request] { Open(request); });
  }

  void OnWriteDone(bool ok) override {
    absl::StatusOr<std::string> chunk;
    bool send = false;
    bool gone = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        gone_ = true;
        gone = !reading_;  // else the reader finishes
      } else if (has_ready_) {
        chunk = std::move(ready_);
        has_ready_ = false;
        send = true;
      }
    }
    if (gone) FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    if (send && StartSending(std::move(chunk))) Run([this] { ReadAhead(); });
  }

  void OnDone() override { delete this; }

 private:
  template <typename F>
  void Run(F task) {
    absl::Status posted = deps_.executor->Post(std::move(task));
    if (!posted.ok()) {
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
      }
      FinishOnce(ToGrpc(posted));
    }
  }

  void FinishOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(std::move(status));
  }

  void Open(const PullFileRequest& request) {
    auto root = deps_.manager->OpenRoot(request.container());
    if (!root.ok()) {
      FinishOnce(ToGrpc(root.status()));
      return;
    }
    auto file = core::OpenForPull(root->get(), request.path());
    if (!file.ok()) {
      FinishOnce(ToGrpc(file.status()));
      return;
    }
    auto* info = response_[0].mutable_info();
    info->set_mode(file->mode);
    info->set_uid(file->uid);
    info->set_gid(file->gid);
    info->set_size(file->size);
    fd_ = std::move(file->fd);
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
    }
    StartWrite(&response_[0]);
    ReadAhead();
  }

  // The reader (reading_ is set): reads the next chunk; sends it at once when no write is in
  // flight and goes on, else leaves it for OnWriteDone and returns.
  void ReadAhead() {
    while (true) {
      absl::StatusOr<std::string> chunk = core::ReadChunk(fd_.get());
      bool gone = false;
      {
        absl::MutexLock lock(&mu_);
        reading_ = false;
        if (gone_) {
          gone = true;
        } else if (writing_) {
          ready_ = std::move(chunk);
          has_ready_ = true;
          return;
        }
      }
      if (gone) {
        FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
        return;
      }
      if (!StartSending(std::move(chunk))) return;
    }
  }

  // With no write in flight and no reader: writes `chunk`, or ends the call at EOF or on a read
  // error. True when a write started (then reading_ is set: the caller reads on).
  bool StartSending(absl::StatusOr<std::string> chunk) {
    if (!chunk.ok()) {
      FinishOnce(ToGrpc(chunk.status()));
      return false;
    }
    if (chunk->empty()) {
      FinishOnce(grpc::Status::OK);
      return false;
    }
    current_ ^= 1;
    PullFileResponse& frame = response_[current_];
    frame.Clear();
    frame.set_data(*std::move(chunk));
    {
      absl::MutexLock lock(&mu_);
      writing_ = true;
      reading_ = true;
    }
    StartWrite(&frame);
    return true;
  }

  const ServiceDeps deps_;
  PullFileResponse response_[2];
  int current_ = 0;  // the response_ being (or last) written
  core::FileFd fd_;

  absl::Mutex mu_;
  // Guarded by mu_.
  bool reading_ ABSL_GUARDED_BY(mu_) = false;               // a task owns fd_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;               // a write to the client is in flight
  absl::StatusOr<std::string> ready_ ABSL_GUARDED_BY(mu_);  // read ahead, waiting for the write
  bool has_ready_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// PushTree. Threads: the first OnReadDone (a gRPC thread) starts the worker; afterwards the worker
// owns request_ between its StartRead calls and gRPC between a StartRead and its OnReadDone, which
// hands the frame over under mu_. The worker calls Finish once; OnDone joins it.
class PushTreeSession final : public grpc::ServerReadReactor<PushTreeRequest> {
 public:
  // `transfers` counts open tree transfers; this one is already counted and uncounts itself.
  PushTreeSession(ServiceDeps deps, grpc::CallbackServerContext* ctx, PushTreeResponse* response,
                  std::atomic<int>* transfers)
      : deps_(deps), ctx_(ctx), response_(response), transfers_(transfers) {
    StartRead(&request_);
  }
  ~PushTreeSession() override { transfers_->fetch_sub(1); }

  void OnReadDone(bool ok) override {
    if (!worker_started_) {
      if (!ok || !request_.has_start()) {
        Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "the first frame of a tree push stream must be a start frame"));
        return;
      }
      worker_started_ = true;
      worker_ = std::thread([this, start = request_.start()] { Work(start); });
      return;
    }
    absl::MutexLock lock(&mu_);
    if (!ok) {
      ended_ = true;  // half-closed, or gone (the worker checks IsCancelled)
    } else if (request_.frame_case() != PushTreeRequest::kData) {
      error_ = absl::InvalidArgumentError("only data frames may follow the start frame");
    } else if (request_.data().size() > core::kFileChunkBytes) {
      error_ = absl::InvalidArgumentError("a data frame carries at most 1 MiB");
    } else {
      chunk_ = std::move(*request_.mutable_data());
      has_chunk_ = true;
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

  void OnDone() override {
    if (worker_.joinable()) worker_.join();
    delete this;
  }

 private:
  void Work(const berth::v1::PushTreeStart& start) {
    Audit(deps_, ctx_, "PushTree", start.container(), start.path());
    auto root = deps_.manager->OpenRoot(start.container());
    if (!root.ok()) {
      Finish(ToGrpc(root.status()));
      return;
    }
    auto dest = core::OpenTreeDestination(root->get(), start.path());
    if (!dest.ok()) {
      Finish(ToGrpc(dest.status()));
      return;
    }
    StartRead(&request_);
    archive::TreeStats stats;
    absl::Status s = archive::ExtractTree(
        dest->get(), [this] { return Next(); }, archive::ExtractOptions{.preserve_owner = true},
        &stats);
    if (!s.ok()) {
      Finish(ToGrpc(absl::Status(
          s.code(), absl::StrCat("pushing the tree into ", Where(start.container(), start.path()),
                                 ": ", s.message()))));
      return;
    }
    response_->set_entries(stats.entries);
    response_->set_bytes(stats.bytes);
    Finish(grpc::Status::OK);
  }

  // The extractor's source: the next data frame, once it arrived.
  absl::StatusOr<std::string> Next() {
    std::string chunk;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return has_chunk_ || ended_ || cancelled_ || !error_.ok();
      };
      mu_.Await(absl::Condition(&ready));
      if (cancelled_ || (ended_ && !has_chunk_ && ctx_->IsCancelled())) {
        return absl::CancelledError("the client went away");
      }
      if (!error_.ok()) return error_;
      if (!has_chunk_) return std::string();  // the client half-closed: the stream's end
      chunk = std::move(chunk_);
      has_chunk_ = false;
    }
    StartRead(&request_);  // the next frame arrives while this one is written
    return chunk;
  }

  const ServiceDeps deps_;
  grpc::CallbackServerContext* const ctx_;
  PushTreeResponse* const response_;
  std::atomic<int>* const transfers_;
  bool worker_started_ = false;  // only touched by the first OnReadDone
  std::thread worker_;
  PushTreeRequest request_;

  absl::Mutex mu_;
  // Guarded by mu_: what the reactions hand the worker.
  std::string chunk_ ABSL_GUARDED_BY(mu_);
  bool has_chunk_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// PullTree. Threads: the worker writes response_ only while no write is in flight (mu_), and
// calls Finish once; OnDone joins it.
class PullTreeSession final : public grpc::ServerWriteReactor<PullTreeResponse> {
 public:
  PullTreeSession(ServiceDeps deps, const PullTreeRequest& request, std::atomic<int>* transfers)
      : deps_(deps), transfers_(transfers) {
    worker_ = std::thread([this, request] { Work(request); });
  }
  ~PullTreeSession() override { transfers_->fetch_sub(1); }

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

 private:
  void Work(const PullTreeRequest& request) {
    absl::Status s = Pull(request);
    {
      absl::MutexLock lock(&mu_);
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_; };
      mu_.AwaitWithTimeout(absl::Condition(&idle), kLastWriteWait);
      if (gone_ && s.ok()) s = absl::CancelledError("the client went away");
    }
    Finish(ToGrpc(s));
  }

  absl::Status Pull(const PullTreeRequest& request) {
    auto root = deps_.manager->OpenRoot(request.container());
    if (!root.ok()) return root.status();
    auto source = core::OpenTreeSource(root->get(), request.path());
    if (!source.ok()) return source.status();
    PullTreeResponse frame;
    frame.mutable_started();
    if (absl::Status s = Send(std::move(frame)); !s.ok()) return s;
    archive::TreeStats stats;
    absl::Status s = archive::WriteTree(
        source->get(),
        [this](std::string chunk) {
          PullTreeResponse data;
          data.set_data(std::move(chunk));
          return Send(std::move(data));
        },
        &stats);
    if (absl::IsCancelled(s)) return s;
    if (!s.ok()) {
      return absl::Status(
          s.code(), absl::StrCat("pulling the tree ", Where(request.container(), request.path()),
                                 ": ", s.message()));
    }
    PullTreeResponse summary;
    summary.mutable_summary()->set_entries(stats.entries);
    summary.mutable_summary()->set_bytes(stats.bytes);
    summary.mutable_summary()->set_skipped(stats.skipped);
    for (const std::string& name : stats.skipped_names) {
      summary.mutable_summary()->add_skipped_paths(name);
    }
    return Send(std::move(summary));
  }

  // Waits until the previous write is done, then starts writing `frame`.
  absl::Status Send(PullTreeResponse frame) {
    {
      absl::MutexLock lock(&mu_);
      auto idle = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !write_in_flight_ || gone_; };
      mu_.Await(absl::Condition(&idle));
      if (gone_) return absl::CancelledError("the client went away");
      response_ = std::move(frame);
      write_in_flight_ = true;
    }
    StartWrite(&response_);
    return absl::OkStatus();
  }

  const ServiceDeps deps_;
  std::atomic<int>* const transfers_;
  std::thread worker_;
  PullTreeResponse response_;  // the worker's while no write is in flight, gRPC's meanwhile

  absl::Mutex mu_;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
};

// A tree call refused before it started (too many transfers).
template <typename Base>
class RefusedTree final : public Base {
 public:
  explicit RefusedTree(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

grpc::Status TooManyTransfers() {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat(FilesService::kMaxTreeTransfers,
                                   " tree transfers are running already; retry when some end"));
}

}  // namespace

grpc::ServerReadReactor<PushFileRequest>* FilesService::PushFile(grpc::CallbackServerContext* ctx,
                                                                 PushFileResponse* response) {
  return new PushSession(deps_, ctx, response);
}

grpc::ServerWriteReactor<PullFileResponse>* FilesService::PullFile(
    grpc::CallbackServerContext* /*ctx*/, const PullFileRequest* request) {
  return new PullSession(deps_, *request);
}

grpc::ServerReadReactor<PushTreeRequest>* FilesService::PushTree(grpc::CallbackServerContext* ctx,
                                                                 PushTreeResponse* response) {
  // Each transfer holds a thread: bound them, whatever clients ask for.
  if (tree_transfers_.fetch_add(1) >= kMaxTreeTransfers) {
    tree_transfers_.fetch_sub(1);
    return new RefusedTree<grpc::ServerReadReactor<PushTreeRequest>>(TooManyTransfers());
  }
  return new PushTreeSession(deps_, ctx, response, &tree_transfers_);
}

grpc::ServerWriteReactor<PullTreeResponse>* FilesService::PullTree(
    grpc::CallbackServerContext* /*ctx*/, const PullTreeRequest* request) {
  if (tree_transfers_.fetch_add(1) >= kMaxTreeTransfers) {
    tree_transfers_.fetch_sub(1);
    return new RefusedTree<grpc::ServerWriteReactor<PullTreeResponse>>(TooManyTransfers());
  }
  return new PullTreeSession(deps_, *request, &tree_transfers_);
}

}  // namespace berth::api

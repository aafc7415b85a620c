#include "berth/api/events_service.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "berth/api/converters.h"
#include "berth/core/event_feed.h"

namespace berth::api {
namespace {

using berth::v1::SubscribeRequest;

absl::StatusOr<core::EventFilter> FilterOf(const SubscribeRequest& request) {
  core::EventFilter filter;
  for (int type : request.types()) {
    std::optional<core::EventType> core_type =
        FromProto(static_cast<berth::v1::EventType>(type));
    if (!core_type.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown event type ", type, "; see EventType in events.proto"));
    }
    filter.types.insert(*core_type);
  }
  filter.containers.insert(request.containers().begin(), request.containers().end());
  return filter;
}

}  // namespace

// One Subscribe call.
//
// Threading: gRPC calls the reactions (OnWriteDone, OnCancel, OnDone) on its threads; fetches run
// on the executor; the feed's notify runs on a publishing thread. `mu_` guards the call's state;
// gRPC's StartWrite and Finish are called outside it. At most one fetch task runs at a time
// (`fetching_`), and none while a write is in flight, so there is one write in flight at most.
// The session deletes itself once gRPC called OnDone and no fetch task is left.
class EventsService::SubscribeSession final
    : public grpc::ServerWriteReactor<berth::v1::Event> {
 public:
  SubscribeSession(EventsService* service, const ServiceDeps& deps,
                   const SubscribeRequest& request)
      : service_(service), executor_(deps.executor) {
    absl::StatusOr<core::EventFilter> filter = FilterOf(request);
    if (!filter.ok()) {
      FinishOnce(ToGrpc(filter.status()));
      return;
    }
    std::optional<uint64_t> since;
    if (request.has_since()) since = request.since();
    feed_ = std::make_unique<core::EventFeed>(deps.manager->events(), *std::move(filter), since,
                                              [this] { Kick(); });
    Kick();
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> ending;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      ending = ending_;
    }
    if (!ok) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
    } else if (ending.has_value()) {
      FinishOnce(*ending);
    } else {
      Kick();
    }
  }

  void OnCancel() override {
    End(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
  }

  // Ends the call with `status` as soon as no write or fetch is in flight (at once when idle).
  // Thread-safe; the first reason wins.
  void End(const grpc::Status& status) {
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      if (!ending_.has_value()) ending_ = status;
      idle = !writing_ && !fetching_;
    }
    // Otherwise OnWriteDone or the fetch task finishes the call.
    if (idle) FinishOnce(status);
  }

  void OnDone() override {
    if (feed_) feed_->Close();  // No Kick from a publisher after this.
    service_->Forget(this);
    bool last;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      last = !fetching_;
    }
    if (last) delete this;
  }

 private:
  // Something may be ready: run a fetch unless one runs (it then looks again) or a write is in
  // flight (its OnWriteDone kicks again).
  void Kick() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || ending_.has_value() || writing_) return;
      if (fetching_) {
        refetch_ = true;
        return;
      }
      fetching_ = true;
    }
    absl::Status posted = executor_->Post([this] { Fetch(); });
    if (!posted.ok()) {
      // Still `fetching_`, so OnDone cannot delete the session under our feet.
      FinishOnce(ToGrpc(posted));
      EndFetch();
    }
  }

  // On the executor. Calls StartWrite and Finish while still `fetching_`, so the session
  // outlives them.
  void Fetch() {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        refetch_ = false;  // Before Next(): a notify from here on asks for another look.
      }
      absl::StatusOr<std::optional<core::Event>> next = feed_->Next();
      grpc::Status finish;
      bool write = false;
      bool finish_now = false;
      {
        absl::MutexLock lock(&mu_);
        if (finished_) {
          // Nothing to do: the call is over.
        } else if (ending_.has_value()) {
          finish_now = true;
          finish = *ending_;
        } else if (!next.ok()) {
          finish_now = true;
          finish = ToGrpc(next.status());
        } else if (next->has_value()) {
          ToProto(**next, &response_);
          writing_ = true;
          write = true;
        }
      }
      if (write) StartWrite(&response_);
      if (finish_now) FinishOnce(finish);
      bool last;
      {
        absl::MutexLock lock(&mu_);
        // Checked and cleared in one step, so neither a Kick nor an End (which leaves finishing
        // to a running fetch) can fall between them and be lost: both take another turn.
        if ((refetch_ || ending_.has_value()) && !writing_ && !finished_) continue;
        fetching_ = false;
        last = done_;
      }
      if (last) delete this;
      return;
    }
  }

  // The fetch is over; the session goes if gRPC is done with it.
  void EndFetch() {
    bool last;
    {
      absl::MutexLock lock(&mu_);
      fetching_ = false;
      last = done_;
    }
    if (last) delete this;
  }

  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  EventsService* const service_;
  core::Executor* const executor_;
  std::unique_ptr<core::EventFeed> feed_;
  berth::v1::Event response_;  // The write in flight; touched only by the fetch that starts it.
  absl::Mutex mu_;
  bool fetching_ ABSL_GUARDED_BY(mu_) = false;  // A Fetch task is posted or running.
  bool refetch_ ABSL_GUARDED_BY(mu_) = false;   // Kicked while fetching: fetch once more.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;   // A write is in flight.
  std::optional<grpc::Status> ending_ ABSL_GUARDED_BY(mu_);  // Cancelled or berthd draining.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // Finish was called.
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // OnDone ran.
};

grpc::ServerWriteReactor<berth::v1::Event>* EventsService::Subscribe(
    grpc::CallbackServerContext* /*ctx*/, const SubscribeRequest* request) {
  auto* session = new SubscribeSession(this, deps_, *request);
  absl::MutexLock lock(&mu_);
  if (draining_) {
    session->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "berthd is stopping"));
  } else {
    sessions_.insert(session);
  }
  return session;
}

void EventsService::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (SubscribeSession* session : sessions_) {
    session->End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "berthd is stopping; subscribe again with since set to the last id "
                              "received"));
  }
}

void EventsService::Forget(SubscribeSession* session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

}  // namespace berth::api

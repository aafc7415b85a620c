#pragma once

#include <set>

#include "absl/synchronization/mutex.h"
#include "berth/api/services.h"
#include "berth/v1/events.grpc.pb.h"

namespace berth::api {

// berth.v1.Events: the event stream (protocol in proto/berth/v1/events.proto), one
// core::EventFeed per call.
//
// Each call is a write reactor with one write in flight. Fetching the next event runs on the
// executor (a replay reads the log, which may block); when the feed has nothing, the call sleeps
// until the feed's notify (a publish) posts the next fetch. Memory per call is bounded by the
// feed's backlog (1024 events, then RESOURCE_EXHAUSTED) plus one log page.
class EventsService final : public berth::v1::Events::CallbackService {
 public:
  explicit EventsService(ServiceDeps deps) : deps_(deps) {}

  grpc::ServerWriteReactor<berth::v1::Event>* Subscribe(
      grpc::CallbackServerContext* ctx, const berth::v1::SubscribeRequest* request) override;

  // Ends every stream with UNAVAILABLE (as soon as its write in flight is done) and every later
  // one at once: berthd is stopping, and clients resume from their last id elsewhere or later.
  void Drain();

 private:
  class SubscribeSession;
  void Forget(SubscribeSession* session);

  ServiceDeps deps_;
  absl::Mutex mu_;
  std::set<SubscribeSession*> sessions_ ABSL_GUARDED_BY(mu_);  // Live calls (until OnDone).
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace berth::api

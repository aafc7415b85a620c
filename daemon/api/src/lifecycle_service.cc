#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "berth/api/converters.h"
#include "berth/api/services.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

using berth::v1::Container;

absl::Duration StopTimeout(int32_t seconds) {
  return seconds > 0 ? absl::Seconds(seconds) : core::kDefaultStopTimeout;
}

template <typename Op>
grpc::ServerUnaryReactor* Forward(const ServiceDeps& deps, grpc::CallbackServerContext* ctx,
                                  absl::string_view method, const std::string& name,
                                  Container* response, Op op, absl::string_view detail = {}) {
  Audit(deps, ctx, method, name, detail);
  return FinishOnExecutor(ctx, deps.executor, [m = deps.manager, op, name, response] {
    auto view = op(m, name);
    if (view.ok()) ToProto(*view, response);
    return view.status();
  });
}

// WaitContainer completes when the manager says the state was reached, which may take as long as
// the client's deadline allows: it holds no thread meanwhile.
//
// Exactly one Finish, and nothing touches the reactor after it (OnDone deletes it): the outcome is
// finished by whichever of Register (the executor task that registers the wait) and Deliver (the
// outcome) comes last, decided under `mu_`. OnCancel turns into CancelWait, which delivers too.
class WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(const ServiceDeps& deps, std::string name, runtime::LiveState state,
              Container* response)
      : deps_(deps), name_(std::move(name)), state_(state), response_(response) {
    absl::Status posted = deps_.executor->Post([this] { Register(); });
    if (!posted.ok()) {
      {
        absl::MutexLock lock(&mu_);
        registered_ = true;
      }
      Deliver(ToGrpc(posted));
    }
  }

  void OnCancel() override {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      id = wait_id_;
    }
    if (id != 0) deps_.manager->CancelWait(id, absl::CancelledError("the wait was cancelled"));
  }

  void OnDone() override { delete this; }

 private:
  void Register() {
    uint64_t id = deps_.manager->Wait(name_, state_,
                                      [this](absl::Status status) { Reached(status); });
    bool cancel;
    {
      absl::MutexLock lock(&mu_);
      wait_id_ = id;
      cancel = cancelled_;
    }
    if (cancel) deps_.manager->CancelWait(id, absl::CancelledError("the wait was cancelled"));
    std::optional<grpc::Status> outcome;
    {
      absl::MutexLock lock(&mu_);
      registered_ = true;
      outcome = outcome_;
    }
    if (outcome) Finish(*outcome);
  }

  // The manager's callback: runs once, on any thread, and must not block.
  void Reached(absl::Status status) {
    if (!status.ok()) {
      Deliver(ToGrpc(status));
      return;
    }
    // Read the container on the executor, not on the thread that told us.
    absl::Status posted = deps_.executor->Post([this] {
      auto view = deps_.manager->Get(name_, /*with_live=*/true);
      if (view.ok()) ToProto(*view, response_);
      Deliver(ToGrpc(view.status()));
    });
    if (!posted.ok()) Deliver(ToGrpc(posted));
  }

  void Deliver(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      outcome_ = status;
      if (!registered_) return;  // Register finishes it.
    }
    Finish(status);
  }

  const ServiceDeps deps_;
  const std::string name_;
  const runtime::LiveState state_;
  Container* const response_;
  absl::Mutex mu_;
  uint64_t wait_id_ ABSL_GUARDED_BY(mu_) = 0;  // 0 until the manager registered the wait.
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;  // Register has nothing left to do.
  std::optional<grpc::Status> outcome_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerUnaryReactor* LifecycleService::StartContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::StartContainerRequest* request,
    Container* response) {
  return Forward(deps_, ctx, "Start", request->name(), response,
                 [](core::ContainerManager* m, const std::string& n) { return m->Start(n); });
}

grpc::ServerUnaryReactor* LifecycleService::StopContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::StopContainerRequest* request,
    Container* response) {
  if (request->timeout_seconds() < 0) {
    return FinishNow(ctx, absl::InvalidArgumentError("timeout_seconds must not be negative"));
  }
  absl::Duration timeout = StopTimeout(request->timeout_seconds());
  bool force = request->force();
  return Forward(
      deps_, ctx, "Stop", request->name(), response,
      [timeout, force](core::ContainerManager* m, const std::string& n) {
        return m->Stop(n, timeout, force);
      },
      force ? "(force)" : "");
}

grpc::ServerUnaryReactor* LifecycleService::RestartContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::RestartContainerRequest* request,
    Container* response) {
  if (request->timeout_seconds() < 0) {
    return FinishNow(ctx, absl::InvalidArgumentError("timeout_seconds must not be negative"));
  }
  absl::Duration timeout = StopTimeout(request->timeout_seconds());
  bool force = request->force();
  return Forward(
      deps_, ctx, "Restart", request->name(), response,
      [timeout, force](core::ContainerManager* m, const std::string& n) {
        return m->Restart(n, timeout, force);
      },
      force ? "(force)" : "");
}

grpc::ServerUnaryReactor* LifecycleService::FreezeContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::FreezeContainerRequest* request,
    Container* response) {
  return Forward(deps_, ctx, "Freeze", request->name(), response,
                 [](core::ContainerManager* m, const std::string& n) { return m->Freeze(n); });
}

grpc::ServerUnaryReactor* LifecycleService::UnfreezeContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::UnfreezeContainerRequest* request,
    Container* response) {
  return Forward(deps_, ctx, "Unfreeze", request->name(), response,
                 [](core::ContainerManager* m, const std::string& n) { return m->Unfreeze(n); });
}

grpc::ServerUnaryReactor* LifecycleService::WaitContainer(
    grpc::CallbackServerContext* ctx, const berth::v1::WaitContainerRequest* request,
    Container* response) {
  auto state = FromProto(request->state());
  if (!state) {
    return FinishNow(ctx, absl::InvalidArgumentError(
                              "say which state to wait for (for example STATE_STOPPED)"));
  }
  return new WaitReactor(deps_, request->name(), *state, response);
}

}  // namespace berth::api

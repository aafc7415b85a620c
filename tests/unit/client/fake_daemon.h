#pragma once

// A fake berthd for client tests: hand-written implementations of the generated Containers,
// Lifecycle and System services that record each call (request and deadline) and answer from a
// script, served by a real gRPC server on a Unix socket in a fresh temp directory.

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "berth/v1/containers.grpc.pb.h"
#include "berth/v1/lifecycle.grpc.pb.h"
#include "berth/v1/system.grpc.pb.h"

namespace berth::client::fakes {

using Clock = std::chrono::system_clock;

// What the fake services share: the calls they saw and the scripted answers. The sync server calls
// from its thread pool, so everything is under mu.
class FakeDaemon {
 public:
  struct Call {
    std::string method;
    std::shared_ptr<google::protobuf::Message> request;
    Clock::time_point deadline;
  };

  // Every call fails with `status` from now on.
  void FailWith(grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
  }
  void SetContainer(v1::Container container) {
    std::lock_guard<std::mutex> lock(mu_);
    container_ = std::move(container);
  }
  // Page i answers the page token "" (i = 0) or "page-<i>".
  void SetPages(std::vector<v1::ListContainersResponse> pages) {
    std::lock_guard<std::mutex> lock(mu_);
    pages_ = std::move(pages);
  }
  void SetVersion(v1::Version version) {
    std::lock_guard<std::mutex> lock(mu_);
    version_ = std::move(version);
  }
  void SetHost(v1::HostInfo host) {
    std::lock_guard<std::mutex> lock(mu_);
    host_ = std::move(host);
  }
  // WaitContainer holds each call until its deadline (or Release), then says DEADLINE_EXCEEDED.
  void HoldWaits() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_waits_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }

  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  // Records the call; returns the scripted status.
  template <typename Request>
  grpc::Status Record(const char* method, grpc::ServerContext* context, const Request& request) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({method, std::make_shared<Request>(request), context->deadline()});
    return status_;
  }

  grpc::Status AnswerContainer(grpc::Status status, v1::Container* response) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) *response = container_;
    return status;
  }

  grpc::Status AnswerPage(const std::string& token, v1::ListContainersResponse* response) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < pages_.size(); ++i) {
      if (token == (i == 0 ? std::string() : "page-" + std::to_string(i))) {
        *response = pages_[i];
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
  }

  grpc::Status AnswerWait(grpc::ServerContext* context, v1::Container* response) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!hold_waits_) {
      *response = container_;
      return grpc::Status::OK;
    }
    released_cv_.wait_until(lock, context->deadline(), [this] { return released_; });
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  }

  v1::Version version() {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }
  v1::HostInfo host() {
    std::lock_guard<std::mutex> lock(mu_);
    return host_;
  }

 private:
  std::mutex mu_;  // guards everything below
  std::condition_variable released_cv_;
  std::vector<Call> calls_;
  grpc::Status status_;
  v1::Container container_;
  std::vector<v1::ListContainersResponse> pages_;
  v1::Version version_;
  v1::HostInfo host_;
  bool hold_waits_ = false;
  bool released_ = false;
};

class FakeContainers : public v1::Containers::Service {
 public:
  explicit FakeContainers(FakeDaemon& daemon) : d_(daemon) {}
  grpc::Status CreateContainer(grpc::ServerContext* ctx, const v1::CreateContainerRequest* request,
                               v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("CreateContainer", ctx, *request), response);
  }
  grpc::Status GetContainer(grpc::ServerContext* ctx, const v1::GetContainerRequest* request,
                            v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("GetContainer", ctx, *request), response);
  }
  grpc::Status ListContainers(grpc::ServerContext* ctx, const v1::ListContainersRequest* request,
                              v1::ListContainersResponse* response) override {
    grpc::Status status = d_.Record("ListContainers", ctx, *request);
    return status.ok() ? d_.AnswerPage(request->page_token(), response) : status;
  }
  grpc::Status RenameContainer(grpc::ServerContext* ctx, const v1::RenameContainerRequest* request,
                               v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("RenameContainer", ctx, *request), response);
  }
  grpc::Status DeleteContainer(grpc::ServerContext* ctx, const v1::DeleteContainerRequest* request,
                               v1::DeleteContainerResponse*) override {
    return d_.Record("DeleteContainer", ctx, *request);
  }

 private:
  FakeDaemon& d_;
};

class FakeLifecycle : public v1::Lifecycle::Service {
 public:
  explicit FakeLifecycle(FakeDaemon& daemon) : d_(daemon) {}
  grpc::Status StartContainer(grpc::ServerContext* ctx, const v1::StartContainerRequest* request,
                              v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("StartContainer", ctx, *request), response);
  }
  grpc::Status StopContainer(grpc::ServerContext* ctx, const v1::StopContainerRequest* request,
                             v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("StopContainer", ctx, *request), response);
  }
  grpc::Status RestartContainer(grpc::ServerContext* ctx,
                                const v1::RestartContainerRequest* request,
                                v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("RestartContainer", ctx, *request), response);
  }
  grpc::Status FreezeContainer(grpc::ServerContext* ctx, const v1::FreezeContainerRequest* request,
                               v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("FreezeContainer", ctx, *request), response);
  }
  grpc::Status UnfreezeContainer(grpc::ServerContext* ctx,
                                 const v1::UnfreezeContainerRequest* request,
                                 v1::Container* response) override {
    return d_.AnswerContainer(d_.Record("UnfreezeContainer", ctx, *request), response);
  }
  grpc::Status WaitContainer(grpc::ServerContext* ctx, const v1::WaitContainerRequest* request,
                             v1::Container* response) override {
    grpc::Status status = d_.Record("WaitContainer", ctx, *request);
    return status.ok() ? d_.AnswerWait(ctx, response) : status;
  }

 private:
  FakeDaemon& d_;
};

class FakeSystem : public v1::System::Service {
 public:
  explicit FakeSystem(FakeDaemon& daemon) : d_(daemon) {}
  grpc::Status GetVersion(grpc::ServerContext* ctx, const v1::GetVersionRequest* request,
                          v1::Version* response) override {
    grpc::Status status = d_.Record("GetVersion", ctx, *request);
    if (status.ok()) *response = d_.version();
    return status;
  }
  grpc::Status GetHostInfo(grpc::ServerContext* ctx, const v1::GetHostInfoRequest* request,
                           v1::HostInfo* response) override {
    grpc::Status status = d_.Record("GetHostInfo", ctx, *request);
    if (status.ok()) *response = d_.host();
    return status;
  }

 private:
  FakeDaemon& d_;
};

// The fake daemon served on "<temp dir>/berth.sock". Start() in SetUp; the destructor releases
// held calls, shuts the server down and removes the directory.
class FakeDaemonServer {
 public:
  FakeDaemonServer() = default;
  FakeDaemonServer(const FakeDaemonServer&) = delete;
  FakeDaemonServer& operator=(const FakeDaemonServer&) = delete;

  ~FakeDaemonServer() {
    daemon_.Release();
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    if (!socket_.empty()) unlink(socket_.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  // False if the directory or the server could not be made.
  bool Start() {
    char dir[] = "/tmp/berth-cli-XXXXXX";
    if (mkdtemp(dir) == nullptr) return false;
    dir_ = dir;
    socket_ = dir_ + "/berth.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&containers_);
    builder.RegisterService(&lifecycle_);
    builder.RegisterService(&system_);
    server_ = builder.BuildAndStart();
    return server_ != nullptr;
  }

  FakeDaemon& daemon() { return daemon_; }
  const std::string& socket_path() const { return socket_; }
  // The temp directory, for files a test wants next to the socket (removed if empty).
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string socket_;
  FakeDaemon daemon_;
  FakeContainers containers_{daemon_};
  FakeLifecycle lifecycle_{daemon_};
  FakeSystem system_{daemon_};
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace berth::client::fakes

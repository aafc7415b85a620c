#include "berth/client/runner.h"

#include <absl/strings/str_cat.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <chrono>
#include <string_view>
#include <utility>

#include "berth/client/errors.h"
#include "berth/client/exit_codes.h"
#include "berth/client/remote.h"
#include "berth/version.h"

namespace berth::client {
namespace {

class GrpcConnection : public Connection {
 public:
  explicit GrpcConnection(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)),
        containers_(v1::Containers::NewStub(channel_)),
        lifecycle_(v1::Lifecycle::NewStub(channel_)),
        system_(v1::System::NewStub(channel_)) {}

  v1::Containers::StubInterface& containers() override { return *containers_; }
  v1::Lifecycle::StubInterface& lifecycle() override { return *lifecycle_; }
  v1::System::StubInterface& system() override { return *system_; }
  bool ReachedDaemon() override { return channel_->GetState(false) == GRPC_CHANNEL_READY; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::System::Stub> system_;
};

// "30 s", or "250 ms" below whole seconds.
std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return absl::StrCat(d.count() / 1000, " s");
  return absl::StrCat(d.count(), " ms");
}

// Runs the invocation's request; one operator() per request type (std::visit).
class Runner {
 public:
  Runner(const Invocation& invocation, Connection& connection, const Console& console)
      : inv_(invocation), conn_(connection), console_(console) {}

  int operator()(const v1::CreateContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("CreateContainer", [&](grpc::ClientContext* ctx) {
      return conn_.containers().CreateContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::ListContainersRequest& request) {
    google::protobuf::RepeatedPtrField<v1::Container> all;
    v1::ListContainersRequest page_request = request;
    while (true) {
      v1::ListContainersResponse page;
      grpc::Status status = Call("ListContainers", [&](grpc::ClientContext* ctx) {
        return conn_.containers().ListContainers(ctx, page_request, &page);
      });
      if (!status.ok()) return Fail(status);
      all.MergeFrom(page.containers());
      if (page.next_page_token().empty()) break;
      if (page.next_page_token() == page_request.page_token()) {
        return Fail(
            grpc::Status(grpc::StatusCode::INTERNAL,
                         "berthd returned the same page token twice; the list is incomplete"));
      }
      page_request.set_page_token(page.next_page_token());
    }
    console_.out << FormatContainerList(all, inv_.format, console_.time_zone);
    return kExitOk;
  }

  int operator()(const v1::GetContainerRequest& request) {
    v1::Container response;
    grpc::Status status = Call("GetContainer", [&](grpc::ClientContext* ctx) {
      return conn_.containers().GetContainer(ctx, request, &response);
    });
    if (!status.ok()) return Fail(status);
    console_.out << FormatContainerInfo(response, inv_.format, console_.time_zone);
    return kExitOk;
  }

  int operator()(const v1::StartContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("StartContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().StartContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::StopContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("StopContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().StopContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::RestartContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("RestartContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().RestartContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::FreezeContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("FreezeContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().FreezeContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::UnfreezeContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("UnfreezeContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().UnfreezeContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::RenameContainerRequest& request) {
    v1::Container response;
    return Quiet(Call("RenameContainer", [&](grpc::ClientContext* ctx) {
      return conn_.containers().RenameContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::DeleteContainerRequest& request) {
    v1::DeleteContainerResponse response;
    return Quiet(Call("DeleteContainer", [&](grpc::ClientContext* ctx) {
      return conn_.containers().DeleteContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::WaitContainerRequest& request) {
    if (inv_.deadline.has_value()) {
      deadline_sentence_ =
          absl::StrCat("container \"", request.name(), "\" did not reach ",
                       StateName(request.state()), " within ", DurationText(*inv_.deadline));
    }
    v1::Container response;
    return Quiet(Call("WaitContainer", [&](grpc::ClientContext* ctx) {
      return conn_.lifecycle().WaitContainer(ctx, request, &response);
    }));
  }

  int operator()(const v1::GetVersionRequest& request) {
    VersionReport report;
    report.client_version = kVersion;
    v1::Version response;
    grpc::Status status = Call("GetVersion", [&](grpc::ClientContext* ctx) {
      return conn_.system().GetVersion(ctx, request, &response);
    });
    if (status.ok()) report.daemon = std::move(response);
    // The client's part is worth printing even when the daemon did not answer.
    console_.out << FormatVersion(report, inv_.format);
    return status.ok() ? kExitOk : Fail(status);
  }

  int operator()(const v1::GetHostInfoRequest& request) {
    v1::HostInfo response;
    grpc::Status status = Call("GetHostInfo", [&](grpc::ClientContext* ctx) {
      return conn_.system().GetHostInfo(ctx, request, &response);
    });
    if (!status.ok()) return Fail(status);
    console_.out << FormatHostInfo(response, inv_.format);
    return kExitOk;
  }

 private:
  // Makes one call with a fresh context carrying the invocation's deadline.
  template <typename Method>
  grpc::Status Call(std::string_view rpc_name, Method&& method) {
    rpc_name_ = rpc_name;
    grpc::ClientContext context;
    if (inv_.deadline.has_value()) {
      context.set_deadline(std::chrono::system_clock::now() + *inv_.deadline);
    }
    return method(&context);
  }

  // Commands that change state print nothing on success.
  int Quiet(const grpc::Status& status) { return status.ok() ? kExitOk : Fail(status); }

  int Fail(const grpc::Status& status) {
    ErrorContext context;
    context.socket_path = inv_.socket_path;
    context.rpc_name = rpc_name_;
    context.reached_daemon =
        status.error_code() != grpc::StatusCode::UNAVAILABLE || conn_.ReachedDaemon();
    context.deadline_sentence = deadline_sentence_;
    if (context.deadline_sentence.empty() && inv_.deadline.has_value()) {
      context.deadline_sentence =
          absl::StrCat("berthd did not answer within ", DurationText(*inv_.deadline));
    }
    console_.out.flush();
    return ReportCallError(status, context, inv_.debug, console_.err);
  }

  const Invocation& inv_;
  Connection& conn_;
  const Console& console_;
  std::string rpc_name_;
  std::string deadline_sentence_;
};

}  // namespace

std::unique_ptr<Connection> ConnectUnixSocket(const std::string& socket_path) {
  return std::make_unique<GrpcConnection>(OpenChannel(socket_path));
}

int RunInvocation(const Invocation& invocation, Connection& connection, const Console& console) {
  return std::visit(Runner(invocation, connection, console), invocation.request);
}

int RunCommandLine(const std::vector<std::string>& args, const Environment& env,
                   const Connector& connect, const Console& console) {
  ParseResult parsed = ParseCommandLine(args, env);
  if (!parsed.invocation.has_value()) {
    console.out << parsed.out;
    console.err << parsed.err;
    return parsed.exit_code;
  }
  std::unique_ptr<Connection> connection = connect(parsed.invocation->socket_path);
  return RunInvocation(*parsed.invocation, *connection, console);
}

}  // namespace berth::client

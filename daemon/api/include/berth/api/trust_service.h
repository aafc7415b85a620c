#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "berth/api/services.h"
#include "berth/storage/sqlite_trust_store.h"
#include "berth/v1/trust.grpc.pb.h"

namespace berth::api {

// berth.v1.Trust: the trust store (berth config trust ...) and enrolment (berth remote add).
// Every handler posts its SQLite work to the executor.
class TrustService final : public berth::v1::Trust::CallbackService {
 public:
  // `server_fingerprint` is empty when the TCP listener is off (tokens then cannot be made).
  TrustService(ServiceDeps deps, storage::SqliteTrustStore* trust, std::string server_fingerprint)
      : deps_(deps), trust_(trust), server_fingerprint_(std::move(server_fingerprint)) {}

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* ctx,
                                   const berth::v1::EnrollRequest* request,
                                   berth::v1::EnrollResponse* response) override;
  grpc::ServerUnaryReactor* CreateJoinToken(grpc::CallbackServerContext* ctx,
                                            const berth::v1::CreateJoinTokenRequest* request,
                                            berth::v1::CreateJoinTokenResponse* response) override;
  grpc::ServerUnaryReactor* AddTrustedClient(grpc::CallbackServerContext* ctx,
                                             const berth::v1::AddTrustedClientRequest* request,
                                             berth::v1::TrustedClient* response) override;
  grpc::ServerUnaryReactor* ListTrustedClients(
      grpc::CallbackServerContext* ctx, const berth::v1::ListTrustedClientsRequest* request,
      berth::v1::ListTrustedClientsResponse* response) override;
  grpc::ServerUnaryReactor* RemoveTrustedClient(
      grpc::CallbackServerContext* ctx, const berth::v1::RemoveTrustedClientRequest* request,
      berth::v1::RemoveTrustedClientResponse* response) override;

 private:
  ServiceDeps deps_;
  storage::SqliteTrustStore* const trust_;
  const std::string server_fingerprint_;
};

}  // namespace berth::api

#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "berth/storage/sqlite_trust_store.h"
#include "berth/tls/certificates.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/server_credentials.h"

namespace berth::api {

// Auth context properties the processor below adds for a trusted caller (read by Audit).
inline constexpr char kClientNameProperty[] = "berth.client_name";
inline constexpr char kClientFingerprintProperty[] = "berth.client_fingerprint";
// The PEM of the caller's certificate, as gRPC's TLS security connector names it.
inline constexpr char kPeerCertificateProperty[] = "x509_pem_cert";

// Decides every call that arrives over TCP (the Unix socket has no TLS, so gRPC never calls it
// there: those callers are root's and admins). Per call, not per connection, so removing a client
// from the trust store refuses its next call on a connection it already has.
//
//   - no client certificate (cannot happen with REQUIRE, but checked): UNAUTHENTICATED;
//   - a certificate outside its validity period: UNAUTHENTICATED naming the dates (the TLS layer
//     checks no chain for these self-signed certificates, so the expiry is checked here);
//   - a method without a rule in the authorization table: PERMISSION_DENIED;
//   - Trust/Enroll: let through for any valid certificate (the service demands a join token);
//   - otherwise the fingerprint must be in the trust store (UNAUTHENTICATED, "not trusted") with
//     a role the method's rule allows (PERMISSION_DENIED naming the role and method).
//
// Threading: gRPC calls Process from its own threads, several at once (IsBlocking: it reads
// SQLite). last_touch_ is guarded by mu_.
class TrustAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TrustAuthProcessor(storage::SqliteTrustStore* trust) : trust_(trust) {}

  bool IsBlocking() const override { return true; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  // Records the call in last_seen, at most once a minute per client (each write is an fsync).
  void Touch(const std::string& fingerprint);

  storage::SqliteTrustStore* const trust_;
  absl::Mutex mu_;
  std::map<std::string, absl::Time> last_touch_ ABSL_GUARDED_BY(mu_);
};

// Limits of the TCP listener. gRPC 1.51 (Debian 12) has no cap on the number of connections and
// predates some HTTP/2 flood mitigations; these bound what an unauthenticated peer can hold.
struct RemoteListenerOptions {
  std::string address;  // "[::]:8443"; empty: no TCP listener.
  tls::KeyAndCertificate identity;
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Connections without a call are closed after this long.
  absl::Duration max_idle = absl::Minutes(10);
  // Memory gRPC may use for all its connections and calls (a ResourceQuota; connections from the
  // Unix socket bypass it).
  int64_t memory_quota_bytes = 256 << 20;
};

// TLS credentials for the TCP listener: berthd's key and certificate, a client certificate
// required (not chain-verified: clients are known by fingerprint), `processor` deciding each call.
std::shared_ptr<grpc::ServerCredentials> MakeRemoteCredentials(
    const RemoteListenerOptions& options, std::shared_ptr<TrustAuthProcessor> processor);

}  // namespace berth::api

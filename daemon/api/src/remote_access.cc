#include "berth/api/remote_access.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "berth/api/authorization.h"
#include "berth/core/logging.h"
#include "grpcpp/security/auth_context.h"

namespace berth::api {
namespace {

std::string PathOf(const grpc::AuthMetadataProcessor::InputMetadata& metadata) {
  auto it = metadata.find(":path");
  if (it == metadata.end()) return {};
  return std::string(it->second.data(), it->second.size());
}

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

grpc::Status TrustAuthProcessor::Process(const InputMetadata& auth_metadata,
                                         grpc::AuthContext* context, OutputMetadata*,
                                         OutputMetadata*) {
  auto logger = core::NamedLogger("api");
  const std::string method = PathOf(auth_metadata);
  const std::string pem = FirstProperty(*context, kPeerCertificateProperty);
  if (pem.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "no client certificate; enroll with berth remote add NAME ADDRESS --token "
                        "TOKEN");
  }
  absl::StatusOr<tls::CertificateInfo> cert = tls::Inspect(pem);
  if (!cert.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("the client certificate cannot be read: ",
                                     cert.status().message()));
  }
  const absl::Time now = absl::Now();
  if (now < cert->not_before || now > cert->not_after) {
    logger->warn("Refused {} from certificate {}: outside its validity ({} .. {})", method,
                 cert->fingerprint, absl::FormatTime(cert->not_before),
                 absl::FormatTime(cert->not_after));
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("the client certificate ", cert->fingerprint.substr(0, 16), "... is valid only from ",
                     absl::FormatTime(cert->not_before, absl::UTCTimeZone()), " to ",
                     absl::FormatTime(cert->not_after, absl::UTCTimeZone()),
                     "; make a new one and enroll it"));
  }
  std::optional<Rule> rule = RuleFor(method);
  if (!rule.has_value()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("berthd has no authorization rule for \"", method,
                                     "\", so no remote client may call it"));
  }
  if (*rule == Rule::kEnrolment) return grpc::Status::OK;

  absl::StatusOr<storage::TrustedClientRecord> client = trust_->Get(cert->fingerprint);
  if (!client.ok()) {
    if (client.status().code() != absl::StatusCode::kNotFound) {
      logger->error("Reading the trust store failed: {}", client.status().ToString());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "berthd cannot read its trust store; try again");
    }
    logger->warn("Refused {} from untrusted certificate {}", method, cert->fingerprint);
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("the client certificate ", cert->fingerprint,
                     " is not trusted by this berthd (never enrolled, or removed); enroll "
                     "with a join token from the server's admin"));
  }
  std::optional<Role> role = ParseRole(client->role);
  if (!role.has_value() || !Allows(*role, *rule)) {
    logger->warn("Refused {} from \"{}\" ({}): not allowed for its role", method, client->name,
                 client->role);
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("client \"", client->name, "\" has the role ", client->role,
                                     ", which may not call ", method,
                                     " (it changes something or reads what a container holds)"));
  }
  context->AddProperty(kClientNameProperty, client->name);
  context->AddProperty(kClientFingerprintProperty, cert->fingerprint);
  Touch(cert->fingerprint);
  return grpc::Status::OK;
}

void TrustAuthProcessor::Touch(const std::string& fingerprint) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto [it, inserted] = last_touch_.try_emplace(fingerprint, now);
    if (!inserted && now - it->second < absl::Minutes(1)) return;
    it->second = now;
  }
  if (absl::Status s = trust_->Touch(fingerprint, now); !s.ok()) {
    core::NamedLogger("api")->warn("Recording the last call of {} failed: {}", fingerprint,
                                   s.ToString());
  }
}

std::shared_ptr<grpc::ServerCredentials> MakeRemoteCredentials(
    const RemoteListenerOptions& options, std::shared_ptr<TrustAuthProcessor> processor) {
  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_key_cert_pairs.push_back({options.identity.key_pem, options.identity.cert_pem});
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(ssl);
  credentials->SetAuthMetadataProcessor(std::move(processor));
  return credentials;
}

}  // namespace berth::api

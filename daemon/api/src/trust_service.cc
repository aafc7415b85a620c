#include "berth/api/trust_service.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "berth/api/authorization.h"
#include "berth/api/remote_access.h"
#include "berth/core/logging.h"
#include "berth/tls/certificates.h"
#include "google/protobuf/util/time_util.h"
#include "reactor_util.h"

namespace berth::api {
namespace {

constexpr absl::Duration kDefaultTokenTtl = absl::Hours(1);
constexpr absl::Duration kMaxTokenTtl = absl::Hours(24 * 7);

bool IsHex64(absl::string_view s) { return tls::IsFingerprint(s); }

absl::Status CheckClientName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 63;
  for (char c : name) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
          c == '.')) {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("client name \"", absl::CHexEscape(name),
                   "\" is not valid: use 1-63 letters, digits, '-', '_' or '.'"));
}

absl::StatusOr<std::string> RoleText(berth::v1::TrustRole role) {
  switch (role) {
    case berth::v1::TRUST_ROLE_UNSPECIFIED:
    case berth::v1::TRUST_ROLE_ADMIN:
      return std::string("admin");
    case berth::v1::TRUST_ROLE_READONLY:
      return std::string("readonly");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown role ", static_cast<int>(role), "; use admin or readonly"));
  }
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

void ToProto(const storage::TrustedClientRecord& record, berth::v1::TrustedClient* out) {
  out->set_fingerprint(record.fingerprint);
  out->set_name(record.name);
  out->set_role(record.role == "readonly" ? berth::v1::TRUST_ROLE_READONLY
                                          : berth::v1::TRUST_ROLE_ADMIN);
  *out->mutable_added_at() = ToTimestamp(record.added_at);
  if (record.last_seen) *out->mutable_last_seen() = ToTimestamp(*record.last_seen);
}

std::string PeerCertificate(grpc::CallbackServerContext* ctx) {
  std::shared_ptr<const grpc::AuthContext> auth = ctx->auth_context();
  if (!auth) return {};
  std::vector<grpc::string_ref> values = auth->FindPropertyValues(kPeerCertificateProperty);
  if (values.empty()) return {};
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

grpc::ServerUnaryReactor* TrustService::Enroll(grpc::CallbackServerContext* ctx,
                                               const berth::v1::EnrollRequest* request,
                                               berth::v1::EnrollResponse* response) {
  std::string pem = PeerCertificate(ctx);
  if (pem.empty()) {
    return FinishNow(ctx, absl::FailedPreconditionError(
                              "enrolment needs a client certificate, so it works over TCP with "
                              "TLS only; callers on the Unix socket are admins already"));
  }
  if (!IsHex64(request->secret())) {
    return FinishNow(ctx, absl::PermissionDeniedError(
                              "the join token is not valid; ask the server's admin for a new one "
                              "(berth config trust add-token NAME)"));
  }
  Audit(deps_, ctx, "Enroll", "", "");
  return FinishOnExecutor(ctx, deps_.executor, [this, pem, request, response]() -> absl::Status {
    absl::StatusOr<std::string> fingerprint = tls::Fingerprint(pem);
    if (!fingerprint.ok()) return fingerprint.status();
    absl::StatusOr<storage::TrustedClientRecord> client =
        trust_->Redeem(tls::Sha256Hex(request->secret()), *fingerprint, absl::Now());
    if (!client.ok()) return client.status();
    core::NamedLogger("audit")->info("Enrolled client \"{}\" ({}) with certificate {}",
                                     client->name, client->role, client->fingerprint);
    ToProto(*client, response->mutable_client());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrustService::CreateJoinToken(
    grpc::CallbackServerContext* ctx, const berth::v1::CreateJoinTokenRequest* request,
    berth::v1::CreateJoinTokenResponse* response) {
  if (auto s = CheckClientName(request->name()); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<std::string> role = RoleText(request->role());
  if (!role.ok()) return FinishNow(ctx, role.status());
  absl::Duration ttl = request->ttl_seconds() == 0 ? kDefaultTokenTtl
                                                   : absl::Seconds(request->ttl_seconds());
  if (ttl > kMaxTokenTtl) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "a join token may be valid for at most 7 days (604800 s), not ",
                              request->ttl_seconds(), " s")));
  }
  if (server_fingerprint_.empty()) {
    return FinishNow(ctx, absl::FailedPreconditionError(
                              "the TCP listener is off, so no client could enroll; set "
                              "listen_tcp in berthd's config (e.g. listen_tcp = \"[::]:8443\") "
                              "and restart berthd"));
  }
  Audit(deps_, ctx, "CreateJoinToken", "", request->name());
  return FinishOnExecutor(ctx, deps_.executor,
                          [this, name = request->name(), role = *role, ttl,
                           response]() -> absl::Status {
                            absl::StatusOr<std::string> secret = tls::RandomHex(32);
                            if (!secret.ok()) return secret.status();
                            const absl::Time now = absl::Now();
                            storage::JoinTokenRecord record{.secret_sha256 = tls::Sha256Hex(*secret),
                                                            .name = name,
                                                            .role = role,
                                                            .created_at = now,
                                                            .expires_at = now + ttl};
                            if (auto s = trust_->AddToken(record); !s.ok()) return s;
                            response->set_token(tls::FormatJoinToken(
                                {.secret = *secret, .server_fingerprint = server_fingerprint_}));
                            *response->mutable_expires_at() = ToTimestamp(record.expires_at);
                            response->set_server_fingerprint(server_fingerprint_);
                            return absl::OkStatus();
                          });
}

grpc::ServerUnaryReactor* TrustService::AddTrustedClient(
    grpc::CallbackServerContext* ctx, const berth::v1::AddTrustedClientRequest* request,
    berth::v1::TrustedClient* response) {
  absl::StatusOr<tls::CertificateInfo> cert = tls::Inspect(request->certificate_pem());
  if (!cert.ok()) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "the client certificate is ", cert.status().message())));
  }
  std::string name = request->name().empty() ? cert->common_name : request->name();
  if (auto s = CheckClientName(name); !s.ok()) return FinishNow(ctx, s);
  absl::StatusOr<std::string> role = RoleText(request->role());
  if (!role.ok()) return FinishNow(ctx, role.status());
  if (absl::Now() > cert->not_after) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "the client certificate expired at ",
                              absl::FormatTime(cert->not_after, absl::UTCTimeZone()))));
  }
  Audit(deps_, ctx, "AddTrustedClient", "", absl::StrCat(name, " ", cert->fingerprint));
  storage::TrustedClientRecord record{.fingerprint = cert->fingerprint,
                                      .name = name,
                                      .role = *role,
                                      .added_at = absl::Now(),
                                      .last_seen = std::nullopt};
  return FinishOnExecutor(ctx, deps_.executor, [this, record, response]() -> absl::Status {
    if (auto s = trust_->Add(record); !s.ok()) return s;
    ToProto(record, response);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrustService::ListTrustedClients(
    grpc::CallbackServerContext* ctx, const berth::v1::ListTrustedClientsRequest*,
    berth::v1::ListTrustedClientsResponse* response) {
  return FinishOnExecutor(ctx, deps_.executor, [this, response]() -> absl::Status {
    absl::StatusOr<std::vector<storage::TrustedClientRecord>> clients = trust_->List();
    if (!clients.ok()) return clients.status();
    for (const auto& client : *clients) ToProto(client, response->add_clients());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* TrustService::RemoveTrustedClient(
    grpc::CallbackServerContext* ctx, const berth::v1::RemoveTrustedClientRequest* request,
    berth::v1::RemoveTrustedClientResponse* response) {
  const std::string& fp = request->fingerprint();
  bool hex = fp.size() >= 8 && fp.size() <= 64;
  for (char c : fp) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) {
    return FinishNow(ctx, absl::InvalidArgumentError(absl::StrCat(
                              "\"", absl::CHexEscape(fp),
                              "\" is not a fingerprint: give 8 to 64 lowercase hex digits, as "
                              "berth config trust list shows them")));
  }
  Audit(deps_, ctx, "RemoveTrustedClient", "", fp);
  return FinishOnExecutor(ctx, deps_.executor, [this, fp, response]() -> absl::Status {
    absl::StatusOr<storage::TrustedClientRecord> removed = trust_->Remove(fp);
    if (!removed.ok()) return removed.status();
    ToProto(*removed, response->mutable_removed());
    return absl::OkStatus();
  });
}

}  // namespace berth::api

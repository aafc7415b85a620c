#pragma once

// Keys, self-signed certificates, fingerprints and private files for remote control over TCP
// with mutual TLS. berthd and berth both use it, so they agree on what a fingerprint is.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace berth::tls {

struct KeyAndCertificate {
  std::string key_pem;   // PKCS#8 private key.
  std::string cert_pem;  // The certificate.
};

struct CertificateRequest {
  std::string common_name;
  // subjectAltName DNS entries ("berthd" is what clients check the server's name against).
  std::vector<std::string> dns_names;
  absl::Time not_before = absl::Now() - absl::Minutes(5);  // Some slack for skewed clocks.
  absl::Time not_after = absl::Now() + absl::Hours(24 * 365 * 10);
};

// A new ECDSA P-256 key and a self-signed certificate for it. INTERNAL if OpenSSL fails.
absl::StatusOr<KeyAndCertificate> GenerateSelfSigned(const CertificateRequest& request);

struct CertificateInfo {
  std::string fingerprint;  // See Fingerprint().
  std::string common_name;
  absl::Time not_before;
  absl::Time not_after;
};

// Parses the first certificate of `cert_pem`. INVALID_ARGUMENT when it is not a PEM certificate.
absl::StatusOr<CertificateInfo> Inspect(absl::string_view cert_pem);

// The SHA-256 of the certificate's DER encoding, 64 lowercase hex digits: what berth pins and
// what the trust store is keyed by. INVALID_ARGUMENT when it is not a PEM certificate.
absl::StatusOr<std::string> Fingerprint(absl::string_view cert_pem);

// True when `text` looks like a fingerprint: 64 lowercase hex digits.
bool IsFingerprint(absl::string_view text);

// SHA-256 of `data` as 64 lowercase hex digits (join tokens are stored this way, never in clear).
std::string Sha256Hex(absl::string_view data);

// `bytes` bytes from OpenSSL's CSPRNG as lowercase hex. INTERNAL if it fails.
absl::StatusOr<std::string> RandomHex(size_t bytes);

// Reads a whole file. NOT_FOUND / PERMISSION_DENIED / INTERNAL naming the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` with mode 0600, atomically (a temporary file in the same directory,
// fsynced, renamed over `path`). INTERNAL naming the path.
absl::Status WritePrivateFile(const std::string& path, absl::string_view contents);

// The key and certificate at `key_path` and `cert_path`: read when both exist (the certificate
// must parse and the key must match it, else INVALID_ARGUMENT naming the files), created with
// `request` (both 0600) when neither does. One without the other is FAILED_PRECONDITION.
absl::StatusOr<KeyAndCertificate> LoadOrCreate(const std::string& key_path,
                                               const std::string& cert_path,
                                               const CertificateRequest& request);

// A join token as the admin hands it over: "berth1.<secret>.<server fingerprint>", 64 lowercase
// hex digits each. The client pins the fingerprint and sends the secret; berthd keeps only the
// secret's SHA-256.
struct JoinToken {
  std::string secret;
  std::string server_fingerprint;
};
std::string FormatJoinToken(const JoinToken& token);
// INVALID_ARGUMENT saying what is wrong with `text`.
absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text);

}  // namespace berth::tls

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace berth::storage {

namespace sqlite {
class Database;
}  // namespace sqlite

// A client certificate berthd trusts for remote control. `role` is "admin" or "readonly".
struct TrustedClientRecord {
  std::string fingerprint;  // 64 lowercase hex digits (SHA-256 of the certificate's DER).
  std::string name;
  std::string role;
  absl::Time added_at = absl::UnixEpoch();
  std::optional<absl::Time> last_seen = std::nullopt;

  friend bool operator==(const TrustedClientRecord&, const TrustedClientRecord&) = default;
};

// A join token as stored: only the SHA-256 of its secret.
struct JoinTokenRecord {
  std::string secret_sha256;
  std::string name;  // Given to the client that enrolls with it.
  std::string role;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time expires_at = absl::UnixEpoch();
};

// The trust store: tables `trusted_clients` and `join_tokens` of berthd's state database (schema
// migration 3). Obtained from SqliteStore::trust(): it shares the store's one connection and its
// mutex, so the database keeps a single writer, and it lives as long as the store.
//
// Every method is thread-safe and may block (disk I/O). INTERNAL/DATA_LOSS when SQLite fails.
class SqliteTrustStore {
 public:
  SqliteTrustStore(const SqliteTrustStore&) = delete;
  SqliteTrustStore& operator=(const SqliteTrustStore&) = delete;

  // NOT_FOUND when the fingerprint is not trusted.
  absl::StatusOr<TrustedClientRecord> Get(const std::string& fingerprint);
  // Ordered by name, then fingerprint.
  absl::StatusOr<std::vector<TrustedClientRecord>> List();
  // ALREADY_EXISTS (naming the client that has it) when the fingerprint is trusted already.
  absl::Status Add(const TrustedClientRecord& client);
  // Removes the client whose fingerprint is `fingerprint` or starts with it (a prefix must match
  // exactly one). NOT_FOUND when none matches; INVALID_ARGUMENT when several do.
  absl::StatusOr<TrustedClientRecord> Remove(const std::string& fingerprint_or_prefix);
  // Records a call by the client at `when` (nothing when it is not trusted).
  absl::Status Touch(const std::string& fingerprint, absl::Time when);

  // Stores a new token; deletes tokens that expired more than a day before `token.created_at`.
  absl::Status AddToken(const JoinTokenRecord& token);
  // In one transaction: finds the token whose secret hashes to `secret_sha256`, checks that it
  // was not used and has not expired at `now`, marks it used and trusts `fingerprint` with the
  // token's name and role. PERMISSION_DENIED for an unknown, used or expired token (the message
  // says which); ALREADY_EXISTS when the certificate is trusted already (the token stays unused).
  absl::StatusOr<TrustedClientRecord> Redeem(const std::string& secret_sha256,
                                             const std::string& fingerprint, absl::Time now);

 private:
  friend class SqliteStore;
  // `mu` guards every use of `db`; both belong to the SqliteStore.
  SqliteTrustStore(absl::Mutex* mu, sqlite::Database* db) : mu_(mu), db_(db) {}

  absl::Mutex* const mu_;
  sqlite::Database* const db_;  // Used only with *mu_ held.
};

}  // namespace berth::storage

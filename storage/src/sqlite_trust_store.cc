#include "berth/storage/sqlite_trust_store.h"

#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "record_rules.h"
#include "sqlite.h"

namespace berth::storage {
namespace {

using sqlite::ScopedStatement;
using sqlite::Transaction;

#define BERTH_CLIENT_COLUMNS "fingerprint, name, role, added_at_ns, last_seen_ns"
constexpr std::string_view kSelectClient =
    "SELECT " BERTH_CLIENT_COLUMNS " FROM trusted_clients WHERE fingerprint = ?1";
constexpr std::string_view kSelectClients =
    "SELECT " BERTH_CLIENT_COLUMNS " FROM trusted_clients ORDER BY name, fingerprint";
// A prefix is hex only (checked by the caller), so GLOB needs no escaping.
constexpr std::string_view kSelectByPrefix =
    "SELECT " BERTH_CLIENT_COLUMNS " FROM trusted_clients WHERE fingerprint GLOB ?1 || '*'";
constexpr std::string_view kInsertClient =
    "INSERT INTO trusted_clients (" BERTH_CLIENT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)";
#undef BERTH_CLIENT_COLUMNS
constexpr std::string_view kDeleteClient = "DELETE FROM trusted_clients WHERE fingerprint = ?1";
constexpr std::string_view kTouchClient =
    "UPDATE trusted_clients SET last_seen_ns = ?2 WHERE fingerprint = ?1";
constexpr std::string_view kInsertToken =
    "INSERT INTO join_tokens (secret_sha256, name, role, created_at_ns, expires_at_ns) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kPruneTokens = "DELETE FROM join_tokens WHERE expires_at_ns < ?1";
constexpr std::string_view kSelectToken =
    "SELECT name, role, expires_at_ns, used_at_ns FROM join_tokens WHERE secret_sha256 = ?1";
constexpr std::string_view kUseToken =
    "UPDATE join_tokens SET used_at_ns = ?2 WHERE secret_sha256 = ?1";

TrustedClientRecord ReadClient(const sqlite::Statement& row) {
  TrustedClientRecord client;
  client.fingerprint = row.ColumnText(0);
  client.name = row.ColumnText(1);
  client.role = row.ColumnText(2);
  client.added_at = FromStoredNanos(row.ColumnInt64(3));
  if (auto seen = row.ColumnOptionalInt64(4)) client.last_seen = FromStoredNanos(*seen);
  return client;
}

absl::StatusOr<std::vector<TrustedClientRecord>> ReadClients(ScopedStatement& select) {
  std::vector<TrustedClientRecord> clients;
  while (true) {
    absl::StatusOr<bool> row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) return clients;
    clients.push_back(ReadClient(*select));
  }
}

absl::StatusOr<std::optional<TrustedClientRecord>> QueryClient(sqlite::Database& db,
                                                              const std::string& fingerprint) {
  absl::StatusOr<ScopedStatement> select = db.Cached(kSelectClient);
  if (!select.ok()) return select.status();
  (*select)->Bind(1, fingerprint);
  absl::StatusOr<std::vector<TrustedClientRecord>> found = ReadClients(*select);
  if (!found.ok()) return found.status();
  if (found->empty()) return std::nullopt;
  return found->front();
}

absl::Status InsertClient(sqlite::Database& db, const TrustedClientRecord& client) {
  absl::StatusOr<std::optional<TrustedClientRecord>> existing = QueryClient(db, client.fingerprint);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return absl::AlreadyExistsError(absl::StrCat("the certificate ", client.fingerprint,
                                                 " is trusted already, as \"", (*existing)->name,
                                                 "\" (", (*existing)->role, ")"));
  }
  absl::StatusOr<ScopedStatement> insert = db.Cached(kInsertClient);
  if (!insert.ok()) return insert.status();
  std::optional<int64_t> seen;
  if (client.last_seen) seen = ToStoredNanos(*client.last_seen);
  return (*insert)
      ->Bind(1, client.fingerprint)
      .Bind(2, client.name)
      .Bind(3, client.role)
      .Bind(4, ToStoredNanos(client.added_at))
      .Bind(5, seen)
      .Run();
}

}  // namespace

absl::StatusOr<TrustedClientRecord> SqliteTrustStore::Get(const std::string& fingerprint) {
  absl::MutexLock lock(mu_);
  absl::StatusOr<std::optional<TrustedClientRecord>> found = QueryClient(*db_, fingerprint);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    return absl::NotFoundError(absl::StrCat("the certificate ", fingerprint, " is not trusted"));
  }
  return **std::move(found);
}

absl::StatusOr<std::vector<TrustedClientRecord>> SqliteTrustStore::List() {
  absl::MutexLock lock(mu_);
  absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectClients);
  if (!select.ok()) return select.status();
  return ReadClients(*select);
}

absl::Status SqliteTrustStore::Add(const TrustedClientRecord& client) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::Status {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    if (absl::Status s = InsertClient(*db_, client); !s.ok()) return s;
    return transaction.Commit();
  });
}

absl::StatusOr<TrustedClientRecord> SqliteTrustStore::Remove(
    const std::string& fingerprint_or_prefix) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::StatusOr<TrustedClientRecord> {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectByPrefix);
    if (!select.ok()) return select.status();
    (*select)->Bind(1, fingerprint_or_prefix);
    absl::StatusOr<std::vector<TrustedClientRecord>> found = ReadClients(*select);
    if (!found.ok()) return found.status();
    if (found->empty()) {
      return absl::NotFoundError(absl::StrCat("no trusted certificate has the fingerprint \"",
                                              fingerprint_or_prefix,
                                              "\"; see berth config trust list"));
    }
    if (found->size() > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(found->size(), " trusted certificates start with \"", fingerprint_or_prefix,
                       "\"; give more of the fingerprint"));
    }
    absl::StatusOr<ScopedStatement> remove = db_->Cached(kDeleteClient);
    if (!remove.ok()) return remove.status();
    if (absl::Status s = (*remove)->Bind(1, found->front().fingerprint).Run(); !s.ok()) return s;
    if (absl::Status s = transaction.Commit(); !s.ok()) return s;
    return found->front();
  });
}

absl::Status SqliteTrustStore::Touch(const std::string& fingerprint, absl::Time when) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::Status {
    absl::StatusOr<ScopedStatement> update = db_->Cached(kTouchClient);
    if (!update.ok()) return update.status();
    return (*update)->Bind(1, fingerprint).Bind(2, ToStoredNanos(when)).Run();
  });
}

absl::Status SqliteTrustStore::AddToken(const JoinTokenRecord& token) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::Status {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    absl::StatusOr<ScopedStatement> prune = db_->Cached(kPruneTokens);
    if (!prune.ok()) return prune.status();
    if (absl::Status s =
            (*prune)->Bind(1, ToStoredNanos(token.created_at - absl::Hours(24))).Run();
        !s.ok()) {
      return s;
    }
    absl::StatusOr<ScopedStatement> insert = db_->Cached(kInsertToken);
    if (!insert.ok()) return insert.status();
    if (absl::Status s = (*insert)
                             ->Bind(1, token.secret_sha256)
                             .Bind(2, token.name)
                             .Bind(3, token.role)
                             .Bind(4, ToStoredNanos(token.created_at))
                             .Bind(5, ToStoredNanos(token.expires_at))
                             .Run();
        !s.ok()) {
      return s;
    }
    return transaction.Commit();
  });
}

absl::StatusOr<TrustedClientRecord> SqliteTrustStore::Redeem(const std::string& secret_sha256,
                                                             const std::string& fingerprint,
                                                             absl::Time now) {
  absl::MutexLock lock(mu_);
  return sqlite::RetryWhileBusy([&]() -> absl::StatusOr<TrustedClientRecord> {
    Transaction transaction(*db_);
    if (!transaction.status().ok()) return transaction.status();
    TrustedClientRecord client;
    client.fingerprint = fingerprint;
    client.added_at = now;
    absl::Time expires_at;
    bool used = false;
    {  // The lease ends (and resets the statement) before the writes below.
      absl::StatusOr<ScopedStatement> select = db_->Cached(kSelectToken);
      if (!select.ok()) return select.status();
      (*select)->Bind(1, secret_sha256);
      absl::StatusOr<bool> row = (*select)->Step();
      if (!row.ok()) return row.status();
      if (!*row) {
        return absl::PermissionDeniedError(
            "the join token is not valid; ask the server's admin for a new one "
            "(berth config trust add-token NAME)");
      }
      client.name = (*select)->ColumnText(0);
      client.role = (*select)->ColumnText(1);
      expires_at = FromStoredNanos((*select)->ColumnInt64(2));
      used = (*select)->ColumnOptionalInt64(3).has_value();
    }
    if (used) {
      return absl::PermissionDeniedError(
          "the join token was used already (a token enrols one client); ask the server's admin "
          "for a new one (berth config trust add-token NAME)");
    }
    if (expires_at <= now) {
      return absl::PermissionDeniedError(
          absl::StrCat("the join token expired at ", absl::FormatTime(expires_at),
                       "; ask the server's admin for a new one (berth config trust add-token "
                       "NAME)"));
    }
    if (absl::Status s = InsertClient(*db_, client); !s.ok()) return s;
    absl::StatusOr<ScopedStatement> use = db_->Cached(kUseToken);
    if (!use.ok()) return use.status();
    if (absl::Status s = (*use)->Bind(1, secret_sha256).Bind(2, ToStoredNanos(now)).Run();
        !s.ok()) {
      return s;
    }
    if (absl::Status s = transaction.Commit(); !s.ok()) return s;
    return client;
  });
}

}  // namespace berth::storage

// SqliteTrustStore: trusted clients and single-use, expiring join tokens (schema migration 3).

#include "berth/storage/sqlite_trust_store.h"

#include <memory>
#include <string>

#include "berth/storage/sqlite_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "status_testing.h"
#include "test_files.h"

namespace berth::storage {
namespace {

using ::berth::storage::testing::StatusIs;
using ::berth::storage::testing::TempDir;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
const std::string kFp1(64, 'a');
const std::string kFp2 = std::string(63, 'a') + "b";

class TrustStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.File("berth.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  SqliteTrustStore& trust() { return store_->trust(); }
  void AddToken(const std::string& hash, absl::Time expires, const std::string& role = "admin") {
    ASSERT_OK(trust().AddToken({.secret_sha256 = hash, .name = "laptop", .role = role,
                                .created_at = kNow - absl::Minutes(1), .expires_at = expires}));
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(TrustStoreTest, ATokenEnrolsOnceWithItsNameAndRole) {
  AddToken("h1", kNow + absl::Hours(1), "readonly");
  ASSERT_OK_AND_ASSIGN(TrustedClientRecord client, trust().Redeem("h1", kFp1, kNow));
  EXPECT_EQ(client.name, "laptop");
  EXPECT_EQ(client.role, "readonly");
  ASSERT_OK_AND_ASSIGN(TrustedClientRecord stored, trust().Get(kFp1));
  EXPECT_EQ(stored, client);
  EXPECT_THAT(trust().Redeem("h1", kFp2, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("used already")));
  EXPECT_THAT(trust().Get(kFp2), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST_F(TrustStoreTest, UnknownAndExpiredTokensAreRefused) {
  EXPECT_THAT(trust().Redeem("nope", kFp1, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("not valid")));
  AddToken("h2", kNow);
  EXPECT_THAT(trust().Redeem("h2", kFp1, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("expired")));
  ASSERT_OK_AND_ASSIGN(auto clients, trust().List());
  EXPECT_TRUE(clients.empty());
}

TEST_F(TrustStoreTest, AnAlreadyTrustedCertificateLeavesTheTokenUnused) {
  ASSERT_OK(trust().Add({.fingerprint = kFp1, .name = "old", .role = "admin", .added_at = kNow}));
  AddToken("h3", kNow + absl::Hours(1));
  EXPECT_THAT(trust().Redeem("h3", kFp1, kNow), StatusIs(absl::StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_OK(trust().Redeem("h3", kFp2, kNow).status());
}

TEST_F(TrustStoreTest, RemoveTakesAUniquePrefixAndTouchRecordsCalls) {
  ASSERT_OK(trust().Add({.fingerprint = kFp1, .name = "a", .role = "admin", .added_at = kNow}));
  ASSERT_OK(trust().Add({.fingerprint = kFp2, .name = "b", .role = "readonly", .added_at = kNow}));
  EXPECT_THAT(trust().Remove("aaaaaaaa"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 trusted certificates")));
  ASSERT_OK(trust().Touch(kFp2, kNow + absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(TrustedClientRecord b, trust().Get(kFp2));
  EXPECT_EQ(b.last_seen, kNow + absl::Seconds(5));
  ASSERT_OK_AND_ASSIGN(TrustedClientRecord removed, trust().Remove(kFp2));
  EXPECT_EQ(removed.name, "b");
  EXPECT_THAT(trust().Remove(kFp2), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  ASSERT_OK_AND_ASSIGN(auto clients, trust().List());
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].fingerprint, kFp1);
}

}  // namespace
}  // namespace berth::storage

// tls/: keys and self-signed certificates, fingerprints, private files, join tokens.

#include "berth/tls/certificates.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace berth::tls {
namespace {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/berth-tls-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::system(("rm -rf " + path_).c_str()); }
  std::string File(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

TEST(CertificatesTest, GeneratedCertificateHasItsNameAndAStableFingerprint) {
  auto pair = GenerateSelfSigned({.common_name = "berthd", .dns_names = {"berthd"}});
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto info = Inspect(pair->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "berthd");
  EXPECT_TRUE(IsFingerprint(info->fingerprint));
  EXPECT_EQ(Fingerprint(pair->cert_pem).value(), info->fingerprint);
  EXPECT_LT(info->not_before, absl::Now());
  EXPECT_GT(info->not_after, absl::Now() + absl::Hours(24 * 365));
  auto other = GenerateSelfSigned({.common_name = "berthd", .dns_names = {}});
  EXPECT_NE(Fingerprint(other->cert_pem).value(), info->fingerprint);
  EXPECT_EQ(Inspect("not a certificate").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CertificatesTest, LoadOrCreateMakesPrivateFilesOnceAndChecksTheyMatch) {
  TempDir dir;
  const std::string key = dir.File("k.pem"), cert = dir.File("c.pem");
  auto created = LoadOrCreate(key, cert, {.common_name = "x", .dns_names = {}});
  ASSERT_TRUE(created.ok()) << created.status();
  for (const std::string& path : {key, cert}) {
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
  auto loaded = LoadOrCreate(key, cert, {.common_name = "y", .dns_names = {}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->cert_pem, created->cert_pem);
  // A key that is not the certificate's.
  auto stranger = GenerateSelfSigned({.common_name = "z", .dns_names = {}});
  ASSERT_TRUE(WritePrivateFile(key, stranger->key_pem).ok());
  EXPECT_EQ(LoadOrCreate(key, cert, {}).status().code(), absl::StatusCode::kInvalidArgument);
  // One file without the other.
  unlink(key.c_str());
  EXPECT_EQ(LoadOrCreate(key, cert, {}).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CertificatesTest, JoinTokensRoundTripAndBadOnesAreRefused) {
  JoinToken token{.secret = std::string(64, '1'), .server_fingerprint = std::string(64, 'f')};
  std::string text = FormatJoinToken(token);
  auto parsed = ParseJoinToken(" " + text + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->secret, token.secret);
  EXPECT_EQ(parsed->server_fingerprint, token.server_fingerprint);
  for (const std::string& bad : {std::string("berth1.x.y"), text.substr(1), text + "0",
                                 "berth2" + text.substr(6), std::string()}) {
    EXPECT_EQ(ParseJoinToken(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace berth::tls

#include "berth/tls/certificates.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"

namespace berth::tls {
namespace {

// Owners for OpenSSL handles (one line each, as Envoy's c_smart_ptr.h does).
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// OpenSSL's error queue as one sentence, emptied.
std::string OpenSslError() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    if (!out.empty()) out += "; ";
    out += buffer;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status Failed(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslError()));
}

std::string Hex(const unsigned char* data, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, size > 0 ? static_cast<size_t>(size) : 0);
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Failed("BIO_new_mem_buf");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return absl::InvalidArgumentError("not a PEM certificate (expected -----BEGIN CERTIFICATE-----)");
  }
  return cert;
}

absl::Time FromAsn1(const ASN1_TIME* t) {
  struct tm parts = {};
  if (ASN1_TIME_to_tm(t, &parts) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&parts));
}

}  // namespace

absl::StatusOr<KeyAndCertificate> GenerateSelfSigned(const CertificateRequest& request) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  EVP_PKEY* raw_key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw_key) != 1) {
    return Failed("generating an ECDSA P-256 key");
  }
  PkeyPtr key(raw_key);

  X509Ptr cert(X509_new());
  if (!cert) return Failed("X509_new");
  X509_set_version(cert.get(), 2);
  // A random 127-bit serial: two certificates of one name never share one.
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return Failed("RAND_bytes");
  serial_bytes[0] &= 0x7f;
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  ASN1_INTEGER* serial_asn1 = BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  if (serial_asn1 == nullptr) return Failed("setting the serial number");
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), absl::ToTimeT(request.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), absl::ToTimeT(request.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key.get());

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
  };
  if (!request.dns_names.empty()) {
    std::vector<std::string> names;
    for (const auto& dns : request.dns_names) names.push_back(absl::StrCat("DNS:", dns));
    extensions.emplace_back(NID_subject_alt_name, absl::StrJoin(names, ","));
  }
  for (const auto& [nid, value] : extensions) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      return Failed(absl::StrCat("adding extension \"", value, "\""));
    }
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return Failed("signing the certificate");

  BioPtr key_bio(BIO_new(BIO_s_mem()));
  BioPtr cert_bio(BIO_new(BIO_s_mem()));
  if (!key_bio || !cert_bio ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
    return Failed("writing PEM");
  }
  return KeyAndCertificate{.key_pem = BioText(key_bio.get()),
                           .cert_pem = BioText(cert_bio.get())};
}

absl::StatusOr<CertificateInfo> Inspect(absl::string_view cert_pem) {
  absl::StatusOr<X509Ptr> cert = ParseCertificate(cert_pem);
  if (!cert.ok()) return cert.status();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (X509_digest(cert->get(), EVP_sha256(), digest, &size) != 1) return Failed("X509_digest");
  CertificateInfo info;
  info.fingerprint = Hex(digest, size);
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName, cn,
                                sizeof cn) > 0) {
    info.common_name = cn;
  }
  info.not_before = FromAsn1(X509_get0_notBefore(cert->get()));
  info.not_after = FromAsn1(X509_get0_notAfter(cert->get()));
  return info;
}

absl::StatusOr<std::string> Fingerprint(absl::string_view cert_pem) {
  absl::StatusOr<CertificateInfo> info = Inspect(cert_pem);
  if (!info.ok()) return info.status();
  return info->fingerprint;
}

bool IsFingerprint(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return Hex(digest, size);
}

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return Failed("RAND_bytes");
  }
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    std::string why = absl::StrCat("cannot read \"", path, "\": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(why);
    if (err == EACCES) return absl::PermissionDeniedError(why);
    return absl::InternalError(why);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WritePrivateFile(const std::string& path, absl::string_view contents) {
  std::string temp = absl::StrCat(path, ".tmp.", getpid());
  auto fail = [&](absl::string_view what) {
    int err = errno;
    unlink(temp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot write \"", path, "\" (", what, "): ", std::strerror(err)));
  };
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return fail("open");
  // The mode is set on the descriptor too: a umask cannot widen it, a leftover cannot keep its own.
  if (fchmod(fd, 0600) != 0) {
    close(fd);
    return fail("fchmod");
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    close(fd);
    return fail("fsync");
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) return fail("rename");
  return absl::OkStatus();
}

absl::StatusOr<KeyAndCertificate> LoadOrCreate(const std::string& key_path,
                                               const std::string& cert_path,
                                               const CertificateRequest& request) {
  std::error_code ec;
  bool have_key = std::filesystem::exists(key_path, ec);
  bool have_cert = std::filesystem::exists(cert_path, ec);
  if (have_key != have_cert) {
    return absl::FailedPreconditionError(absl::StrCat(
        "found \"", have_key ? key_path : cert_path, "\" but not \"",
        have_key ? cert_path : key_path,
        "\"; provide both the key and the certificate, or remove the one to have both created"));
  }
  if (!have_key) {
    absl::StatusOr<KeyAndCertificate> created = GenerateSelfSigned(request);
    if (!created.ok()) return created.status();
    if (auto s = WritePrivateFile(key_path, created->key_pem); !s.ok()) return s;
    if (auto s = WritePrivateFile(cert_path, created->cert_pem); !s.ok()) return s;
    return created;
  }
  KeyAndCertificate pair;
  const std::pair<const std::string*, std::string*> files[] = {{&key_path, &pair.key_pem},
                                                               {&cert_path, &pair.cert_pem}};
  for (auto [path, out] : files) {
    absl::StatusOr<std::string> text = ReadFile(*path);
    if (!text.ok()) return text.status();
    *out = *std::move(text);
  }
  absl::StatusOr<X509Ptr> cert = ParseCertificate(pair.cert_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", cert_path, "\" is ", cert.status().message()));
  }
  BioPtr bio(BIO_new_mem_buf(pair.key_pem.data(), static_cast<int>(pair.key_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key || X509_check_private_key(cert->get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", key_path, "\" is not the private key of the certificate \"", cert_path,
        "\" (or not an unencrypted PEM key)"));
  }
  return pair;
}

std::string FormatJoinToken(const JoinToken& token) {
  return absl::StrCat("berth1.", token.secret, ".", token.server_fingerprint);
}

absl::StatusOr<JoinToken> ParseJoinToken(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(absl::StripAsciiWhitespace(text), '.');
  if (parts.size() != 3 || parts[0] != "berth1" || !IsFingerprint(parts[1]) ||
      !IsFingerprint(parts[2])) {
    return absl::InvalidArgumentError(
        "the join token is malformed (expected berth1.<64 hex digits>.<64 hex digits>, as "
        "berth config trust add-token prints it); copy it again whole");
  }
  return JoinToken{.secret = std::string(parts[1]), .server_fingerprint = std::string(parts[2])};
}

}  // namespace berth::tls

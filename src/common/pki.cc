// Certificates with OpenSSL 3's libcrypto. Every OpenSSL object is held by a unique_ptr so error
// paths cannot leak.
#include "common/pki.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/file.h"
#include "common/log.h"

namespace skiff::pki {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

constexpr int kRenewBeforeDays = 30;

// The most recent OpenSSL error, for messages; also clears the queue so it does not leak into an
// unrelated later call.
std::string OpenSslError(const std::string& what) {
  unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return what;
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  return what + ": " + buf;
}

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xF];
  }
  return out;
}

BioPtr MemBio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

X509Ptr ReadCert(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr ReadKey(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  if (!bio) return nullptr;
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Status::Internal(OpenSslError("encoding certificate"));
  }
  return BioString(bio.get());
}

StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal(OpenSslError("encoding private key"));
  }
  return BioString(bio.get());
}

std::string Asn1String(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::chrono::system_clock::time_point Asn1Time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// OpenSSL's config syntax separates SAN entries with commas, so a name with one cannot be
// expressed (and is no valid host name anyway).
Status CheckName(const std::string& name) {
  if (name.empty() || name.find_first_of(",\n\r ") != std::string::npos) {
    return Status::BadRequest("invalid certificate name \"" + name + "\"");
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::Internal(OpenSslError("adding extension " + value));
  }
  return Status::Ok();
}

struct Subject {
  std::string common_name;
  std::vector<std::string> organizations;
};

Status SetSubject(X509* cert, const Subject& subject) {
  X509_NAME* name = X509_get_subject_name(cert);
  for (const auto& org : subject.organizations) {
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1,
                                   0) != 1) {
      return Status::Internal(OpenSslError("setting subject O"));
    }
  }
  if (X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(subject.common_name.c_str()), -1, -1, 0) != 1) {
    return Status::Internal(OpenSslError("setting subject CN"));
  }
  return Status::Ok();
}

// Issues a certificate for a fresh key. `issuer` and `issuer_key` are null for a self-signed one.
// `extensions` are (NID, OpenSSL config value) pairs.
StatusOr<CertKey> Issue(const Subject& subject, int valid_days, X509* issuer, EVP_PKEY* issuer_key,
                        const std::vector<std::pair<int, std::string>>& extensions) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal(OpenSslError("generating EC key"));
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("allocating certificate"));
  X509_set_version(cert.get(), X509_VERSION_3);

  // A random positive 127-bit serial: unique without bookkeeping, within RFC 5280's 20 octets.
  BnPtr serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Status::Internal(OpenSslError("choosing serial number"));
  }
  // Backdated an hour so a client whose clock runs slightly behind still accepts it.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(valid_days) * 24 * 3600);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) {
    return Status::Internal(OpenSslError("setting public key"));
  }
  SKIFF_RETURN_IF_ERROR(SetSubject(cert.get(), subject));
  X509* signer_cert = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer_cert)) != 1) {
    return Status::Internal(OpenSslError("setting issuer"));
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer_cert, cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    SKIFF_RETURN_IF_ERROR(AddExtension(cert.get(), &ctx, nid, value));
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0) {
    return Status::Internal(OpenSslError("signing certificate"));
  }

  CertKey out;
  auto cert_pem = CertPem(cert.get());
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyPem(key.get());
  if (!key_pem.ok()) return key_pem.status();
  out.cert_pem = std::move(*cert_pem);
  out.key_pem = std::move(*key_pem);
  return out;
}

StatusOr<CertKey> IssueLeaf(const CertKey& ca, const Subject& subject, int valid_days,
                            std::vector<std::pair<int, std::string>> extensions) {
  X509Ptr ca_cert = ReadCert(ca.cert_pem);
  PkeyPtr ca_key = ReadKey(ca.key_pem);
  if (!ca_cert || !ca_key) return Status::BadRequest(OpenSslError("reading the CA certificate"));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return Status::BadRequest(OpenSslError("the CA key does not match the CA certificate"));
  }
  extensions.insert(extensions.begin(), {{NID_basic_constraints, "critical,CA:FALSE"},
                                         {NID_subject_key_identifier, "hash"},
                                         {NID_authority_key_identifier, "keyid:always"}});
  return Issue(subject, valid_days, ca_cert.get(), ca_key.get(), extensions);
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// Loads a certificate and key pair from files; fails when either is missing or unreadable or
// they do not belong together.
StatusOr<CertKey> LoadPair(const std::string& cert_file, const std::string& key_file) {
  auto cert = ReadFile(cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile(key_file);
  if (!key.ok()) return key.status();
  if (!KeyMatches(*cert, *key)) {
    return Status::Invalid(key_file + " is not the key of " + cert_file);
  }
  return CertKey{std::move(*cert), std::move(*key)};
}

Status WritePair(const CertKey& pair, const std::string& cert_file, const std::string& key_file) {
  // Key first: a crash between the two leaves a stale certificate, which the next run detects as
  // a mismatch and replaces.
  SKIFF_RETURN_IF_ERROR(WriteFileAtomic(key_file, pair.key_pem, 0600));
  return WriteFileAtomic(cert_file, pair.cert_pem, 0644);
}

}  // namespace

StatusOr<CertKey> GenerateCa(const std::string& common_name, int valid_days) {
  return Issue({common_name, {}}, valid_days, nullptr, nullptr,
               {{NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"},
                {NID_subject_key_identifier, "hash"}});
}

StatusOr<CertKey> GenerateServerCert(const CertKey& ca, const std::vector<std::string>& extra_names,
                                     int valid_days) {
  std::string san = "DNS:localhost,IP:127.0.0.1";
  for (const auto& name : extra_names) {
    SKIFF_RETURN_IF_ERROR(CheckName(name));
    san += (IsIpAddress(name) ? ",IP:" : ",DNS:") + name;
  }
  return IssueLeaf(ca, {"skiff", {}}, valid_days,
                   {{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                    {NID_ext_key_usage, "serverAuth"},
                    {NID_subject_alt_name, san}});
}

StatusOr<CertKey> GenerateClientCert(const CertKey& ca, const std::string& common_name,
                                     const std::vector<std::string>& organizations,
                                     int valid_days) {
  if (common_name.empty()) return Status::BadRequest("a client certificate needs a common name");
  return IssueLeaf(ca, {common_name, organizations}, valid_days,
                   {{NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                    {NID_ext_key_usage, "clientAuth"}});
}

StatusOr<CertInfo> ParseCert(std::string_view cert_pem) {
  X509Ptr cert = ReadCert(cert_pem);
  if (!cert) return Status::BadRequest(OpenSslError("parsing certificate"));
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    if (info.common_name.empty()) {
      info.common_name = Asn1String(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    }
  }
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationName, i)) {
    info.organizations.push_back(
        Asn1String(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
  }
  NamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      info.dns_names.push_back(Asn1String(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)) != nullptr) {
        info.ip_addresses.push_back(text);
      }
    }
  }
  info.not_before = Asn1Time(X509_get0_notBefore(cert.get()));
  info.not_after = Asn1Time(X509_get0_notAfter(cert.get()));
  info.is_ca = X509_check_ca(cert.get()) > 0;
  return info;
}

bool SignedBy(std::string_view cert_pem, std::string_view issuer_cert_pem) {
  X509Ptr cert = ReadCert(cert_pem);
  X509Ptr issuer = ReadCert(issuer_cert_pem);
  if (!cert || !issuer) {
    ERR_clear_error();
    return false;
  }
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.get());
  bool ok = issuer_key != nullptr && X509_verify(cert.get(), issuer_key) == 1;
  ERR_clear_error();
  return ok;
}

bool KeyMatches(std::string_view cert_pem, std::string_view key_pem) {
  X509Ptr cert = ReadCert(cert_pem);
  PkeyPtr key = ReadKey(key_pem);
  bool ok = cert && key && X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  return ok;
}

StatusOr<ServingCerts> EnsureServingCerts(const std::string& dir,
                                          const std::vector<std::string>& extra_names) {
  std::error_code fs_ec;
  if (!std::filesystem::exists(dir, fs_ec)) {
    std::filesystem::create_directories(dir, fs_ec);
    if (fs_ec) return Status::Internal("creating " + dir + ": " + fs_ec.message());
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, fs_ec);
  }
  ServingCerts out;
  out.ca_cert_file = dir + "/ca.crt";
  out.ca_key_file = dir + "/ca.key";
  out.cert_file = dir + "/server.crt";
  out.key_file = dir + "/server.key";
  auto renew_before = std::chrono::system_clock::now() + std::chrono::hours(24) * kRenewBeforeDays;

  bool new_ca = false;
  auto ca = LoadPair(out.ca_cert_file, out.ca_key_file);
  if (ca.ok()) {
    auto info = ParseCert(ca->cert_pem);
    if (!info.ok() || !info->is_ca || info->not_after < renew_before) {
      ca = Status::Invalid(out.ca_cert_file + " is not a valid CA or expires soon");
    }
  }
  if (!ca.ok()) {
    if (FileExists(out.ca_cert_file) || FileExists(out.ca_key_file)) {
      SKIFF_LOG(Warn) << "pki: replacing the CA in " << dir << ": " << ca.status().message();
    }
    ca = GenerateCa("skiff-ca");
    if (!ca.ok()) return ca.status();
    SKIFF_RETURN_IF_ERROR(WritePair(*ca, out.ca_cert_file, out.ca_key_file));
    new_ca = true;
  }
  out.ca_pem = ca->cert_pem;

  bool reissue = new_ca;
  if (!reissue) {
    auto server = LoadPair(out.cert_file, out.key_file);
    reissue = !server.ok() || !SignedBy(server->cert_pem, ca->cert_pem);
    if (!reissue) {
      auto info = ParseCert(server->cert_pem);
      reissue = !info.ok() || info->not_after < renew_before;
      for (size_t i = 0; !reissue && i < extra_names.size(); ++i) {
        const auto& names = IsIpAddress(extra_names[i]) ? info->ip_addresses : info->dns_names;
        reissue = std::find(names.begin(), names.end(), extra_names[i]) == names.end();
      }
    }
  }
  if (reissue) {
    auto server = GenerateServerCert(*ca, extra_names);
    if (!server.ok()) return server.status();
    SKIFF_RETURN_IF_ERROR(WritePair(*server, out.cert_file, out.key_file));
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr) != 1) {
    // Only possible if libcrypto is broken; an empty hash then matches nothing.
    ERR_clear_error();
    return {};
  }
  return Hex(digest, n);
}

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // A token from a failed CSPRNG would be guessable; there is no safe value to return.
    SKIFF_LOG(Error) << OpenSslError("RAND_bytes failed");
    std::abort();
  }
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

}  // namespace skiff::pki

// A small PKI for serving the API over TLS out of the box: a self-signed CA, a server certificate
// it signs, client certificates for kubeconfig client-cert auth, plus hashing and random tokens.
// All functions are thread-safe (they share no state); EnsureServingCerts is not safe against two
// processes initialising the same directory at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::pki {

// A certificate and its private key, both PEM (the key as PKCS#8, EC P-256).
struct CertKey {
  std::string cert_pem;
  std::string key_pem;
};

// What a certificate says, for the checks EnsureServingCerts makes and for tests.
struct CertInfo {
  std::string common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;  // textual, e.g. "127.0.0.1", "::1"
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  bool is_ca = false;
};

// A self-signed CA certificate, valid for `valid_days` (ten years by default).
StatusOr<CertKey> GenerateCa(const std::string& common_name, int valid_days = 3650);

// A serving certificate signed by `ca`, with SANs DNS:localhost, IP:127.0.0.1 and `extra_names`
// (each an IP literal or a DNS name).
StatusOr<CertKey> GenerateServerCert(const CertKey& ca,
                                     const std::vector<std::string>& extra_names = {},
                                     int valid_days = 365);

// A client certificate signed by `ca`. Kubernetes reads the subject CN as the user name and each
// O as a group.
StatusOr<CertKey> GenerateClientCert(const CertKey& ca, const std::string& common_name,
                                     const std::vector<std::string>& organizations,
                                     int valid_days = 365);

StatusOr<CertInfo> ParseCert(std::string_view cert_pem);
// Whether `cert_pem` carries a signature made by the key of `issuer_cert_pem`.
bool SignedBy(std::string_view cert_pem, std::string_view issuer_cert_pem);
// Whether `key_pem` is the private key of `cert_pem`.
bool KeyMatches(std::string_view cert_pem, std::string_view key_pem);

// File paths of the serving certificates in a directory, and the CA's PEM for clients.
struct ServingCerts {
  std::string ca_cert_file;  // <dir>/ca.crt
  std::string ca_key_file;   // <dir>/ca.key
  std::string cert_file;     // <dir>/server.crt
  std::string key_file;      // <dir>/server.key
  std::string ca_pem;
};

// Creates ca.crt/ca.key/server.crt/server.key in `dir` on first use and reuses them afterwards.
// The server certificate is issued again when it is missing, unreadable, not signed by the CA,
// expires within 30 days or lacks one of `extra_names`; the CA only when it is missing, unreadable
// or expiring, because replacing it invalidates every kubeconfig that trusts it. Keys are 0600.
StatusOr<ServingCerts> EnsureServingCerts(const std::string& dir,
                                          const std::vector<std::string>& extra_names = {});

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// `bytes` bytes from OpenSSL's CSPRNG, hex-encoded (so 2*bytes characters).
std::string RandomToken(size_t bytes = 32);

}  // namespace skiff::pki

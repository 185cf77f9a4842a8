#include "apiserver/service_account_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <chrono>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "common/pki.h"

namespace skiff::apiserver {

namespace {

constexpr char kIssuer[] = "skiff";
constexpr char kUserPrefix[] = "system:serviceaccount:";

// JWTs use unpadded base64url.
std::string Base64UrlEncode(std::string_view in) {
  std::string out = Base64Encode(in);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view in) {
  std::string s(in);
  for (char& c : s) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return std::nullopt;  // not the URL alphabet
    }
  }
  s.append((4 - s.size() % 4) % 4, '=');
  return Base64Decode(s);
}

// Object names and namespaces cannot hold ':', which separates the user name's parts.
bool ValidPart(const std::string& s) { return !s.empty() && s.find(':') == std::string::npos; }

// A string member, or "" (json::value would throw on a member of another type).
std::string StrField(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

StatusOr<std::unique_ptr<ServiceAccountTokens>> ServiceAccountTokens::Open(
    const std::string& key_file) {
  if (key_file.empty()) return std::make_unique<ServiceAccountTokens>(pki::RandomToken(32));
  auto existing = ReadFile(key_file);
  if (existing.ok()) {
    std::string key = *existing;
    while (!key.empty() && isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    // A short key would make forging easy; treat it as damage and refuse to start.
    if (key.size() < 32) {
      return Status::Internal("the service-account signing key " + key_file +
                              " is too short; remove it to have a new one generated");
    }
    return std::make_unique<ServiceAccountTokens>(std::move(key));
  }
  std::string key = pki::RandomToken(32);
  SKIFF_RETURN_IF_ERROR(WriteFileAtomic(key_file, key + "\n", 0600));
  return std::make_unique<ServiceAccountTokens>(std::move(key));
}

std::string ServiceAccountTokens::Sign(std::string_view signing_input) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &len);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string ServiceAccountTokens::Issue(const std::string& ns, const std::string& name,
                                        const std::string& uid) const {
  Json account = {{"name", name}};
  if (!uid.empty()) account["uid"] = uid;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Json claims = {{"iss", kIssuer},
                 {"sub", kUserPrefix + ns + ":" + name},
                 {"iat", now},
                 {"kubernetes.io", {{"namespace", ns}, {"serviceaccount", account}}}};
  const Json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  return input + "." + Sign(input);
}

StatusOr<UserInfo> ServiceAccountTokens::Verify(std::string_view token) const {
  const Status unauthorized = Status::Unauthorized("Unauthorized");
  const size_t first = token.find('.');
  const size_t last = token.rfind('.');
  if (first == std::string_view::npos || first == last) return unauthorized;
  const std::string_view input = token.substr(0, last);
  const std::string expected = Sign(input);
  const std::string_view signature = token.substr(last + 1);
  // Constant-time: the signature is what a forger is guessing.
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return unauthorized;
  }
  // The signature is ours, so the rest is what Issue wrote; still check it rather than trust it.
  auto header_text = Base64UrlDecode(token.substr(0, first));
  auto claims_text = Base64UrlDecode(token.substr(first + 1, last - first - 1));
  if (!header_text || !claims_text) return unauthorized;
  auto header = ParseJson(*header_text);
  auto claims = ParseJson(*claims_text);
  if (!header.ok() || !claims.ok() || !header->is_object() || !claims->is_object()) {
    return unauthorized;
  }
  if (StrField(*header, "alg") != "HS256" || StrField(*claims, "iss") != kIssuer) {
    return unauthorized;
  }
  // The claim's key holds a dot, which FindPath would split on.
  std::string nspace, name;
  if (auto k8s = claims->find("kubernetes.io"); k8s != claims->end() && k8s->is_object()) {
    nspace = StrField(*k8s, "namespace");
    if (auto account = k8s->find("serviceaccount"); account != k8s->end()) {
      name = StrField(*account, "name");
    }
  }
  if (!ValidPart(nspace) || !ValidPart(name)) return unauthorized;
  const std::string user = kUserPrefix + nspace + ":" + name;
  if (StrField(*claims, "sub") != user) return unauthorized;
  return UserInfo{user, {"system:serviceaccounts", "system:serviceaccounts:" + nspace}};
}

}  // namespace skiff::apiserver

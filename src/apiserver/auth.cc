#include "apiserver/auth.h"

#include <openssl/crypto.h>

namespace skiff::apiserver {

namespace {

class DefaultAuthenticator : public Authenticator {
 public:
  explicit DefaultAuthenticator(AuthenticatorOptions options) : options_(std::move(options)) {}

  StatusOr<UserInfo> Authenticate(const http::Request& request) override {
    std::string auth = request.Header("Authorization");
    if (!auth.empty()) {
      const std::string prefix = "Bearer ";
      if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) {
        return Status::Unauthorized("Unauthorized");
      }
      std::string token = auth.substr(prefix.size());
      for (const auto& [known, user] : options_.tokens) {
        // Constant-time comparison: tokens are secrets.
        if (known.size() == token.size() &&
            CRYPTO_memcmp(known.data(), token.data(), token.size()) == 0) {
          UserInfo u = user;
          u.groups.push_back("system:authenticated");
          return u;
        }
      }
      if (options_.verify_token) {
        auto verified = options_.verify_token(token);
        if (verified.ok()) {
          verified->groups.push_back("system:authenticated");
          return verified;
        }
      }
      return Status::Unauthorized("Unauthorized");
    }
    if (options_.accept_client_certs && !request.client_cert_cn.empty()) {
      UserInfo u{request.client_cert_cn, request.client_cert_orgs};
      u.groups.push_back("system:authenticated");
      return u;
    }
    if (options_.anonymous_user) return *options_.anonymous_user;
    return Status::Unauthorized("Unauthorized");
  }

 private:
  AuthenticatorOptions options_;
};

class AllowAll : public Authorizer {
 public:
  Status Authorize(const UserInfo&, const RequestAttributes&) override { return Status::Ok(); }
};

}  // namespace

std::unique_ptr<Authenticator> NewAuthenticator(AuthenticatorOptions options) {
  return std::make_unique<DefaultAuthenticator>(std::move(options));
}

std::unique_ptr<Authorizer> NewAllowAllAuthorizer() { return std::make_unique<AllowAll>(); }

}  // namespace skiff::apiserver

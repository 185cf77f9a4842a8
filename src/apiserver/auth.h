// Authentication and authorization seams on the request path. Today: bearer tokens and client
// certificates authenticate; every authenticated user is allowed (RBAC plugs in as an Authorizer).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "apiserver/object_api.h"
#include "common/status.h"
#include "http/http.h"

namespace skiff::apiserver {

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // kUnauthorized when credentials are missing or wrong.
  virtual StatusOr<UserInfo> Authenticate(const http::Request& request) = 0;
};

// What a request wants to do, in RBAC's terms.
struct RequestAttributes {
  std::string verb;  // get, list, watch, create, update, patch, delete, deletecollection
  std::string api_group;
  std::string resource;
  std::string subresource;
  std::string ns;
  std::string name;
  std::string path;  // for non-resource requests
  bool resource_request = true;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // kForbidden with Kubernetes' message when not allowed.
  virtual Status Authorize(const UserInfo& user, const RequestAttributes& attrs) = 0;
};

struct AuthenticatorOptions {
  std::map<std::string, UserInfo> tokens;  // bearer token -> user
  // Bearer tokens not in `tokens` (service-account tokens): the user, or an error for a token it
  // does not know.
  std::function<StatusOr<UserInfo>(const std::string& token)> verify_token;
  bool accept_client_certs = true;  // CN = user, O = groups (verified by the TLS layer)
  // Requests without credentials: as this user when set (plain-HTTP development mode), else 401.
  std::optional<UserInfo> anonymous_user;
};

std::unique_ptr<Authenticator> NewAuthenticator(AuthenticatorOptions options);
std::unique_ptr<Authorizer> NewAllowAllAuthorizer();

}  // namespace skiff::apiserver

// Service-account tokens: the credentials the node agent mounts into Pods, issued and verified by
// the API server. A token is a JWT signed with HMAC-SHA256 under a key only the server knows, so
// tools that decode tokens (kubectl, jwt.io) read the usual claims.
//
// Thread-safety: immutable after construction; Issue and Verify may run on any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "apiserver/object_api.h"
#include "common/status.h"

namespace skiff::apiserver {

class ServiceAccountTokens {
 public:
  // The signing key kept in `key_file` (0600), generated on first use. An empty path: a random
  // key for this process only (tokens die with it, as the in-memory store's objects do).
  static StatusOr<std::unique_ptr<ServiceAccountTokens>> Open(const std::string& key_file);
  explicit ServiceAccountTokens(std::string key) : key_(std::move(key)) {}

  // A token for `system:serviceaccount:<ns>:<name>`; `uid` (the ServiceAccount's) is optional.
  // It does not expire: it lives as long as the key.
  std::string Issue(const std::string& ns, const std::string& name,
                    const std::string& uid = "") const;

  // The user a token names, with groups system:serviceaccounts and system:serviceaccounts:<ns>.
  // kUnauthorized for anything not issued under this key, or malformed.
  StatusOr<UserInfo> Verify(std::string_view token) const;

 private:
  std::string Sign(std::string_view signing_input) const;

  std::string key_;
};

}  // namespace skiff::apiserver

// The Kubernetes REST surface: turns HTTP requests into ObjectApi calls and results into the
// JSON, Table and watch-stream responses kubectl expects. Also serves discovery, OpenAPI,
// /version and health endpoints.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "apiserver/auth.h"
#include "apiserver/object_api.h"
#include "common/timer.h"
#include "http/http.h"

namespace skiff::apiserver {

struct HandlerOptions {
  std::string server_address;  // "127.0.0.1:6443", reported by /api
  std::chrono::milliseconds bookmark_interval{60000};
};

// A handler for paths outside the Kubernetes API (e.g. /metrics, the KFP REST facade). Returns
// std::nullopt when it does not serve the path.
using ExtraRoute = std::function<std::optional<http::Reply>(http::Request&, const UserInfo&)>;

class ApiHandler {
 public:
  ApiHandler(ObjectApi* api, Authenticator* authn, Authorizer* authz, HandlerOptions options);
  ~ApiHandler();

  http::Reply Handle(http::Request& request);
  void AddRoute(ExtraRoute route) { routes_.push_back(std::move(route)); }

 private:
  struct Target;
  http::Reply HandleResource(http::Request& request, const UserInfo& user, const Target& target);
  http::Reply HandleWatch(http::Request& request, const RequestContext& ctx, const Target& target);
  http::Reply HandleList(http::Request& request, const RequestContext& ctx, const Target& target);
  http::Reply ErrorReply(const Status& status);

  ObjectApi* api_;
  Authenticator* authn_;
  Authorizer* authz_;
  HandlerOptions options_;
  std::vector<ExtraRoute> routes_;
  TimerQueue timers_;
};

}  // namespace skiff::apiserver

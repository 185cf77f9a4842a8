// The Kubernetes REST surface: turns HTTP requests into ObjectApi calls and results into the
// JSON, Table and watch-stream responses kubectl expects. Also serves discovery, OpenAPI,
// /version and health endpoints.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
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

// What `GET pods/{name}/log` asks for (kubectl logs' query parameters).
struct PodLogRequest {
  std::string container;  // already validated against the Pod
  bool follow = false;
  bool previous = false;
  bool timestamps = false;
  int64_t tail_lines = -1;   // -1: all
  int64_t limit_bytes = -1;  // -1: no limit
  std::optional<std::chrono::system_clock::time_point> since;
};

// Reads a container's log; provided by the node agent. `sink` returns false once the client is
// gone; `cancelled` turns true when the server stops. kNotFound when the container has no log
// yet (it is still waiting to start).
using PodLogSource = std::function<Status(
    const Json& pod, const PodLogRequest& request, const std::function<bool()>& cancelled,
    const std::function<bool(const std::string& chunk)>& sink)>;

// A handler for paths outside the Kubernetes API (e.g. /metrics, the KFP REST facade). Returns
// std::nullopt when it does not serve the path.
using ExtraRoute = std::function<std::optional<http::Reply>(http::Request&, const UserInfo&)>;

class ApiHandler {
 public:
  ApiHandler(ObjectApi* api, Authenticator* authn, Authorizer* authz, HandlerOptions options);
  ~ApiHandler();

  http::Reply Handle(http::Request& request);
  // Routes may be added while the server already serves (subsystems start after it).
  void AddRoute(ExtraRoute route) {
    std::lock_guard<std::mutex> lock(routes_mu_);
    routes_ = std::make_shared<std::vector<ExtraRoute>>(*routes_);
    routes_->push_back(std::move(route));
  }
  // Serves pods/log from `source`; without one, pods/log answers 503. Set before serving.
  void SetPodLogSource(PodLogSource source) { pod_logs_ = std::move(source); }
  // Cancels followed log streams and waits for their threads: after it returns the log source
  // is no longer called. Final.
  void StopLogStreams();

 private:
  struct Target;
  http::Reply HandleResource(http::Request& request, const UserInfo& user, const Target& target);
  http::Reply HandleWatch(http::Request& request, const RequestContext& ctx, const Target& target);
  http::Reply HandleList(http::Request& request, const RequestContext& ctx, const Target& target);
  http::Reply ErrorReply(const Status& status);
  http::Reply HandlePodLog(http::Request& request, const RequestContext& ctx, const Target& target);

  ObjectApi* api_;
  Authenticator* authn_;
  Authorizer* authz_;
  HandlerOptions options_;
  std::mutex routes_mu_;
  // Copied on write: a request holds the list it started with.
  std::shared_ptr<std::vector<ExtraRoute>> routes_ = std::make_shared<std::vector<ExtraRoute>>();
  TimerQueue timers_;
  PodLogSource pod_logs_;
  // Followed log streams run on their own threads; the destructor stops and joins them.
  struct LogStreams;
  std::shared_ptr<LogStreams> log_streams_;
};

}  // namespace skiff::apiserver

// The inference gateway: an HTTP/1.1 reverse proxy in front of every InferenceService, on one
// port (default 127.0.0.1:8081). It routes by Host header ({isvc}.{ns}.{domain}) or path prefix
// (/serving/{ns}/{isvc}/...), splits traffic between revisions by percent, sends to the
// transformer when there is one and `:explain` to the explainer, counts in-flight requests per
// revision for the autoscaler, and acts as Knative's activator: a request for a revision with no
// ready Pod is held, the autoscaler is told to scale from zero, and the request goes on once a Pod
// is ready (503 after the component's timeout). Each response carries `X-Skiff-Revision`.
//
// Built on epoll: `threads` event loops share the port (SO_REUSEPORT); a connection stays on its
// loop; each loop keeps its own keep-alive pool of upstream connections per Pod address; no
// thread per request, no locks on the hot path except the revision counters.
//
// Thread-safety: Start/Stop from one thread; port() from any.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "controllers/manager.h"
#include "inference/autoscaler.h"
#include "inference/routing_table.h"

namespace skiff::inference {

struct GatewayOptions {
  std::string address = "127.0.0.1";
  int port = 8081;  // 0: any free port
  // When the configured port is taken, take any free one instead of failing (skiff up's default
  // port only; an explicit --gateway-port must be free).
  bool fallback_to_free_port = false;
  int threads = 2;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 64 * 1024 * 1024;
};

class Gateway : public controllers::Runnable {
 public:
  // `table` must outlive the gateway; `autoscaler` may be null (no activation, no counting).
  Gateway(RoutingTable* table, Autoscaler* autoscaler, GatewayOptions options);
  ~Gateway() override;

  // Binds the port (so the caller can print it) and starts the loops.
  Status Listen();
  // Runnable: Start calls Listen if it was not called; errors are logged.
  void Start() override;
  void Stop() override;
  uint16_t port() const;
  std::string url() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::inference

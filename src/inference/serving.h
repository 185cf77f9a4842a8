// The serving control plane and gateway as one unit for `skiff up` and tests: the routing table,
// the autoscaler, the gateway (listening before Start returns, so its address can be printed),
// the built-in ClusterServingRuntimes and the InferenceService controller on a Manager.
//
// Lifetime: stop the Serving (gateway, then autoscaler) before stopping the Manager; destroy it
// after the Manager has stopped.
#pragma once

#include <memory>
#include <string>

#include "client/client.h"
#include "controllers/manager.h"
#include "inference/autoscaler.h"
#include "inference/gateway.h"
#include "inference/isvc_controller.h"
#include "inference/routing_table.h"

namespace skiff::inference {

struct ServingOptions {
  std::string data_dir;  // $SKIFF_HOME
  std::string domain = "example.com";
  GatewayOptions gateway;
  AutoscalerOptions autoscaler;
  bool builtin_runtimes = true;
};

class Serving {
 public:
  static StatusOr<std::unique_ptr<Serving>> Start(controllers::Manager& mgr, client::Client* client,
                                                  ServingOptions options);
  ~Serving();

  void Stop();
  const std::string& gateway_url() const { return gateway_url_; }
  uint16_t gateway_port() const { return gateway_->port(); }
  RoutingTable* table() { return table_.get(); }
  Autoscaler* autoscaler() { return autoscaler_.get(); }

 private:
  Serving() = default;
  std::unique_ptr<RoutingTable> table_;
  std::unique_ptr<Autoscaler> autoscaler_;
  std::unique_ptr<Gateway> gateway_;
  std::string gateway_url_;
  bool stopped_ = false;
};

}  // namespace skiff::inference

// `skiff up`: runs the API server and every controller in this process until interrupted.
#pragma once

#include <string>

namespace skiff::cli {

struct UpOptions {
  std::string data_dir;
  std::string address = "127.0.0.1";
  int port = 6443;
  bool insecure_http = false;
  int threads = 4;
  std::string kubeconfig_out;  // also write the admin kubeconfig here
  std::string node_name;       // the node agent's Node (default: the host name)
  bool no_agent = false;       // serve the API only: run no Pods on this machine
  // The inference gateway (src/inference): routes http://{isvc}.{ns}.{domain} and
  // /serving/{ns}/{isvc}/... to model servers. Port 0: any free port. Unless the port was given
  // explicitly, a taken default port falls back to a free one.
  std::string gateway_address = "127.0.0.1";
  int gateway_port = 8081;
  bool gateway_port_explicit = false;
  int gateway_threads = 2;
  int64_t max_pods = 110;
  std::string ingress_domain = "example.com";
  // The autoscaler's windows (Knative's stable window, scale-to-zero grace), e.g. "60s", "500ms".
  std::string autoscaler_stable_window = "60s";
  std::string autoscaler_scale_to_zero_grace = "30s";
};

int RunUp(const UpOptions& options);

// $SKIFF_HOME, else ~/.skiff.
std::string DefaultDataDir();

}  // namespace skiff::cli

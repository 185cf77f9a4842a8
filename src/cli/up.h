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
};

int RunUp(const UpOptions& options);

// $SKIFF_HOME, else ~/.skiff.
std::string DefaultDataDir();

}  // namespace skiff::cli

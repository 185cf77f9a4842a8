// Reads kubeconfig files the way kubectl does ($KUBECONFIG, ~/.kube/config, --kubeconfig,
// --context), so skiff's CLI, plugin and remote controllers reach the same cluster kubectl does.
#pragma once

#include <string>

#include "common/status.h"

namespace skiff::client {

// Where and how to connect, resolved from a kubeconfig context.
struct ClusterConfig {
  std::string server;  // "https://127.0.0.1:6443"
  std::string ca_pem;  // certificate-authority(-data), PEM; empty = system roots
  bool insecure_skip_tls_verify = false;
  std::string token;            // user token (or token-file contents)
  std::string client_cert_pem;  // client-certificate(-data)
  std::string client_key_pem;   // client-key(-data)
  std::string namespace_;       // the context's namespace, "default" if unset
  std::string context_name;
};

// `path` empty: $KUBECONFIG (first existing file of the colon-separated list), else
// ~/.kube/config. `context` empty: current-context. Errors name the file and what is missing.
StatusOr<ClusterConfig> LoadKubeconfig(const std::string& path = "",
                                       const std::string& context = "");

}  // namespace skiff::client

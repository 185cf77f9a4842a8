// The Client over HTTP(S): speaks the Kubernetes REST API to a remote skiff or a real cluster.
#pragma once

#include <memory>

#include "client/client.h"
#include "client/kubeconfig.h"

namespace skiff::client {

// Thread-safe: each calling thread gets its own connection.
std::unique_ptr<Client> NewHttpClient(const ClusterConfig& config);

}  // namespace skiff::client

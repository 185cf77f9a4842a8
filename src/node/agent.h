// The node agent (skiff's kubelet): runs the Pods bound to this node as runtime containers and
// reports them through the API, registers the Node and renews its Lease. See README.md.
//
// Thread-safety: all public methods may be called from any thread. The agent registers event
// handlers on `mgr`'s shared informers: stop the Manager before destroying the agent (handlers
// that fire after destruction are ignored, but the Manager must not outlive `client`).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client/client.h"
#include "common/json.h"
#include "common/status.h"
#include "controllers/manager.h"
#include "runtime/logs.h"
#include "runtime/runtime.h"

namespace skiff::node {

struct AgentOptions {
  std::string node_name;  // default: the host name, lower-cased
  std::string data_dir;   // $SKIFF_HOME
  std::string bin_dir;    // where skiff's executables are (the image catalog's skiff/ml)
  // CrashLoopBackOff (and ImagePullBackOff): initial, doubling, capped; reset once a container ran
  // for `backoff_reset` without failing.
  std::chrono::milliseconds backoff_initial{10000}, backoff_max{300000};
  std::chrono::milliseconds backoff_reset{600000};
  // Cap on each Pod's grace period when skiff itself shuts down.
  std::chrono::milliseconds shutdown_grace{10000};
  // Lease renewal and the longest time between Node status writes.
  std::chrono::milliseconds lease_renew{10000};
  std::chrono::milliseconds node_status_period{60000};
  // Threads syncing Pods (each Pod is synced by one at a time) and running probes.
  int workers = 4;
  int probe_workers = 2;
  int64_t max_pods =
      110;  // Pods this node takes at once (its `pods` capacity), as the kubelet's --max-pods
  // Register the Node and renew its Lease (tests of Pods alone may turn it off).
  bool register_node = true;
  // In-cluster API credentials, as the kubelet mounts them: with `api_port` set, every Pod that
  // does not opt out (automountServiceAccountToken) gets a token for its ServiceAccount, the CA
  // and its namespace at /var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_*.
  // `service_account_token` is called from the agent's workers.
  std::function<std::string(const std::string& ns, const std::string& service_account)>
      service_account_token;
  std::string api_ca_pem;
  std::string api_host = "127.0.0.1";
  int api_port = 0;
};

class NodeAgent {
 public:
  // Registers informers/handlers on `mgr`, recovers containers of an earlier skiff process
  // (runtime->Recover), and starts the agent's threads. `client` and `runtime` must outlive the
  // agent. The Manager may be started before or after.
  static StatusOr<std::unique_ptr<NodeAgent>> Create(controllers::Manager& mgr,
                                                     client::Client* client,
                                                     runtime::Runtime* runtime,
                                                     AgentOptions options);
  // Stops the agent's threads; containers keep running (a later agent adopts them).
  ~NodeAgent();
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Graceful node shutdown: stops every container (SIGTERM, SIGKILL after min(pod grace,
  // shutdown_grace)), records Pods with restartPolicy Never as Failed (reason Terminated), as
  // upstream's graceful node shutdown does, and returns when done. Final: the agent does nothing
  // afterwards.
  void Shutdown();

  // The log of one container of `pod` (the pods/log endpoint validated the container name).
  // `previous`: the run before the current one. Follow ends when the container ends.
  Status StreamLogs(const Json& pod, const std::string& container, bool previous,
                    runtime::LogReadOptions options,
                    const std::function<bool(const std::string&)>& sink);

  const std::string& node_name() const;

  class Impl;

 private:
  explicit NodeAgent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::node

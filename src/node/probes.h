// Network probes and lifecycle hooks the agent runs against a container: httpGet (HTTP or HTTPS
// without verification, as the kubelet) and tcpSocket. Exec probes need the runtime and live in
// the agent. Each call blocks for at most its timeout.
//
// Thread-safety: functions are reentrant.
#pragma once

#include <chrono>
#include <string>

#include "common/json.h"

namespace skiff::node {

struct ProbeResult {
  bool success = false;
  std::string message;  // why it failed, as the kubelet says it ("Get \"http://..\": ...")
};

// `action` is the probe's httpGet or tcpSocket object; `container` resolves named ports;
// `pod_ip` is the default host.
ProbeResult HttpGetProbe(const Json& action, const Json& container, const std::string& pod_ip,
                         std::chrono::milliseconds timeout);
ProbeResult TcpSocketProbe(const Json& action, const Json& container, const std::string& pod_ip,
                           std::chrono::milliseconds timeout);

// A port given as a number, a numeric string or a container port name; 0 if unresolvable.
int ResolvePort(const Json& port, const Json& container);

}  // namespace skiff::node

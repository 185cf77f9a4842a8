// What the node agent says about this machine: the Node object (capacity, conditions, nodeInfo,
// addresses) and its Lease in kube-node-lease, as the kubelet posts them.
//
// Thread-safety: functions are reentrant.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"

namespace skiff::node {

struct MachineInfo {
  int cpus = 1;                   // online CPUs
  int64_t memory_bytes = 0;       // MemTotal
  std::vector<std::string> gpus;  // GPU UUIDs from nvidia-smi, index order
  std::string os_image;           // /etc/os-release PRETTY_NAME
  std::string kernel_version;     // uname -r
  std::string architecture;       // Go's GOARCH spelling: amd64, arm64, ...
  int64_t max_pods = 110;         // the Node's pods capacity (the kubelet's --max-pods)
};

// Probes the machine (runs `nvidia-smi --query-gpu=index,uuid --format=csv,noheader` when it is on
// PATH).
MachineInfo DetectMachine();

// The host name, lower-cased (the default node name).
std::string DefaultNodeName();

// The Node as the agent registers it: labels, capacity/allocatable, conditions (Ready with
// KubeletReady, pressures False), nodeInfo, addresses. `sandbox_mode` goes into
// containerRuntimeVersion (`skiff://<mode>`).
Json NodeObject(const std::string& name, const MachineInfo& machine,
                const std::string& sandbox_mode, std::chrono::system_clock::time_point now);

// Copies into `live` the labels and status of `desired`, keeping each condition's
// lastTransitionTime when its status did not change. Returns true when something other than
// heartbeat times changed.
bool MergeNodeStatus(const Json& desired, Json* live);

// The node's Lease object (coordination.k8s.io/v1 in kube-node-lease).
Json NodeLease(const std::string& node_name, std::chrono::system_clock::time_point now);

}  // namespace skiff::node

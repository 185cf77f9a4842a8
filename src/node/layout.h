// Where the node agent keeps each Pod's files under $SKIFF_HOME (the kubelet's /var/lib/kubelet
// and /var/log/pods, in one tree). Shared by the agent, the pods/log endpoint and the CLI.
//
//   <data>/pods/<ns>_<name>_<uid>/hosts                    the Pod's /etc/hosts
//   <data>/pods/<ns>_<name>_<uid>/volumes/<volume>/        emptyDir, configMap, secret contents
//   <data>/pods/<ns>_<name>_<uid>/serviceaccount/          token, ca.crt, namespace
//   <data>/pods/<ns>_<name>_<uid>/logs/<container>/<n>.log  CRI log of restart n (n = restartCount)
//   <data>/volumes/<ns>/<claim>/                          PersistentVolumeClaim data (outlives
//   Pods) <data>/containers/<container-id>/                     the runtime's state per container
#pragma once

#include <cstdint>
#include <string>

namespace skiff::node {

inline std::string PodDir(const std::string& data_dir, const std::string& ns,
                          const std::string& name, const std::string& uid) {
  return data_dir + "/pods/" + ns + "_" + name + "_" + uid;
}

inline std::string PodLogPath(const std::string& pod_dir, const std::string& container,
                              int64_t restart_count) {
  return pod_dir + "/logs/" + container + "/" + std::to_string(restart_count) + ".log";
}

inline std::string ClaimDir(const std::string& data_dir, const std::string& ns,
                            const std::string& claim) {
  return data_dir + "/volumes/" + ns + "/" + claim;
}

inline std::string ContainersRoot(const std::string& data_dir) { return data_dir + "/containers"; }

}  // namespace skiff::node

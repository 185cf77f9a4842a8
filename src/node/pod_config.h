// Pure translations from a Pod's spec to what the runtime needs: resource quantities, the QoS
// class, environment variables (env, envFrom, fieldRef, resourceFieldRef), volume contents
// (configMap, secret, downwardAPI, projected) and the Pod's hosts file. No threads, no runtime:
// the agent calls these and the unit tests exercise them directly.
//
// Thread-safety: functions are reentrant; ObjectSource implementations say their own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::node {

// Parses a Kubernetes quantity ("500m", "1.5", "128Mi", "1G", "2e3") into base units (cores,
// bytes). nullopt if malformed.
std::optional<double> ParseQuantity(const std::string& text);
// A quantity field that may be a JSON string or number.
std::optional<double> QuantityOf(const Json& value);

// "Guaranteed", "Burstable" or "BestEffort", upstream's rules over containers and initContainers.
std::string QosClass(const Json& pod);

// Where ConfigMaps and Secrets come from (the agent: informer caches, then the API on a miss).
class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // NotFound when the object does not exist.
  virtual StatusOr<Json> ConfigMap(const std::string& ns, const std::string& name) = 0;
  virtual StatusOr<Json> Secret(const std::string& ns, const std::string& name) = 0;
};

// A container's configuration error: the Waiting reason CreateContainerConfigError and upstream's
// message (`configmap "x" not found`, `couldn't find key k in ConfigMap ns/x`).
struct ConfigError {
  std::string message;
};

// What the environment builder needs besides the Pod: the Pod's IP and the node's allocatable
// resources (resourceFieldRef of an unlimited container reports them, as upstream).
struct EnvContext {
  std::string pod_ip;
  std::string host_ip = "127.0.0.1";
  double node_cpu = 1;
  double node_memory = 0;
};

// Resolves a downward-API fieldPath ("metadata.name", "metadata.labels['x']", "status.podIP",
// ...) against the Pod. Error for unsupported paths.
StatusOr<std::string> FieldRefValue(const Json& pod, const std::string& field_path,
                                    const EnvContext& ctx);
// Resolves a resourceFieldRef {containerName, resource, divisor} for `container`.
StatusOr<std::string> ResourceFieldRefValue(const Json& pod, const Json& container, const Json& ref,
                                            const EnvContext& ctx);

// The container's environment in order: `base` ("NAME=value", e.g. the image's env and skiff's
// conveniences), then envFrom, then env ($(VAR) references expanded from what precedes them).
// A later definition of a name replaces the earlier one in place.
StatusOr<std::vector<std::string>> BuildEnv(const Json& pod, const Json& container,
                                            const std::vector<std::string>& base,
                                            const EnvContext& ctx, ObjectSource* source,
                                            ConfigError* config_error);

// One file of a volume: a path relative to the volume's root, its content and mode.
struct VolumeFile {
  std::string path;
  std::string content;
  int mode = 0644;
};

// The files of a configMap, secret, downwardAPI or projected volume. A missing non-optional
// source sets `config_error` (and returns an empty list). Other volume types: empty list.
std::vector<VolumeFile> VolumeFiles(const Json& pod, const Json& volume, const EnvContext& ctx,
                                    ObjectSource* source, ConfigError* config_error);

// Writes `files` under `dir` (created), replacing what was there.
Status WriteVolumeFiles(const std::string& dir, const std::vector<VolumeFile>& files);

// Where in-cluster clients (kubectl, client-go, the Python client) look for their credentials.
inline constexpr const char* kServiceAccountMountPath =
    "/var/run/secrets/kubernetes.io/serviceaccount";

// The ServiceAccount a Pod runs as: spec.serviceAccountName, the deprecated spec.serviceAccount,
// else "default".
std::string ServiceAccountOf(const Json& pod);
// Whether the Pod gets API credentials: its spec.automountServiceAccountToken, else its
// ServiceAccount's (`account`, null when unknown), else true.
bool AutomountsServiceAccountToken(const Json& pod, const Json* account);
// The variables the kubelet sets for the API's Service (KUBERNETES_SERVICE_HOST, ..._PORT,
// KUBERNETES_PORT=tcp://host:port and the per-port forms), as "NAME=value".
std::vector<std::string> KubernetesServiceEnv(const std::string& host, int port);

// A line of the hosts file: an address and its names.
struct HostEntry {
  std::string ip;
  std::vector<std::string> names;
};

// The hosts entries a Pod contributes for others (and itself): name forms, and the
// <hostname>.<subdomain> forms when spec.subdomain is set.
HostEntry PodHostEntry(const Json& pod, const std::string& ip);
// The Pod's hosts file: localhost lines, its own entry first, then `others` (deduplicated).
std::string HostsFile(const Json& pod, const std::string& ip, const std::vector<HostEntry>& others);

// True when the Service's spec.selector is non-empty and every pair is among the Pod's labels.
bool SelectorMatches(const Json& service, const Json& pod);

}  // namespace skiff::node

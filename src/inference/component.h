// Turns one component of an InferenceService (predictor, transformer, explainer) into what runs
// it: the Pod template of its revision (runtime container merged with the model's fields, KServe's
// {{.Name}} placeholders filled, the model bound read-only at /mnt/models, a readiness probe) and
// the revision's hash, or a failure with KServe's reason when it cannot run here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/json.h"
#include "inference/autoscaler.h"
#include "inference/runtime_match.h"

namespace skiff::inference {

// Labels on every revision Pod and revision ConfigMap (KServe's and Knative's names).
inline constexpr char kIsvcLabel[] = "serving.kserve.io/inferenceservice";
inline constexpr char kComponentLabel[] = "component";
inline constexpr char kRevisionLabel[] = "serving.knative.dev/revision";
inline constexpr char kConfigurationLabel[] = "serving.knative.dev/configuration";
inline constexpr char kReplicaLabel[] = "serving.kserve.io/replica-index";

struct PlanContext {
  std::string data_dir;      // $SKIFF_HOME (storage resolution)
  std::string gateway_host;  // host:port of the gateway (transformers reach the predictor there)
  std::vector<RuntimeCandidate> namespaced;  // the namespace's ServingRuntimes
  std::vector<RuntimeCandidate> cluster;     // the ClusterServingRuntimes
  // Resolves Model Registry storageUris (models:/, model-registry://); null: they fail.
  client::Client* client = nullptr;
};

struct ComponentPlan {
  std::string component;
  bool ok = false;
  // When !ok: the component's condition reason and message, and modelStatus.lastFailureInfo's
  // reason (one of KServe's FailureReason values).
  std::string reason, message, failure_reason;
  std::string runtime;  // the chosen (Cluster)ServingRuntime ("" for custom containers)
  bool cluster_runtime = false;
  std::string protocol;
  Json pod_template;  // {metadata: {labels, annotations}, spec}
  std::string hash;   // identifies the revision: changes whenever what runs changes
  int port = 8080;
  ScaleSpec scale;
  std::optional<int> canary_percent;
  std::chrono::milliseconds timeout{300000};
  // For a Model Registry storageUri: the model, version and artifact URI it resolved to.
  std::string model, model_version, resolved_uri;
};

// The components present in `isvc`'s spec, predictor first.
std::vector<std::string> ComponentsOf(const Json& isvc);

// The revision name of a component at `hash`: {isvc}-{component}-{hash}.
std::string RevisionName(const std::string& isvc, const std::string& component,
                         const std::string& hash);

ComponentPlan PlanComponent(const Json& isvc, const std::string& component,
                            const PlanContext& context);

// Fills KServe's placeholders ({{.Name}}, {{.Namespace}}, {{.Labels.k}}, {{.Annotations.k}}) from
// `metadata`. Returns false on an unknown placeholder.
bool ReplacePlaceholders(std::string* text, const Json& metadata);

}  // namespace skiff::inference

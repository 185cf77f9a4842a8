// ServingRuntime selection for an InferenceService component, with KServe's rules: the model's
// format (and version) must be one the runtime lists, auto-selectable unless the runtime is named,
// the protocol must be supported, disabled and multi-model runtimes never qualify, namespace
// ServingRuntimes come before ClusterServingRuntimes, each group sorted by priority (higher first).
// Pure functions over JSON: the controller lists the runtimes, this decides.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"

namespace skiff::inference {

// The model a component asks for, after KServe's older spellings are mapped: `model:`, the
// seed's KFServing shorthand (`modelFormat`/`storageUri` on the component itself) and the
// framework fields (`pytorch: {storageUri}`, `tensorflow:`, `sklearn:` ...).
struct ModelSpec {
  std::string format;                           // modelFormat.name
  std::optional<std::string> version;           // modelFormat.version
  std::optional<std::string> runtime;           // an explicitly named (Cluster)ServingRuntime
  std::optional<std::string> protocol_version;  // v1, v2, grpc-v1, grpc-v2
  std::string storage_uri;
  std::string runtime_version;
  // The container fields given with the model (args, env, resources, ...), merged over the
  // runtime's container.
  Json container = Json::object();
  // Where it was found: "model", "modelFormat" (shorthand) or the framework key ("pytorch").
  std::string source;
};

// The model of `component` (spec.predictor, spec.transformer, ...), or nullopt when the component
// names no model (custom containers only).
std::optional<ModelSpec> ModelOf(const Json& component);

// The framework fields KServe accepts on a predictor, each meaning a modelFormat of that name.
const std::vector<std::string>& FrameworkFields();

struct RuntimeCandidate {
  std::string name;
  bool cluster = false;  // a ClusterServingRuntime
  Json spec;             // the runtime's spec
  std::string creation_timestamp;
};

struct RuntimeChoice {
  bool ok = false;
  std::string name;
  bool cluster = false;
  Json spec;
  // When !ok: KServe's failure reason (NoSupportingRuntime, RuntimeNotRecognized,
  // RuntimeDisabled) and a message saying what to do.
  std::string reason;
  std::string message;
  // The protocol the model is served with (the model's, else the runtime's preferred one).
  std::string protocol;
};

// KServe's protocol order (v1 < v2 < grpc-v1 < grpc-v2 < unknown).
int ProtocolPriority(const std::string& protocol);

// Every runtime that supports `model`, in KServe's order: namespace runtimes first, each group
// sorted by (lowest supported protocol, newest, name), then stably by the format's priority.
std::vector<RuntimeCandidate> SupportingRuntimes(const ModelSpec& model,
                                                 std::vector<RuntimeCandidate> namespaced,
                                                 std::vector<RuntimeCandidate> cluster);

// Picks the runtime for `model`: the named one (checked as KServe checks it) or the first
// supporting one. Failure messages list the formats the enabled runtimes offer.
RuntimeChoice SelectRuntime(const ModelSpec& model, const std::vector<RuntimeCandidate>& namespaced,
                            const std::vector<RuntimeCandidate>& cluster);

// "pytorch, xgboost": the auto-selectable formats of the enabled runtimes, sorted, unique.
std::string AvailableFormats(const std::vector<RuntimeCandidate>& namespaced,
                             const std::vector<RuntimeCandidate>& cluster);

}  // namespace skiff::inference

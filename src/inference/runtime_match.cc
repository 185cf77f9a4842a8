// KServe's runtime matching (GetSupportingRuntimes, RuntimeSupportsModel, the checks of a named
// runtime), over JSON.
#include "inference/runtime_match.h"

#include <algorithm>
#include <set>

namespace skiff::inference {

namespace {

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool True(const Json& obj, const char* key) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() && it->get<bool>();
}

const Json& Formats(const Json& spec) {
  static const Json kEmpty = Json::array();
  if (!spec.is_object()) return kEmpty;
  auto it = spec.find("supportedModelFormats");
  return it != spec.end() && it->is_array() ? *it : kEmpty;
}

// The model's protocol as KServe's GetProtocol reads it: v1 unless given.
std::string ModelProtocol(const ModelSpec& m) { return m.protocol_version.value_or("v1"); }

bool ProtocolSupported(const Json& spec, const std::string& protocol) {
  if (protocol.empty()) return true;
  const Json* list =
      spec.is_object() && spec.contains("protocolVersions") ? &spec["protocolVersions"] : nullptr;
  if (!list || !list->is_array() || list->empty()) return true;
  for (const Json& p : *list) {
    if (p.is_string() && p.get<std::string>() == protocol) return true;
  }
  return false;
}

// KServe's label sets: the model is "mt:name[:version]"; a runtime offers "mt:name" and
// "mt:name:version" for each format that is auto-selectable (every format when the runtime is
// named explicitly).
bool SupportsModel(const ModelSpec& m, const Json& spec) {
  const std::string want = "mt:" + m.format + (m.version ? ":" + *m.version : "");
  for (const Json& f : Formats(spec)) {
    if (!m.runtime && !True(f, "autoSelect")) continue;
    const std::string name = Str(f, "name");
    if ("mt:" + name == want) return true;
    if (f.contains("version") && f["version"].is_string() &&
        "mt:" + name + ":" + f["version"].get<std::string>() == want) {
      return true;
    }
  }
  return false;
}

std::optional<int64_t> PriorityOf(const Json& spec, const std::string& format) {
  for (const Json& f : Formats(spec)) {
    if (Str(f, "name") != format) continue;
    if (f.contains("priority") && f["priority"].is_number_integer()) {
      return f["priority"].get<int64_t>();
    }
    return std::nullopt;  // the first entry of that name decides, as upstream's GetPriority
  }
  return std::nullopt;
}

int LowestProtocol(const Json& spec) {
  const Json* list =
      spec.is_object() && spec.contains("protocolVersions") ? &spec["protocolVersions"] : nullptr;
  if (!list || !list->is_array() || list->empty()) return ProtocolPriority("");
  int best = ProtocolPriority("");
  for (const Json& p : *list) {
    if (p.is_string()) best = std::min(best, ProtocolPriority(p.get<std::string>()));
  }
  return best;
}

std::string ProtocolName(int priority) {
  switch (priority) {
    case 0:
      return "v1";
    case 1:
      return "v2";
    case 2:
      return "grpc-v1";
    case 3:
      return "grpc-v2";
  }
  return "v1";
}

// Upstream's list order: lowest protocol first, then newest, then by name.
void SortList(std::vector<RuntimeCandidate>& list) {
  std::sort(list.begin(), list.end(), [](const RuntimeCandidate& a, const RuntimeCandidate& b) {
    const int pa = LowestProtocol(a.spec), pb = LowestProtocol(b.spec);
    if (pa != pb) return pa < pb;
    if (a.creation_timestamp != b.creation_timestamp) {
      return a.creation_timestamp > b.creation_timestamp;  // RFC 3339 UTC sorts as text
    }
    return a.name < b.name;
  });
}

void SortByPriority(std::vector<RuntimeCandidate>& list, const std::string& format) {
  std::stable_sort(list.begin(), list.end(),
                   [&](const RuntimeCandidate& a, const RuntimeCandidate& b) {
                     auto pa = PriorityOf(a.spec, format), pb = PriorityOf(b.spec, format);
                     if (!pa || !pb) return pa.has_value() && !pb.has_value();
                     return *pa > *pb;
                   });
}

}  // namespace

const std::vector<std::string>& FrameworkFields() {
  static const std::vector<std::string> kFields = {"sklearn",  "xgboost", "tensorflow",  "pytorch",
                                                   "triton",   "onnx",    "huggingface", "pmml",
                                                   "lightgbm", "paddle"};
  return kFields;
}

std::optional<ModelSpec> ModelOf(const Json& component) {
  if (!component.is_object()) return std::nullopt;
  ModelSpec m;
  const Json* body = nullptr;
  if (component.contains("model") && component["model"].is_object()) {
    body = &component["model"];
    m.source = "model";
    const Json& mf = (*body).value("modelFormat", Json::object());
    m.format = Str(mf, "name");
    if (mf.is_object() && mf.contains("version") && mf["version"].is_string()) {
      m.version = mf["version"].get<std::string>();
    }
  } else if (component.contains("modelFormat") && component["modelFormat"].is_object()) {
    body = &component;  // the KFServing-era shorthand: the model's fields on the component
    m.source = "modelFormat";
    const Json& mf = component["modelFormat"];
    m.format = Str(mf, "name");
    if (mf.contains("version") && mf["version"].is_string()) {
      m.version = mf["version"].get<std::string>();
    }
  } else {
    for (const std::string& field : FrameworkFields()) {
      auto it = component.find(field);
      if (it == component.end() || !it->is_object()) continue;
      body = &*it;
      m.source = field;
      m.format = field;
      // Upstream's framework predictors speak v1, except Triton's (v2).
      if (field == "triton" && !it->contains("protocolVersion")) m.protocol_version = "v2";
      break;
    }
  }
  if (!body) return std::nullopt;
  m.storage_uri = Str(*body, "storageUri");
  m.runtime_version = Str(*body, "runtimeVersion");
  if (std::string r = Str(*body, "runtime"); !r.empty() && m.source == "model") m.runtime = r;
  if (std::string p = Str(*body, "protocolVersion"); !p.empty()) m.protocol_version = p;
  // Container fields given with the model (a model spec inlines a Container).
  static const std::set<std::string> kContainerFields = {
      "image",        "command",        "args",          "env",
      "envFrom",      "resources",      "ports",         "workingDir",
      "volumeMounts", "readinessProbe", "livenessProbe", "startupProbe"};
  for (const auto& [k, v] : body->items()) {
    if (kContainerFields.count(k)) m.container[k] = v;
  }
  // The shorthand puts `resources` on the component; it means the model container's.
  if (m.source == "modelFormat" && component.contains("resources")) {
    m.container["resources"] = component["resources"];
  }
  return m;
}

int ProtocolPriority(const std::string& protocol) {
  if (protocol == "v1") return 0;
  if (protocol == "v2") return 1;
  if (protocol == "grpc-v1") return 2;
  if (protocol == "grpc-v2") return 3;
  return 4;
}

std::vector<RuntimeCandidate> SupportingRuntimes(const ModelSpec& model,
                                                 std::vector<RuntimeCandidate> namespaced,
                                                 std::vector<RuntimeCandidate> cluster) {
  const std::string protocol = ModelProtocol(model);
  auto filter = [&](std::vector<RuntimeCandidate>& list) {
    SortList(list);
    std::vector<RuntimeCandidate> kept;
    for (auto& rt : list) {
      if (True(rt.spec, "disabled") || True(rt.spec, "multiModel")) continue;
      if (!SupportsModel(model, rt.spec) || !ProtocolSupported(rt.spec, protocol)) continue;
      kept.push_back(std::move(rt));
    }
    SortByPriority(kept, model.format);
    return kept;
  };
  std::vector<RuntimeCandidate> out = filter(namespaced);
  for (auto& rt : filter(cluster)) out.push_back(std::move(rt));
  return out;
}

std::string AvailableFormats(const std::vector<RuntimeCandidate>& namespaced,
                             const std::vector<RuntimeCandidate>& cluster) {
  std::set<std::string> names;
  for (const auto* list : {&namespaced, &cluster}) {
    for (const RuntimeCandidate& rt : *list) {
      if (True(rt.spec, "disabled") || True(rt.spec, "multiModel")) continue;
      for (const Json& f : Formats(rt.spec)) {
        if (!True(f, "autoSelect")) continue;
        std::string n = Str(f, "name");
        if (f.contains("version") && f["version"].is_string()) {
          n += " " + f["version"].get<std::string>();
        }
        names.insert(n);
      }
    }
  }
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

RuntimeChoice SelectRuntime(const ModelSpec& model, const std::vector<RuntimeCandidate>& namespaced,
                            const std::vector<RuntimeCandidate>& cluster) {
  RuntimeChoice c;
  const std::string what =
      "model format \"" + model.format + (model.version ? " " + *model.version : "") + "\"";
  const std::string available =
      " Formats available here: " + AvailableFormats(namespaced, cluster) +
      ". Deploy the model in one of them, add a ServingRuntime for this format, or run your own "
      "server with spec.predictor.containers.";
  if (model.format.empty()) {
    c.reason = "InvalidPredictorSpec";
    c.message = "the model has no modelFormat.name";
    return c;
  }
  auto finish = [&](const RuntimeCandidate& rt) {
    c.ok = true;
    c.name = rt.name;
    c.cluster = rt.cluster;
    c.spec = rt.spec;
    c.protocol = model.protocol_version.value_or(ProtocolName(LowestProtocol(rt.spec)));
    return c;
  };
  if (model.runtime) {
    // A named runtime: the namespace's first, then the cluster's (upstream's GetServingRuntime).
    const RuntimeCandidate* found = nullptr;
    for (const auto* list : {&namespaced, &cluster}) {
      for (const RuntimeCandidate& rt : *list) {
        if (!found && rt.name == *model.runtime) found = &rt;
      }
    }
    if (!found) {
      c.reason = "RuntimeNotRecognized";
      c.message =
          "Waiting for runtime to become available: no ServingRuntime or "
          "ClusterServingRuntime named \"" +
          *model.runtime + "\"";
      return c;
    }
    if (True(found->spec, "disabled")) {
      c.reason = "RuntimeDisabled";
      c.message = "Specified runtime is disabled: " + *model.runtime;
      return c;
    }
    if (model.protocol_version && !ProtocolSupported(found->spec, *model.protocol_version)) {
      c.reason = "NoSupportingRuntime";
      c.message = "Specified runtime does not support specified protocol version " +
                  *model.protocol_version + ": " + *model.runtime;
      return c;
    }
    if (!SupportsModel(model, found->spec)) {
      c.reason = "NoSupportingRuntime";
      c.message =
          "Specified runtime does not support specified framework/version: " + *model.runtime +
          " does not list " + what + ".";
      return c;
    }
    return finish(*found);
  }
  auto supporting = SupportingRuntimes(model, namespaced, cluster);
  if (supporting.empty()) {
    c.reason = "NoSupportingRuntime";
    c.message =
        "No runtime found to support specified framework/version: no ServingRuntime "
        "supports " +
        what + " with protocol " + ModelProtocol(model) + "." + available;
    return c;
  }
  return finish(supporting.front());
}

}  // namespace skiff::inference

// Component → revision Pod template, as KServe's predictor/transformer reconcilers build their
// Knative Service templates, with skiff's local storage in place of the storage initializer.
#include "inference/component.h"

#include <filesystem>
#include <set>

#include "common/pki.h"
#include "inference/builtin_runtimes.h"
#include "inference/storage.h"

namespace skiff::inference {

namespace {

const std::set<std::string>& PodSpecFields() {
  static const std::set<std::string> kFields = {"containers",
                                                "initContainers",
                                                "volumes",
                                                "restartPolicy",
                                                "terminationGracePeriodSeconds",
                                                "dnsPolicy",
                                                "dnsConfig",
                                                "nodeSelector",
                                                "serviceAccountName",
                                                "serviceAccount",
                                                "automountServiceAccountToken",
                                                "nodeName",
                                                "hostNetwork",
                                                "hostPID",
                                                "hostIPC",
                                                "shareProcessNamespace",
                                                "securityContext",
                                                "imagePullSecrets",
                                                "hostname",
                                                "subdomain",
                                                "affinity",
                                                "schedulerName",
                                                "tolerations",
                                                "hostAliases",
                                                "priorityClassName",
                                                "priority",
                                                "preemptionPolicy",
                                                "runtimeClassName",
                                                "enableServiceLinks",
                                                "overhead",
                                                "topologySpreadConstraints",
                                                "os",
                                                "ephemeralContainers",
                                                "activeDeadlineSeconds"};
  return kFields;
}

// Fields of a ServingRuntime spec that are not Pod fields.
const std::set<std::string>& RuntimeOnlyFields() {
  static const std::set<std::string> kFields = {"supportedModelFormats",
                                                "protocolVersions",
                                                "disabled",
                                                "multiModel",
                                                "grpcEndpoint",
                                                "grpcDataEndpoint",
                                                "httpDataEndpoint",
                                                "replicas",
                                                "storageHelper",
                                                "builtInAdapter",
                                                "workerSpec",
                                                "annotations",
                                                "labels",
                                                "containers"};
  return kFields;
}

int IntField(const Json& obj, const char* key, int fallback) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number()) return fallback;
  return it->get<int>();
}

Json ObjectOr(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : Json::object();
}

Json ArrayOr(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_array() ? *it : Json::array();
}

// KServe's MergeRuntimeContainers: the InferenceService's fields win; args are appended; env is
// merged by name.
Json MergeContainer(Json base, const Json& over) {
  for (const auto& [k, v] : over.items()) {
    if (k == "args") {
      Json args = ArrayOr(base, "args");
      for (const Json& a : v) args.push_back(a);
      base["args"] = args;
    } else if (k == "env") {
      Json env = ArrayOr(base, "env");
      for (const Json& e : v) {
        bool replaced = false;
        for (Json& existing : env) {
          if (existing.value("name", "") == e.value("name", "")) {
            existing = e;
            replaced = true;
          }
        }
        if (!replaced) env.push_back(e);
      }
      base["env"] = env;
    } else if (k == "resources" && v.is_object()) {
      Json r = ObjectOr(base, "resources");
      for (const char* part : {"requests", "limits"}) {
        if (!v.contains(part) || !v[part].is_object()) continue;
        Json merged = ObjectOr(r, part);
        for (const auto& [rk, rv] : v[part].items()) merged[rk] = rv;
        r[part] = merged;
      }
      base["resources"] = r;
    } else if (k == "volumeMounts") {
      Json mounts = ArrayOr(base, "volumeMounts");
      for (const Json& m : v) mounts.push_back(m);
      base["volumeMounts"] = mounts;
    } else {
      base[k] = v;
    }
  }
  return base;
}

bool ReplaceInContainer(Json* c, const Json& meta) {
  bool ok = true;
  for (const char* list : {"args", "command"}) {
    if (!c->contains(list) || !(*c)[list].is_array()) continue;
    for (Json& a : (*c)[list]) {
      if (!a.is_string()) continue;
      std::string s = a.get<std::string>();
      ok = ReplacePlaceholders(&s, meta) && ok;
      a = s;
    }
  }
  if (c->contains("env") && (*c)["env"].is_array()) {
    for (Json& e : (*c)["env"]) {
      if (!e.contains("value") || !e["value"].is_string()) continue;
      std::string s = e["value"].get<std::string>();
      ok = ReplacePlaceholders(&s, meta) && ok;
      e["value"] = s;
    }
  }
  return ok;
}

bool HasArg(const Json& c, const std::string& flag) {
  for (const Json& a : ArrayOr(c, "args")) {
    if (!a.is_string()) continue;
    std::string s = a.get<std::string>();
    if (s == flag || s.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

bool IsSkiffModelServer(const Json& c) {
  return c.value("image", "").rfind(kModelServerImage, 0) == 0;
}

int ContainerPort(const Json& c) {
  for (const Json& p : ArrayOr(c, "ports")) {
    if (p.contains("containerPort") && p["containerPort"].is_number_integer()) {
      return p["containerPort"].get<int>();
    }
  }
  return 8080;
}

// A readiness probe so the node agent reports the Pod Ready once it serves: the model server's
// V2 health (ready once the model loaded), else a TCP connect (Knative's default).
void EnsureProbe(Json* c, int port) {
  if (c->contains("readinessProbe") && (*c)["readinessProbe"].is_object()) {
    Json& p = (*c)["readinessProbe"];
    for (const char* kind : {"httpGet", "tcpSocket"}) {
      if (p.contains(kind) && p[kind].is_object() && !p[kind].contains("port")) {
        p[kind]["port"] = port;
      }
    }
    return;
  }
  Json probe = {{"periodSeconds", 1},
                {"timeoutSeconds", 1},
                {"successThreshold", 1},
                {"failureThreshold", 3}};
  if (IsSkiffModelServer(*c)) {
    probe["httpGet"] = {{"path", "/v2/health/ready"}, {"port", port}};
  } else {
    probe["tcpSocket"] = {{"port", port}};
  }
  (*c)["readinessProbe"] = probe;
}

std::string FailureReasonFor(const std::string& storage_reason) {
  return storage_reason == "StorageUriNotFound" ? "ModelLoadFailed" : "InvalidPredictorSpec";
}

}  // namespace

std::vector<std::string> ComponentsOf(const Json& isvc) {
  std::vector<std::string> out;
  const Json* spec = FindPath(isvc, "spec");
  if (!spec || !spec->is_object()) return out;
  for (const char* c : {"predictor", "transformer", "explainer"}) {
    if (spec->contains(c) && (*spec)[c].is_object()) out.push_back(c);
  }
  return out;
}

std::string RevisionName(const std::string& isvc, const std::string& component,
                         const std::string& hash) {
  return isvc + "-" + component + "-" + hash;
}

bool ReplacePlaceholders(std::string* text, const Json& metadata) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text->find("{{", pos);
    if (open == std::string::npos) break;
    const size_t close = text->find("}}", open);
    if (close == std::string::npos) break;
    out.append(*text, pos, open - pos);
    std::string key = text->substr(open + 2, close - open - 2);
    while (!key.empty() && key.front() == ' ') key.erase(0, 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    std::string value;
    bool known = true;
    if (key == ".Name") {
      value = metadata.value("name", "");
    } else if (key == ".Namespace") {
      value = metadata.value("namespace", "");
    } else if (key.rfind(".Labels.", 0) == 0) {
      value = ObjectOr(metadata, "labels").value(key.substr(8), "");
    } else if (key.rfind(".Annotations.", 0) == 0) {
      value = ObjectOr(metadata, "annotations").value(key.substr(13), "");
    } else {
      known = false;
    }
    if (!known) return false;
    out += value;
    pos = close + 2;
  }
  out.append(*text, pos, std::string::npos);
  *text = out;
  return true;
}

ComponentPlan PlanComponent(const Json& isvc, const std::string& component,
                            const PlanContext& ctx) {
  ComponentPlan plan;
  plan.component = component;
  const Json& meta = isvc.value("metadata", Json::object());
  const std::string name = meta.value("name", "");
  const std::string ns = meta.value("namespace", "");
  const Json* cp = FindPath(isvc, "spec." + component);
  const Json c = cp && cp->is_object() ? *cp : Json::object();
  auto fail = [&](std::string reason, std::string failure, std::string message) {
    plan.ok = false;
    plan.reason = std::move(reason);
    plan.failure_reason = std::move(failure);
    plan.message = std::move(message);
    return plan;
  };

  // Scaling, traffic and timeout apply to the live revisions: they are not part of the hash.
  plan.scale.min_replicas = std::max(0, IntField(c, "minReplicas", 1));
  plan.scale.max_replicas = std::max(0, IntField(c, "maxReplicas", 0));
  if (plan.scale.max_replicas > 0 && plan.scale.max_replicas < plan.scale.min_replicas) {
    plan.scale.max_replicas = plan.scale.min_replicas;
  }
  plan.scale.metric = c.value("scaleMetric", "concurrency");
  if (plan.scale.metric != "rps") plan.scale.metric = "concurrency";
  if (c.contains("scaleTarget") && c["scaleTarget"].is_number()) {
    plan.scale.target = c["scaleTarget"].get<double>();
  }
  plan.scale.container_concurrency = std::max(0, IntField(c, "containerConcurrency", 0));
  if (c.contains("canaryTrafficPercent") && c["canaryTrafficPercent"].is_number()) {
    plan.canary_percent = std::clamp(c["canaryTrafficPercent"].get<int>(), 0, 100);
  }
  if (c.contains("timeout") && c["timeout"].is_number() && c["timeout"].get<int64_t>() > 0) {
    plan.timeout = std::chrono::seconds(c["timeout"].get<int64_t>());
  }

  Json pod_spec = Json::object();
  for (const auto& [k, v] : c.items()) {
    if (PodSpecFields().count(k)) pod_spec[k] = v;
  }
  Json containers = Json::array();
  Json hash_input = {{"component", component}, {"spec", c}};
  for (const char* k : {"canaryTrafficPercent", "minReplicas", "maxReplicas", "scaleTarget",
                        "scaleMetric", "containerConcurrency", "timeout"}) {
    hash_input["spec"].erase(k);
  }
  Json labels = ObjectOr(meta, "labels");
  Json annotations = ObjectOr(c, "annotations");

  // A transformer or explainer without containers is skiff's own: the image transformer, or the
  // occlusion explainer. Their modelFormat/storageUri name upstream's pre-built images (a custom
  // preprocessor, an alibi or lime explainer), which do not exist here; skiff's answer the same
  // routes for any image or tabular model behind them.
  Json builtin_containers = Json::array();
  if (component != "predictor" && ArrayOr(c, "containers").empty()) {
    // They only forward to the predictor: none is started for a predictor that cannot run.
    const ComponentPlan predictor = PlanComponent(isvc, "predictor", ctx);
    if (!predictor.ok) {
      return fail("PredictorNotRunnable", "InvalidPredictorSpec",
                  "skiff's built-in " + component + " starts once the predictor can run (" +
                      predictor.reason + ")");
    }
    builtin_containers.push_back(
        {{"name", "kserve-container"},
         {"image", component == "transformer" ? kBuiltinTransformerImage : kBuiltinExplainerImage},
         {"args", Json::array({"--address=$(POD_IP)"})},
         {"env", Json::array({{{"name", "POD_IP"},
                               {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}})},
         {"resources",
          {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}},
           {"limits", {{"cpu", "1"}, {"memory", "512Mi"}}}}}});
    plan.runtime = "skiff-builtin-" + component;
  }
  const std::optional<ModelSpec> model =
      builtin_containers.empty() ? ModelOf(c) : std::optional<ModelSpec>();
  int main_index = 0;
  if (model) {
    RuntimeChoice rt = SelectRuntime(*model, ctx.namespaced, ctx.cluster);
    if (!rt.ok) return fail(rt.reason, rt.reason, rt.message);
    plan.runtime = rt.name;
    plan.cluster_runtime = rt.cluster;
    plan.protocol = rt.protocol;
    hash_input["runtime"] = {{"name", rt.name}, {"cluster", rt.cluster}, {"spec", rt.spec}};
    // A registry URI resolves to the version's artifact: moving an alias changes host_path, so
    // the hash, so a new revision rolls out (as canaryTrafficPercent says).
    StorageLocation loc = ResolveStorageUri(model->storage_uri, ns, ctx.data_dir, ctx.client);
    if (!loc.ok) return fail(loc.reason, FailureReasonFor(loc.reason), loc.message);
    hash_input["storage"] = loc.host_path;
    plan.model = loc.model;
    plan.model_version = loc.model_version;
    plan.resolved_uri = loc.resolved_uri;
    for (const auto& [k, v] : rt.spec.items()) {
      if (!RuntimeOnlyFields().count(k) && !pod_spec.contains(k)) pod_spec[k] = v;
    }
    const Json rt_labels = ObjectOr(rt.spec, "labels");
    for (const auto& [k, v] : rt_labels.items()) {
      if (!labels.contains(k)) labels[k] = v;
    }
    const Json rt_annotations = ObjectOr(rt.spec, "annotations");
    for (const auto& [k, v] : rt_annotations.items()) {
      if (!annotations.contains(k)) annotations[k] = v;
    }
    const Json rt_containers = ArrayOr(rt.spec, "containers");
    if (rt_containers.empty()) {
      return fail("InvalidPredictorSpec", "InvalidPredictorSpec",
                  "ServingRuntime " + rt.name + " has no containers");
    }
    // The model server container: kserve-container, else the runtime's first.
    size_t server = 0;
    for (size_t i = 0; i < rt_containers.size(); ++i) {
      if (rt_containers[i].value("name", "") == "kserve-container") server = i;
    }
    Json main = MergeContainer(rt_containers[server], model->container);
    // A `kserve-container` among the component's containers is merged too.
    for (const Json& extra : ArrayOr(c, "containers")) {
      if (extra.value("name", "") == main.value("name", "")) main = MergeContainer(main, extra);
    }
    if (!ReplaceInContainer(&main, meta)) {
      return fail("InvalidPredictorSpec", "InvalidPredictorSpec",
                  "container " + main.value("name", "") + " of runtime " + rt.name +
                      " uses a placeholder skiff cannot fill (known: {{.Name}}, {{.Namespace}}, "
                      "{{.Labels.KEY}}, {{.Annotations.KEY}})");
    }
    if (IsSkiffModelServer(main) && c.contains("batcher") && c["batcher"].is_object()) {
      const Json& b = c["batcher"];
      Json args = ArrayOr(main, "args");
      if (b.contains("maxBatchSize") && b["maxBatchSize"].is_number_integer()) {
        args.push_back("--max-batch-size=" + std::to_string(b["maxBatchSize"].get<int64_t>()));
      }
      if (b.contains("maxLatency") && b["maxLatency"].is_number_integer()) {
        // KServe's maxLatency is in milliseconds.
        args.push_back("--max-latency-us=" + std::to_string(b["maxLatency"].get<int64_t>() * 1000));
      }
      main["args"] = args;
    }
    // The model, read-only where KServe's storage initializer would have put it.
    const std::string mount = loc.is_file
                                  ? std::string(kModelMountPath) + "/" +
                                        std::filesystem::path(loc.host_path).filename().string()
                                  : std::string(kModelMountPath);
    Json mounts = ArrayOr(main, "volumeMounts");
    mounts.push_back(
        {{"name", "kserve-provision-location"}, {"mountPath", mount}, {"readOnly", true}});
    main["volumeMounts"] = mounts;
    Json volumes = ArrayOr(pod_spec, "volumes");
    volumes.push_back(
        {{"name", "kserve-provision-location"},
         {"hostPath", {{"path", loc.host_path}, {"type", loc.is_file ? "File" : "Directory"}}}});
    pod_spec["volumes"] = volumes;
    containers.push_back(main);
    for (size_t i = 0; i < rt_containers.size(); ++i) {
      if (i != server) containers.push_back(rt_containers[i]);
    }
    for (const Json& extra : ArrayOr(c, "containers")) {
      if (extra.value("name", "") != main.value("name", "")) containers.push_back(extra);
    }
  } else {
    containers = builtin_containers.empty() ? ArrayOr(c, "containers") : builtin_containers;
    if (containers.empty()) {
      return fail("InvalidPredictorSpec", "InvalidPredictorSpec",
                  "spec." + component +
                      " names no model (model.modelFormat, or a framework such as pytorch:) and "
                      "no containers");
    }
    for (size_t i = 0; i < containers.size(); ++i) {
      if (containers[i].value("name", "") == "kserve-container") main_index = static_cast<int>(i);
    }
    for (Json& ctr : containers) {
      if (!ReplaceInContainer(&ctr, meta)) {
        return fail("InvalidPredictorSpec", "InvalidPredictorSpec",
                    "container " + ctr.value("name", "") + " uses a placeholder skiff cannot fill");
      }
    }
  }
  Json& main = containers[main_index];
  plan.port = ContainerPort(main);
  if (!main.contains("ports")) {
    main["ports"] = Json::array({{{"containerPort", plan.port}, {"protocol", "TCP"}}});
  }
  hash_input["containers"] = containers;
  // Transformers and explainers reach the predictor through the gateway (KServe's args).
  if (component != "predictor") {
    const std::string predictor_host =
        ctx.gateway_host + "/serving/" + ns + "/" + name + "-predictor";
    Json args = ArrayOr(main, "args");
    if (!HasArg(main, "--model_name")) args.push_back("--model_name=" + name);
    if (!HasArg(main, "--predictor_host")) args.push_back("--predictor_host=" + predictor_host);
    if (!HasArg(main, "--http_port")) args.push_back("--http_port=" + std::to_string(plan.port));
    if (!model) main["args"] = args;
    Json env = ArrayOr(main, "env");
    env.push_back({{"name", "PREDICTOR_HOST"}, {"value", predictor_host}});
    main["env"] = env;
  }
  EnsureProbe(&main, plan.port);
  pod_spec["containers"] = containers;
  pod_spec["restartPolicy"] = "Always";

  const Json component_labels = ObjectOr(c, "labels");
  for (const auto& [k, v] : component_labels.items()) labels[k] = v;
  plan.hash = pki::Sha256Hex(hash_input.dump()).substr(0, 8);
  const std::string revision = RevisionName(name, component, plan.hash);
  labels[kIsvcLabel] = name;
  labels[kComponentLabel] = component;
  labels[kRevisionLabel] = revision;
  labels[kConfigurationLabel] = name + "-" + component;
  Json tmeta = {{"labels", labels}};
  if (!annotations.empty()) tmeta["annotations"] = annotations;
  plan.pod_template = {{"metadata", tmeta}, {"spec", pod_spec}};
  plan.ok = true;
  return plan;
}

}  // namespace skiff::inference

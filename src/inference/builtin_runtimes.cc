// The built-in ClusterServingRuntimes, created once at start through the API like a user's.
#include "inference/builtin_runtimes.h"

#include <string>

namespace skiff::inference {

namespace {

// One runtime of skiff's model server: the container is KServe's `kserve-container`, its args use
// KServe's {{.Name}} placeholder (the InferenceService's name is the model's name) and bind the
// Pod's own address (Pods share the host network, each on its own loopback address).
Json ModelServerRuntime(const std::string& name, const std::string& format,
                        const std::string& description) {
  Json formats = Json::array();
  for (const char* version : {"1", "2"}) {
    formats.push_back(
        {{"name", format}, {"version", version}, {"autoSelect", true}, {"priority", 1}});
  }
  Json container = {
      {"name", "kserve-container"},
      {"image", kModelServerImage},
      {"args",
       Json::array({"--model-name={{.Name}}", "--model-dir=/mnt/models", "--address=$(POD_IP)",
                    "--http-port=" + std::to_string(kModelServerPort)})},
      {"env", Json::array({{{"name", "POD_IP"},
                            {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}})},
      {"ports", Json::array({{{"containerPort", kModelServerPort}, {"protocol", "TCP"}}})},
      {"resources",
       {{"requests", {{"cpu", "100m"}, {"memory", "256Mi"}}},
        {"limits", {{"cpu", "1"}, {"memory", "2Gi"}}}}}};
  return {{"apiVersion", "serving.kserve.io/v1alpha1"},
          {"kind", "ClusterServingRuntime"},
          {"metadata",
           {{"name", name},
            {"labels", {{"app.kubernetes.io/managed-by", "skiff"}}},
            {"annotations", {{"skiff.io/description", description}}}}},
          {"spec",
           {{"annotations",
             {{"prometheus.kserve.io/port", std::to_string(kModelServerPort)},
              {"prometheus.kserve.io/path", "/metrics"}}},
            {"supportedModelFormats", formats},
            {"protocolVersions", Json::array({"v1", "v2"})},
            {"containers", Json::array({container})}}}};
}

}  // namespace

Json TorchScriptRuntime() {
  return ModelServerRuntime(kTorchScriptRuntime, "pytorch",
                            "TorchScript models (model.pt) on skiff's model server (libtorch)");
}

Json XgboostRuntime() {
  return ModelServerRuntime(kXgboostRuntime, "xgboost",
                            "XGBoost models (model.json) on skiff's model server");
}

Status EnsureBuiltinServingRuntimes(client::Client* client) {
  for (const Json& runtime : {TorchScriptRuntime(), XgboostRuntime()}) {
    auto created = client->Create(kClusterServingRuntimes, "", runtime);
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      return Status(created.status().code(), "creating ClusterServingRuntime " +
                                                 runtime["metadata"]["name"].get<std::string>() +
                                                 ": " + created.status().message());
    }
  }
  return Status::Ok();
}

}  // namespace skiff::inference

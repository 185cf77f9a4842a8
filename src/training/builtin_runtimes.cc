// The built-in ClusterTrainingRuntimes, created once at start through the API like a user's.
#include "training/builtin_runtimes.h"

namespace skiff::training {

Json TorchDistributedRuntime() {
  // Upstream's torch-distributed, with skiff's image: the trainer container is named `node` and
  // lives in the replicated job `node`, labelled as the trainer step.
  Json container = {{"name", "node"}, {"image", "skiff/ml"}, {"args", Json::array({"train"})}};
  Json node_job = {
      {"name", "node"},
      {"template",
       {{"metadata", {{"labels", {{"trainer.kubeflow.org/trainjob-ancestor-step", "trainer"}}}}},
        {"spec", {{"template", {{"spec", {{"containers", Json::array({container})}}}}}}}}}};
  return {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
          {"kind", "ClusterTrainingRuntime"},
          {"metadata",
           {{"name", kTorchDistributedRuntime},
            {"labels",
             {{"trainer.kubeflow.org/framework", "torch"},
              {"app.kubernetes.io/managed-by", "skiff"}}}}},
          {"spec",
           {{"mlPolicy", {{"numNodes", 1}, {"torch", Json::object()}}},
            {"template", {{"spec", {{"replicatedJobs", Json::array({node_job})}}}}}}}};
}

Status EnsureBuiltinRuntimes(client::Client* client) {
  for (const Json& runtime : {TorchDistributedRuntime()}) {
    auto created = client->Create(kClusterTrainingRuntimes, "", runtime);
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      return Status(created.status().code(), "creating ClusterTrainingRuntime " +
                                                 runtime["metadata"]["name"].get<std::string>() +
                                                 ": " + created.status().message());
    }
  }
  return Status::Ok();
}

}  // namespace skiff::training

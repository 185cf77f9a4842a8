// The ClusterServingRuntimes skiff ships, both running skiff's model server (image
// skiff/model-server) over protocols v1 and v2: `skiff-torchscript` (format pytorch: TorchScript
// models written by skiff-ml or torch.jit.save) and `skiff-xgboost` (format xgboost).
#pragma once

#include "client/client.h"
#include "common/json.h"

namespace skiff::inference {

inline const client::Resource kServingRuntimes{"serving.kserve.io", "v1alpha1", "servingruntimes"};
inline const client::Resource kClusterServingRuntimes{"serving.kserve.io", "v1alpha1",
                                                      "clusterservingruntimes"};
inline constexpr char kTorchScriptRuntime[] = "skiff-torchscript";
inline constexpr char kXgboostRuntime[] = "skiff-xgboost";
inline constexpr char kModelServerImage[] = "skiff/model-server";
// What a transformer or explainer without containers runs (skiff-model-sidecar's two modes).
inline constexpr char kBuiltinTransformerImage[] = "skiff/image-transformer";
inline constexpr char kBuiltinExplainerImage[] = "skiff/explainer";
inline constexpr int kModelServerPort = 8080;

Json TorchScriptRuntime();
Json XgboostRuntime();

// Creates each built-in runtime that does not exist; one that exists (perhaps edited by a user)
// is left as it is.
Status EnsureBuiltinServingRuntimes(client::Client* client);

}  // namespace skiff::inference

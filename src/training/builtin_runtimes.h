// The ClusterTrainingRuntimes skiff ships: `torch-distributed`, running skiff's own trainer
// (`skiff/ml`, whose entrypoint is `skiff-ml`) so a TrainJob works with no runtime installed.
#pragma once

#include "client/client.h"
#include "common/json.h"

namespace skiff::training {

inline const client::Resource kClusterTrainingRuntimes{"trainer.kubeflow.org", "v1alpha1",
                                                       "clustertrainingruntimes"};
inline const client::Resource kTrainingRuntimes{"trainer.kubeflow.org", "v1alpha1",
                                                "trainingruntimes"};
inline constexpr char kTorchDistributedRuntime[] = "torch-distributed";

// The built-in `torch-distributed` runtime: one node, torch policy, a `node` replicated job whose
// `node` container runs `skiff/ml` with `args: [train]` (a TrainJob's trainer.args replace them).
Json TorchDistributedRuntime();

// Creates each built-in runtime that does not exist; one that exists (perhaps edited by a user)
// is left as it is.
Status EnsureBuiltinRuntimes(client::Client* client);

}  // namespace skiff::training

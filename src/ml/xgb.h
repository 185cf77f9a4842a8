// `skiff-ml xgb-train` and `xgb-evaluate`: gradient-boosted trees (libxgboost's C API) on a
// tabular dataset artifact, e.g. the generated click-through data. Models are xgboost JSON.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "ml/dist_env.h"
#include "ml/flags.h"

namespace skiff::ml {

const std::vector<FlagSpec>& XgbTrainFlags();
// Single-node training. With WORLD_SIZE > 1, rank 0 trains on all data and the other ranks exit
// successfully after saying so: xgboost's collective is not wired up.
Status RunXgbTrain(const Flags& flags, const DistConfig& dist);

const std::vector<FlagSpec>& XgbEvaluateFlags();
Status RunXgbEvaluate(const Flags& flags);

}  // namespace skiff::ml

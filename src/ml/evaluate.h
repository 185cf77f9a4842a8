// `skiff-ml evaluate`: scores a TorchScript model from `train` on a dataset split and writes KFP
// ClassificationMetrics JSON plus metrics.json. Torch-free interface; evaluator.cc implements it.
#pragma once

#include <string>

#include "common/status.h"
#include "ml/flags.h"

namespace skiff::ml {

struct EvaluateOptions {
  std::string model_path;  // model.pt, or a directory holding it
  std::string data_dir;
  std::string split = "test";
  std::string metrics_file;         // {"accuracy", "perClass", ...}
  std::string classification_file;  // KFP ClassificationMetrics (confusion matrix)
  int threads = 1;
};

const std::vector<FlagSpec>& EvaluateFlags();
StatusOr<EvaluateOptions> EvaluateOptionsFromFlags(const Flags& flags);
Status Evaluate(const EvaluateOptions& options);

}  // namespace skiff::ml

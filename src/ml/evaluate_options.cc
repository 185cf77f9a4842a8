// Flag handling for `skiff-ml evaluate` (torch-free; see evaluate.h).
#include "ml/evaluate.h"
#include "ml/system.h"

namespace skiff::ml {

const std::vector<FlagSpec>& EvaluateFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"model", "", "model.pt from `train`, or its directory (required)"},
      {"data", "", "dataset directory from `prepare` (required)"},
      {"split", "test", "split to score: test, validation or train"},
      {"metrics-file", "", "write {accuracy, perClass precision/recall} JSON here"},
      {"classification-metrics-file", "",
       "write KFP ClassificationMetrics JSON (confusion matrix) here"},
      {"threads", "", "intra-op threads (default: CPUs available to this container)"},
  };
  return kFlags;
}

StatusOr<EvaluateOptions> EvaluateOptionsFromFlags(const Flags& flags) {
  EvaluateOptions o;
  o.model_path = flags.Str("model");
  if (o.model_path.empty()) return Status::BadRequest("--model is required");
  o.data_dir = flags.Str("data");
  if (o.data_dir.empty()) return Status::BadRequest("--data is required");
  o.split = flags.Str("split");
  if (o.split != "test" && o.split != "validation" && o.split != "train") {
    return Status::BadRequest("--split must be test, validation or train, got \"" + o.split + "\"");
  }
  o.metrics_file = flags.Str("metrics-file");
  o.classification_file = flags.Str("classification-metrics-file");
  if (flags.Has("threads")) {
    auto t = flags.Int("threads", 1, 1024);
    if (!t.ok()) return t.status();
    o.threads = *t;
  } else {
    o.threads = AvailableCpus();
  }
  return o;
}

}  // namespace skiff::ml

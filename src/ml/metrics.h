// Classification metrics shared by `evaluate` and `xgb-evaluate`: confusion matrix, per-class
// precision/recall, ROC AUC, and the KFP ClassificationMetrics JSON shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"

namespace skiff::ml {

struct Confusion {
  std::vector<std::string> labels;
  std::vector<std::vector<int64_t>> matrix;  // [actual][predicted]

  explicit Confusion(std::vector<std::string> l)
      : labels(std::move(l)), matrix(labels.size(), std::vector<int64_t>(labels.size())) {}
  void Add(int actual, int predicted) { matrix.at(actual).at(predicted)++; }
  int64_t Total() const;
  double Accuracy() const;
  double Precision(size_t c) const;  // 0 when nothing was predicted as c
  double Recall(size_t c) const;     // 0 when c never occurs

  // {"confusionMatrix": {"categories": [...], "rows": [{"row": [...]}, ...]}} as KFP's
  // ClassificationMetrics artifact stores it.
  Json ToKfp() const;
  // {"accuracy", "perClass": {label: {precision, recall, support}}}.
  Json Summary() const;
};

// Area under the ROC curve for binary labels (1 = positive); ties share rank. 0.5 when only one
// class is present.
double RocAuc(const std::vector<float>& scores, const std::vector<int32_t>& labels);

}  // namespace skiff::ml

// Classification metrics; see metrics.h.
#include "ml/metrics.h"

#include <algorithm>
#include <numeric>

namespace skiff::ml {

int64_t Confusion::Total() const {
  int64_t n = 0;
  for (const auto& row : matrix) n += std::accumulate(row.begin(), row.end(), int64_t{0});
  return n;
}

double Confusion::Accuracy() const {
  int64_t correct = 0;
  for (size_t i = 0; i < matrix.size(); ++i) correct += matrix[i][i];
  int64_t total = Total();
  return total ? static_cast<double>(correct) / total : 0;
}

double Confusion::Precision(size_t c) const {
  int64_t predicted = 0;
  for (const auto& row : matrix) predicted += row[c];
  return predicted ? static_cast<double>(matrix[c][c]) / predicted : 0;
}

double Confusion::Recall(size_t c) const {
  int64_t actual = std::accumulate(matrix[c].begin(), matrix[c].end(), int64_t{0});
  return actual ? static_cast<double>(matrix[c][c]) / actual : 0;
}

Json Confusion::ToKfp() const {
  Json rows = Json::array();
  for (const auto& row : matrix) rows.push_back({{"row", row}});
  return {{"confusionMatrix", {{"categories", labels}, {"rows", rows}}}};
}

Json Confusion::Summary() const {
  Json per_class = Json::object();
  for (size_t c = 0; c < labels.size(); ++c) {
    per_class[labels[c]] = {
        {"precision", Precision(c)},
        {"recall", Recall(c)},
        {"support", std::accumulate(matrix[c].begin(), matrix[c].end(), int64_t{0})}};
  }
  return {{"accuracy", Accuracy()}, {"count", Total()}, {"perClass", per_class}};
}

double RocAuc(const std::vector<float>& scores, const std::vector<int32_t>& labels) {
  size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: sum of positive ranks, ties given their average rank.
  double rank_sum = 0;
  int64_t positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    double avg_rank = (i + 1 + j) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] == 1) {
        rank_sum += avg_rank;
        ++positives;
      }
    }
    i = j;
  }
  int64_t negatives = static_cast<int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2.0) /
         (static_cast<double>(positives) * negatives);
}

}  // namespace skiff::ml

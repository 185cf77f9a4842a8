// Scores a TorchScript classifier on a dataset split; see evaluate.h.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <filesystem>
#include <iostream>

#include "common/file.h"
#include "ml/dataset.h"
#include "ml/evaluate.h"
#include "ml/metrics.h"
#include "ml/system.h"

namespace skiff::ml {

Status Evaluate(const EvaluateOptions& o) {
  namespace fs = std::filesystem;
  std::string model_path = o.model_path;
  if (fs::is_directory(model_path)) model_path = (fs::path(model_path) / "model.pt").string();
  if (!fs::is_regular_file(model_path)) return Status::NotFound("no model at " + model_path);
  auto meta = ReadMeta(o.data_dir);
  if (!meta.ok()) return meta.status();
  // Raw features: the exported model normalises its own input.
  auto split = LoadSplit(o.data_dir, *meta, o.split, false);
  if (!split.ok()) return split.status();

  SetBlasThreads(1);
  at::set_num_threads(o.threads);
  Confusion confusion(meta->labels);
  try {
    torch::jit::Module model = torch::jit::load(model_path);
    model.eval();
    torch::NoGradGuard no_grad;
    std::vector<int64_t> dims = {split->count};
    dims.insert(dims.end(), meta->shape.begin(), meta->shape.end());
    auto x = torch::from_blob(split->x.data(), dims, torch::kFloat32);
    for (int64_t i = 0; i < split->count; i += 1000) {
      int64_t n = std::min<int64_t>(1000, split->count - i);
      auto logits = model.forward({x.narrow(0, i, n)}).toTensor();
      if (logits.dim() != 2 || logits.size(1) != static_cast<int64_t>(meta->labels.size())) {
        return Status::BadRequest("model " + model_path + " outputs " +
                                  std::to_string(logits.size(-1)) + " classes, dataset has " +
                                  std::to_string(meta->labels.size()));
      }
      auto pred = logits.argmax(1);
      auto p = pred.accessor<int64_t, 1>();
      for (int64_t k = 0; k < n; ++k) confusion.Add(split->y[i + k], p[k]);
    }
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return Status::BadRequest("cannot score " + model_path + ": " + msg.substr(0, msg.find('\n')));
  }
  Json summary = confusion.Summary();
  summary["split"] = o.split;
  summary["model"] = model_path;
  std::printf("accuracy=%.6f\n", confusion.Accuracy());
  std::fflush(stdout);
  if (!o.metrics_file.empty()) {
    SKIFF_RETURN_IF_ERROR(WriteFileAtomic(o.metrics_file, summary.dump(2) + "\n", 0644));
  }
  if (!o.classification_file.empty()) {
    SKIFF_RETURN_IF_ERROR(
        WriteFileAtomic(o.classification_file, confusion.ToKfp().dump(2) + "\n", 0644));
  }
  return Status::Ok();
}

}  // namespace skiff::ml

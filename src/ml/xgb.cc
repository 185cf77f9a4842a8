// xgboost training and scoring through its C API; see xgb.h.
#include "ml/xgb.h"

#include <xgboost/c_api.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "ml/dataset.h"
#include "ml/metrics.h"
#include "ml/system.h"

namespace skiff::ml {
namespace {

Status XgbError(const std::string& what) {
  std::string msg = XGBGetLastError();
  return Status::Internal(what + ": " + msg.substr(0, msg.find('\n')));
}

#define XGB_CHECK(call, what) \
  if ((call) != 0) return XgbError(what)

struct MatrixDeleter {
  void operator()(void* h) const { XGDMatrixFree(h); }
};
struct BoosterDeleter {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using Matrix = std::unique_ptr<void, MatrixDeleter>;
using Booster = std::unique_ptr<void, BoosterDeleter>;

StatusOr<Matrix> ToMatrix(const Split& s) {
  DMatrixHandle h = nullptr;
  XGB_CHECK(XGDMatrixCreateFromMat(s.x.data(), s.count, s.features, NAN, &h), "DMatrix");
  Matrix m(h);
  std::vector<float> labels(s.y.begin(), s.y.end());
  XGB_CHECK(XGDMatrixSetFloatInfo(h, "label", labels.data(), labels.size()), "labels");
  return m;
}

// Predicted class per row and, for binary tasks, the positive-class probability.
StatusOr<std::vector<float>> Predict(BoosterHandle b, const Matrix& m) {
  bst_ulong len = 0;
  const float* out = nullptr;
  XGB_CHECK(XGBoosterPredict(b, m.get(), 0, 0, 0, &len, &out), "predict");
  return std::vector<float>(out, out + len);
}

// Fills `confusion` and returns AUC (binary) or -1 (multi-class).
double Score(const std::vector<float>& pred, const Split& s, size_t classes, Confusion* confusion) {
  std::vector<float> positive;
  for (int64_t i = 0; i < s.count; ++i) {
    int predicted = 0;
    if (classes == 2) {
      positive.push_back(pred[i]);
      predicted = pred[i] >= 0.5f ? 1 : 0;
    } else {
      const float* row = &pred[i * classes];
      predicted = static_cast<int>(std::max_element(row, row + classes) - row);
    }
    confusion->Add(s.y[i], predicted);
  }
  return classes == 2 ? RocAuc(positive, s.y) : -1;
}

Json Metrics(const Confusion& c, double auc, const std::string& split) {
  Json j = c.Summary();
  j["split"] = split;
  if (auc >= 0) j["auc"] = auc;
  return j;
}

Status WriteMetrics(const Flags& flags, const Confusion& c, double auc, const std::string& split) {
  std::printf("accuracy=%.6f", c.Accuracy());
  if (auc >= 0) std::printf(" auc=%.6f", auc);
  std::printf("\n");
  std::fflush(stdout);
  if (flags.Has("metrics-file")) {
    SKIFF_RETURN_IF_ERROR(
        WriteFileAtomic(flags.Str("metrics-file"), Metrics(c, auc, split).dump(2) + "\n", 0644));
  }
  if (flags.Has("classification-metrics-file")) {
    SKIFF_RETURN_IF_ERROR(
        WriteFileAtomic(flags.Str("classification-metrics-file"), c.ToKfp().dump(2) + "\n", 0644));
  }
  return Status::Ok();
}

StatusOr<int> Threads(const Flags& flags) {
  if (!flags.Has("threads")) return AvailableCpus();
  auto t = flags.Int("threads", 1, 1024);
  if (!t.ok()) return t.status();
  return static_cast<int>(*t);
}

}  // namespace

const std::vector<FlagSpec>& XgbTrainFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"data", "", "tabular dataset directory from `prepare` (required)"},
      {"out", "", "model file to write, xgboost JSON (required)"},
      {"rounds", "100", "boosting rounds"},
      {"max-depth", "6", "maximum tree depth"},
      {"eta", "0.1", "learning rate"},
      {"subsample", "1", "row subsampling per tree"},
      {"threads", "", "xgboost threads (default: CPUs available to this container)"},
      {"seed", "1", "random seed"},
      {"metrics-file", "", "validation metrics JSON (accuracy, auc, perClass)"},
  };
  return kFlags;
}

Status RunXgbTrain(const Flags& flags, const DistConfig& dist) {
  std::string data = flags.Str("data"), out = flags.Str("out");
  if (data.empty()) return Status::BadRequest("--data is required");
  if (out.empty()) return Status::BadRequest("--out is required");
  auto rounds = flags.Int("rounds", 1, 100000);
  if (!rounds.ok()) return rounds.status();
  auto depth = flags.Int("max-depth", 1, 64);
  if (!depth.ok()) return depth.status();
  auto eta = flags.Double("eta", 1e-6, 1);
  if (!eta.ok()) return eta.status();
  auto subsample = flags.Double("subsample", 1e-3, 1);
  if (!subsample.ok()) return subsample.status();
  auto seed = flags.Int("seed", 0, 1LL << 31);
  if (!seed.ok()) return seed.status();
  auto threads = Threads(flags);
  if (!threads.ok()) return threads.status();
  auto meta = ReadMeta(data);
  if (!meta.ok()) return meta.status();
  if (meta->kind != "tabular") return Status::BadRequest(data + " is not a tabular dataset");
  if (dist.world_size > 1) {
    if (dist.rank != 0) {
      SKIFF_LOG(Info) << "rank " << dist.rank << ": xgboost distributed training is not "
                      << "implemented; rank 0 trains on all data, this replica exits";
      return Status::Ok();
    }
    SKIFF_LOG(Info) << "WORLD_SIZE=" << dist.world_size
                    << ": xgboost collective not used; rank 0 trains on all data";
  }
  // Trees split on raw values; normalisation would not change them.
  auto train = LoadSplit(data, *meta, "train", false);
  if (!train.ok()) return train.status();
  auto dtrain = ToMatrix(*train);
  if (!dtrain.ok()) return dtrain.status();
  auto validation = LoadSplit(data, *meta, "validation", false);
  std::optional<Matrix> dval;
  if (validation.ok()) {
    auto m = ToMatrix(*validation);
    if (!m.ok()) return m.status();
    dval = std::move(*m);
  }

  size_t classes = meta->labels.size();
  BoosterHandle bh = nullptr;
  DMatrixHandle cache[] = {dtrain->get()};
  XGB_CHECK(XGBoosterCreate(cache, 1, &bh), "booster");
  Booster booster(bh);
  std::vector<std::pair<std::string, std::string>> params = {
      {"objective", classes == 2 ? "binary:logistic" : "multi:softprob"},
      {"eval_metric", classes == 2 ? "auc" : "mlogloss"},
      {"max_depth", std::to_string(*depth)},
      {"eta", std::to_string(*eta)},
      {"subsample", std::to_string(*subsample)},
      {"nthread", std::to_string(*threads)},
      {"seed", std::to_string(*seed)},
      {"tree_method", "hist"},
  };
  if (classes != 2) params.push_back({"num_class", std::to_string(classes)});
  for (const auto& [k, v] : params) {
    XGB_CHECK(XGBoosterSetParam(bh, k.c_str(), v.c_str()), "parameter " + k);
  }
  for (int i = 0; i < *rounds; ++i) {
    XGB_CHECK(XGBoosterUpdateOneIter(bh, i, dtrain->get()), "round " + std::to_string(i));
    if (dval && ((i + 1) % 10 == 0 || i + 1 == *rounds)) {
      DMatrixHandle sets[] = {dval->get()};
      const char* names[] = {"validation"};
      const char* result = nullptr;
      XGB_CHECK(XGBoosterEvalOneIter(bh, i, sets, names, 1, &result), "eval");
      SKIFF_LOG(Info) << "round " << i + 1 << result;
    }
  }
  auto parent = std::filesystem::path(out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  // xgboost picks the format from the extension; JSON is the portable one.
  std::string path = out;
  if (path.size() < 5 || path.substr(path.size() - 5) != ".json") path += ".json";
  XGB_CHECK(XGBoosterSaveModel(bh, path.c_str()), "save " + path);
  SKIFF_LOG(Info) << "wrote " << path;

  const Split& eval_split = validation.ok() ? *validation : *train;
  const Matrix& eval_matrix = dval ? *dval : *dtrain;
  auto pred = Predict(bh, eval_matrix);
  if (!pred.ok()) return pred.status();
  Confusion confusion(meta->labels);
  double auc = Score(*pred, eval_split, classes, &confusion);
  return WriteMetrics(flags, confusion, auc, validation.ok() ? "validation" : "train");
}

const std::vector<FlagSpec>& XgbEvaluateFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"model", "", "xgboost JSON model from xgb-train (required)"},
      {"data", "", "tabular dataset directory (required)"},
      {"split", "test", "split to score"},
      {"threads", "", "xgboost threads (default: CPUs available to this container)"},
      {"metrics-file", "", "metrics JSON (accuracy, auc, perClass)"},
      {"classification-metrics-file", "", "KFP ClassificationMetrics JSON (confusion matrix)"},
  };
  return kFlags;
}

Status RunXgbEvaluate(const Flags& flags) {
  std::string model = flags.Str("model"), data = flags.Str("data");
  if (model.empty()) return Status::BadRequest("--model is required");
  if (data.empty()) return Status::BadRequest("--data is required");
  if (!std::filesystem::is_regular_file(model)) return Status::NotFound("no model at " + model);
  auto threads = Threads(flags);
  if (!threads.ok()) return threads.status();
  auto meta = ReadMeta(data);
  if (!meta.ok()) return meta.status();
  if (meta->kind != "tabular") return Status::BadRequest(data + " is not a tabular dataset");
  auto split = LoadSplit(data, *meta, flags.Str("split"), false);
  if (!split.ok()) return split.status();
  auto matrix = ToMatrix(*split);
  if (!matrix.ok()) return matrix.status();
  BoosterHandle bh = nullptr;
  XGB_CHECK(XGBoosterCreate(nullptr, 0, &bh), "booster");
  Booster booster(bh);
  XGB_CHECK(XGBoosterLoadModel(bh, model.c_str()), "load " + model);
  XGB_CHECK(XGBoosterSetParam(bh, "nthread", std::to_string(*threads).c_str()), "nthread");
  auto pred = Predict(bh, *matrix);
  if (!pred.ok()) return pred.status();
  size_t classes = meta->labels.size();
  size_t per_row = classes == 2 ? 1 : classes;
  if (pred->size() != split->count * per_row) {
    return Status::BadRequest("model " + model + " does not match dataset " + data + " (" +
                              std::to_string(pred->size()) + " outputs for " +
                              std::to_string(split->count) + " rows)");
  }
  Confusion confusion(meta->labels);
  double auc = Score(*pred, *split, classes, &confusion);
  return WriteMetrics(flags, confusion, auc, flags.Str("split"));
}

}  // namespace skiff::ml

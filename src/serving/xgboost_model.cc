// The xgboost backend: libxgboost's C API on models saved as xgboost JSON (what `skiff-ml
// xgb-train` writes). Input "input" FP32 [-1, num_feature]; output "output" FP32, [-1] for binary
// and regression objectives, [-1, num_class] for multi:softprob.
#include <xgboost/c_api.h>

#include <cmath>
#include <memory>

#include "common/file.h"
#include "common/json.h"
#include "serving/model.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;

std::string XgbError(const std::string& what) {
  std::string msg = XGBGetLastError();
  return what + ": " + msg.substr(0, msg.find('\n'));
}

struct BoosterDeleter {
  void operator()(void* h) const { XGBoosterFree(h); }
};
using Booster = std::unique_ptr<void, BoosterDeleter>;

// model.json, else the only *.json in the directory that looks like an xgboost model.
fs::path FindModelFile(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir / "model.json", ec)) return dir / "model.json";
  fs::path found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json" || e.path().filename() == "model_card.json") continue;
    if (!found.empty()) return {};
    found = e.path();
  }
  return found;
}

bool LooksLikeXgboost(const fs::path& file) {
  if (file.empty()) return false;
  auto text = ReadFile(file.string());
  if (!text.ok()) return false;
  // Cheap: the JSON model's top level has "learner"; a full parse happens on load.
  return text->find("\"learner\"") != std::string::npos &&
         text->find("\"gradient_booster\"") != std::string::npos;
}

class XgboostModel : public Model {
 public:
  XgboostModel(ModelMetadata meta, Booster booster, int64_t features)
      : meta_(std::move(meta)), booster_(std::move(booster)), features_(features) {}

  const ModelMetadata& metadata() const override { return meta_; }
  // Set once while loading, before the model is shared.
  void SetOutput(TensorSpec spec) { meta_.outputs = {std::move(spec)}; }

  Status Infer(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    const Tensor& x = inputs[0];
    int64_t rows = x.shape[0];
    std::vector<int64_t> shape;
    auto values = Predict(reinterpret_cast<const float*>(x.data.data()), rows, &shape);
    if (!values.ok()) return values.status();
    Tensor out;
    out.name = meta_.outputs[0].name;
    out.datatype = DataType::kFp32;
    out.shape = std::move(shape);
    out.data = std::move(*values);
    outputs->clear();
    outputs->push_back(std::move(out));
    return Status::Ok();
  }

  // Predicts `rows` rows of `features_` floats; returns the output bytes and their shape.
  StatusOr<std::string> Predict(const float* data, int64_t rows, std::vector<int64_t>* shape) {
    char array[256];
    std::snprintf(array, sizeof(array),
                  "{\"data\": [%llu, true], \"shape\": [%lld, %lld], \"typestr\": \"<f4\", "
                  "\"version\": 3}",
                  static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(data)),
                  static_cast<long long>(rows), static_cast<long long>(features_));
    static constexpr const char* kConfig =
        "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
        "\"cache_id\": 0, "
        "\"strict_shape\": false, \"missing\": NaN}";
    const bst_ulong* out_shape = nullptr;
    bst_ulong out_dim = 0;
    const float* result = nullptr;
    if (XGBoosterPredictFromDense(booster_.get(), array, kConfig, nullptr, &out_shape, &out_dim,
                                  &result) != 0) {
      return Status::Internal(XgbError("xgboost predict"));
    }
    shape->assign(out_shape, out_shape + out_dim);
    int64_t n = ElementCount(*shape);
    return std::string(reinterpret_cast<const char*>(result), n * sizeof(float));
  }

 private:
  ModelMetadata meta_;
  Booster booster_;
  int64_t features_;
};

StatusOr<std::unique_ptr<Model>> LoadXgboost(const std::string& name, const fs::path& dir,
                                             const ModelOptions& options) {
  fs::path file = FindModelFile(dir);
  if (file.empty()) return Status::BadRequest("no xgboost model.json in " + dir.string());
  BoosterHandle h = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0) return Status::Internal(XgbError("xgboost booster"));
  Booster booster(h);
  if (XGBoosterLoadModel(h, file.string().c_str()) != 0) {
    return Status::BadRequest(XgbError("cannot load " + file.string()));
  }
  std::string threads = std::to_string(std::max(1, options.threads));
  if (XGBoosterSetParam(h, "nthread", threads.c_str()) != 0) {
    return Status::Internal(XgbError("xgboost nthread"));
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(h, &features) != 0 || features == 0) {
    return Status::BadRequest(XgbError("cannot read the feature count of " + file.string()));
  }
  ModelMetadata meta;
  meta.name = name;
  meta.platform = "xgboost_json";
  meta.batchable = true;
  meta.inputs.push_back({"input", DataType::kFp32, {-1, static_cast<int64_t>(features)}});
  auto model =
      std::make_unique<XgboostModel>(meta, std::move(booster), static_cast<int64_t>(features));
  // One row of zeros tells the output's rank (binary vs multi-class) and warms the booster.
  std::vector<float> zeros(features, 0.0f);
  std::vector<int64_t> shape;
  auto probe = model->Predict(zeros.data(), 1, &shape);
  if (!probe.ok()) return probe.status();
  std::vector<int64_t> out_shape = {-1};
  out_shape.insert(out_shape.end(), shape.begin() + 1, shape.end());
  model->SetOutput({"output", DataType::kFp32, out_shape});
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace

void RegisterXgboostBackend() {
  RegisterBackend({"xgboost", "xgboost_json",
                   [](const fs::path& dir) { return LooksLikeXgboost(FindModelFile(dir)); },
                   LoadXgboost});
}

}  // namespace skiff::serving

// The model interface every backend implements, and the backend registry that turns a model
// directory into a Model. Backends register themselves at start-up (RegisterXgboostBackend here,
// RegisterTorchScriptBackend in torch_model.h) so this header stays free of torch and xgboost.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "serving/tensor.h"

namespace skiff::serving {

// An input or output as the model metadata endpoint reports it; -1 marks a variable dimension.
struct TensorSpec {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
};

struct ModelMetadata {
  std::string name;
  std::string version = "1";
  std::string platform;  // "pytorch_torchscript", "xgboost_json"
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // Dimension 0 of every input and output is the batch (-1 in the specs): requests may be
  // concatenated along it and the results split back.
  bool batchable = false;
  std::vector<std::string> labels;  // class names, when the model directory says
};

struct ModelOptions {
  int threads = 1;  // compute threads per instance (torch intra-op, xgboost nthread)
};

// One loaded copy of a model. Infer is called by one thread at a time per instance (the batcher
// gives each instance its own thread); metadata() is immutable after loading.
class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelMetadata& metadata() const = 0;
  // One forward pass. `inputs` follow metadata().inputs and have been validated against them
  // (datatype, rank, fixed dimensions, consistent batch). Fills `outputs` in metadata().outputs
  // order, each with its full shape.
  virtual Status Infer(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) = 0;
};

struct Backend {
  std::string name;      // "pytorch", "xgboost"
  std::string platform;  // reported as the model's platform
  // True when `dir` holds a model this backend loads.
  std::function<bool(const std::filesystem::path& dir)> detect;
  std::function<StatusOr<std::unique_ptr<Model>>(
      const std::string& name, const std::filesystem::path& dir, const ModelOptions& options)>
      load;
};

// Adds a backend; a second registration under the same name replaces the first. Thread-safe.
void RegisterBackend(Backend backend);
std::vector<std::string> BackendNames();
// Loads the model in `dir` with the first registered backend that recognises it.
StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& name,
                                           const std::filesystem::path& dir,
                                           const ModelOptions& options);

// libxgboost's JSON models (model.json, or any single *.json that is an xgboost model).
void RegisterXgboostBackend();

}  // namespace skiff::serving

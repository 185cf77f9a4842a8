// TorchScript models under libtorch; see torch_model.h. The only file of the server that includes
// torch (~10 s of compile time per translation unit).
#include "serving/torch_model.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <mutex>

#include "common/file.h"
#include "common/json.h"
#include "ml/system.h"
#include "serving/model.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;

std::optional<DataType> CardDtype(const std::string& s) {
  static const std::pair<const char*, DataType> kMap[] = {
      {"float32", DataType::kFp32},  {"float64", DataType::kFp64}, {"float16", DataType::kFp16},
      {"bfloat16", DataType::kBf16}, {"int64", DataType::kInt64},  {"int32", DataType::kInt32},
      {"int16", DataType::kInt16},   {"int8", DataType::kInt8},    {"uint8", DataType::kUint8},
      {"bool", DataType::kBool},
  };
  for (const auto& [name, type] : kMap) {
    if (s == name) return type;
  }
  return ParseDataType(s);  // "FP32" etc. are accepted too
}

std::optional<torch::ScalarType> TorchType(DataType t) {
  switch (t) {
    case DataType::kBool:
      return torch::kBool;
    case DataType::kUint8:
      return torch::kUInt8;
    case DataType::kInt8:
      return torch::kInt8;
    case DataType::kInt16:
      return torch::kInt16;
    case DataType::kInt32:
      return torch::kInt32;
    case DataType::kInt64:
      return torch::kInt64;
    case DataType::kFp16:
      return torch::kFloat16;
    case DataType::kBf16:
      return torch::kBFloat16;
    case DataType::kFp32:
      return torch::kFloat32;
    case DataType::kFp64:
      return torch::kFloat64;
    default:
      return std::nullopt;  // libtorch 1.13 has no uint16/32/64 or string tensors
  }
}

StatusOr<std::vector<int64_t>> CardShape(const Json& j, const std::string& what) {
  if (!j.is_array() || j.empty()) return Status::BadRequest(what + " must be a non-empty array");
  std::vector<int64_t> shape;
  for (const auto& d : j) {
    if (!d.is_number_integer() || d.get<int64_t>() < -1) {
      return Status::BadRequest(what + " must hold integers >= -1");
    }
    shape.push_back(d.get<int64_t>());
  }
  return shape;
}

StatusOr<ModelMetadata> ReadCard(const std::string& name, const fs::path& dir) {
  auto text = ReadFile((dir / "model_card.json").string());
  if (!text.ok()) {
    return Status::BadRequest("model_card.json is missing in " + dir.string() +
                              ": it gives the input shape and dtype of model.pt");
  }
  auto card = ParseJson(*text);
  if (!card.ok()) return Status::BadRequest("model_card.json: " + card.status().message());
  ModelMetadata meta;
  meta.name = name;
  meta.platform = "pytorch_torchscript";
  const Json* in = FindPath(*card, "input");
  const Json* out = FindPath(*card, "output");
  if (!in || !out || !in->is_object() || !out->is_object()) {
    return Status::BadRequest("model_card.json needs \"input\" and \"output\" objects");
  }
  auto in_shape = CardShape(in->value("shape", Json()), "model_card.json input.shape");
  if (!in_shape.ok()) return in_shape.status();
  auto out_shape = CardShape(out->value("shape", Json()), "model_card.json output.shape");
  if (!out_shape.ok()) return out_shape.status();
  std::string dtype = in->value("dtype", std::string("float32"));
  auto in_type = CardDtype(dtype);
  if (!in_type || !TorchType(*in_type)) {
    return Status::BadRequest("model_card.json input.dtype \"" + dtype + "\" is not supported");
  }
  auto out_type = CardDtype(out->value("dtype", std::string("float32")));
  if (!out_type || !TorchType(*out_type)) {
    return Status::BadRequest("model_card.json output.dtype is not supported");
  }
  meta.inputs.push_back({in->value("name", std::string("input")), *in_type, *in_shape});
  meta.outputs.push_back({out->value("name", std::string("output")), *out_type, *out_shape});
  meta.batchable = (*in_shape)[0] == -1 && (*out_shape)[0] == -1;
  if (const Json* labels = FindPath(*card, "labels"); labels && labels->is_array()) {
    for (const auto& l : *labels) {
      if (l.is_string()) meta.labels.push_back(l.get<std::string>());
    }
  }
  return meta;
}

std::string FirstLine(const std::exception& e) {
  std::string msg = e.what();
  return msg.substr(0, msg.find('\n'));
}

class TorchScriptModel : public Model {
 public:
  TorchScriptModel(ModelMetadata meta, torch::jit::Module module)
      : meta_(std::move(meta)), module_(std::move(module)) {}

  const ModelMetadata& metadata() const override { return meta_; }

  Status Infer(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    try {
      c10::InferenceMode guard;
      std::vector<c10::IValue> args;
      args.reserve(inputs.size());
      for (const Tensor& t : inputs) {
        // The request owns the bytes until Infer returns; the model only reads them.
        args.emplace_back(torch::from_blob(const_cast<char*>(t.data.data()), t.shape,
                                           torch::TensorOptions().dtype(*TorchType(t.datatype))));
      }
      c10::IValue result = module_.forward(args);
      std::vector<torch::Tensor> tensors;
      if (result.isTensor()) {
        tensors.push_back(result.toTensor());
      } else if (result.isTuple()) {
        for (const auto& v : result.toTupleRef().elements()) {
          if (!v.isTensor()) return Status::Internal("model returned a tuple of non-tensors");
          tensors.push_back(v.toTensor());
        }
      } else {
        return Status::Internal("model returned " + result.tagKind() + ", not a tensor");
      }
      if (tensors.size() != meta_.outputs.size()) {
        return Status::Internal("model returned " + std::to_string(tensors.size()) +
                                " tensors; model_card.json declares " +
                                std::to_string(meta_.outputs.size()));
      }
      outputs->resize(tensors.size());
      for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorSpec& spec = meta_.outputs[i];
        torch::Tensor t = tensors[i].to(*TorchType(spec.datatype)).contiguous();
        Tensor& out = (*outputs)[i];
        out.name = spec.name;
        out.datatype = spec.datatype;
        out.shape.assign(t.sizes().begin(), t.sizes().end());
        out.data.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
      }
      return Status::Ok();
    } catch (const std::exception& e) {
      // A shape the script cannot take (e.g. a wrong inner dimension that passed -1 checks).
      return Status::BadRequest("model forward failed: " + FirstLine(e));
    }
  }

 private:
  ModelMetadata meta_;
  torch::jit::Module module_;
};

StatusOr<std::unique_ptr<Model>> LoadTorchScript(const std::string& name, const fs::path& dir,
                                                 const ModelOptions& options) {
  auto meta = ReadCard(name, dir);
  if (!meta.ok()) return meta.status();
  int threads = std::max(1, options.threads);
  // Both pools sized explicitly: OpenBLAS ignores torch's setting (src/ml/README.md, Threads).
  at::set_num_threads(threads);
  ml::SetBlasThreads(threads);
  torch::jit::Module module;
  try {
    module = torch::jit::load((dir / "model.pt").string(), torch::kCPU);
    module.eval();
  } catch (const std::exception& e) {
    return Status::BadRequest("cannot load " + (dir / "model.pt").string() + ": " + FirstLine(e));
  }
  auto model = std::make_unique<TorchScriptModel>(std::move(*meta), std::move(module));
  // Warm-up: the profiling executor specialises on the first calls; better here than on a user's
  // request. A failure means the card does not describe the model.
  const TensorSpec& in = model->metadata().inputs[0];
  for (int64_t batch : {1, 2, 1}) {
    Tensor t;
    t.name = in.name;
    t.datatype = in.datatype;
    t.shape = in.shape;
    for (auto& d : t.shape) d = d < 0 ? batch : d;
    t.data.assign(ElementCount(t.shape) * DataTypeSize(t.datatype), '\0');
    std::vector<Tensor> out;
    Status st = model->Infer(std::span<const Tensor>(&t, 1), &out);
    if (!st.ok()) {
      return Status::BadRequest("model.pt does not accept the input model_card.json describes (" +
                                ShapeString(t.shape) + "): " + st.message());
    }
  }
  return std::unique_ptr<Model>(std::move(model));
}

}  // namespace

void RegisterTorchScriptBackend() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      at::set_num_interop_threads(1);
    } catch (const std::exception&) {
      // Already fixed by an earlier torch call in this process; keep its value.
    }
  });
  RegisterBackend({"pytorch", "pytorch_torchscript",
                   [](const fs::path& dir) {
                     std::error_code ec;
                     return fs::is_regular_file(dir / "model.pt", ec);
                   },
                   LoadTorchScript});
}

}  // namespace skiff::serving

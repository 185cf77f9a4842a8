// The Open Inference Protocol V2 REST wire format (JSON tensors and the binary tensor extension)
// and KServe V1 `instances`/`predictions`, to and from Tensors. Parsing uses simdjson (an 8 KB
// float array costs microseconds, not the tens nlohmann takes) and never throws; every malformed
// input is a BadRequest whose message names the tensor and what is wrong.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "serving/model.h"
#include "serving/tensor.h"

namespace skiff::serving {

// Bytes that must be readable after every body handed to the parsers below (SIMD loads run past
// the end). HttpRequest bodies have them (kBodyPadding).
inline constexpr size_t kJsonPadding = 64;

struct RequestedOutput {
  std::string name;
  std::optional<bool> binary;  // the output's "binary_data" parameter, when given
};

// An inference request as sent, before it is checked against a model.
struct V2Request {
  std::optional<std::string> id;
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: all outputs
  bool binary_data_output = false;       // request parameter: outputs default to binary
};

// Parses the body of `POST .../infer`. `json_length` is the Inference-Header-Content-Length
// header (nullopt when absent: the whole body is JSON). The body must be followed by
// kJsonPadding readable bytes. A header length of 0 is the raw binary
// form: the body is the data of the model's only input (see ParseRawBinaryRequest).
Status ParseV2Request(std::string_view body, std::optional<size_t> json_length, V2Request* out);
// The raw binary form: one input, shape from the model (batch 1, one variable dimension deduced
// from the size), all outputs binary.
Status ParseRawBinaryRequest(std::string_view body, const ModelMetadata& meta, V2Request* out);

// Checks `given` inputs against the model (names, datatypes, ranks, fixed dimensions, one batch
// size for all inputs) and orders them as the model declares. `rows` is the batch size.
Status BindInputs(const ModelMetadata& meta, std::vector<Tensor>&& given,
                  std::vector<Tensor>* ordered, int64_t* rows);
// Every requested output must exist in the model.
Status CheckRequestedOutputs(const ModelMetadata& meta, const std::vector<RequestedOutput>& out);

struct EncodedResponse {
  std::string body;
  bool binary = false;     // body holds binary tensor data after the JSON
  size_t json_length = 0;  // Inference-Header-Content-Length when binary
};
// The inference response for `outputs` (model order); requested outputs filter and order them.
void EncodeV2Response(const ModelMetadata& meta, const std::optional<std::string>& id,
                      const std::vector<Tensor>& outputs,
                      const std::vector<RequestedOutput>& requested, bool binary_default,
                      EncodedResponse* out);

// KServe V1: {"instances": [...]} for a model with one input; each instance is one row (nested
// to the input's shape, or flat with the right number of elements). Padding as above.
Status ParseV1Request(std::string_view body, const ModelMetadata& meta, Tensor* input,
                      int64_t* rows);
// {"predictions": [...]}: one entry per row; with several outputs, an object per row by name.
std::string EncodeV1Response(const std::vector<Tensor>& outputs);

// {"error": "<message>"}
std::string ErrorJson(std::string_view message);
// Appends `s` as a JSON string literal.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace skiff::serving

// The built-in InferenceService transformer and explainer: small HTTP services in front of a
// predictor (any Open Inference Protocol V2 server, e.g. skiff-model-server), run as the
// transformer and explainer components of an InferenceService.
//
// Transformer (image): V1 `:predict` instances and V2 BYTES inputs carrying images (base64 PNG, or
// raw 8-bit pixels of the model's size) become the float tensor the predictor's metadata asks for
// ([-1, C, H, W]: decoded, converted to C channels, resized bilinearly; values 0-255); the
// predictor's answer is returned unchanged. Numeric instances pass through as they are.
//
// Explainer (occlusion): V1 `:explain` instances (images as above, or numeric tensors) are scored
// by the predictor, then again with each patch (images) or feature (tables) set to 0, all in one
// batched request; the saliency of a patch is how much the predicted class's probability drops.
//
// Requests are handed to worker threads that call the predictor with blocking keep-alive clients,
// so the event loop never waits on the predictor.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "serving/http_server.h"

namespace skiff::serving {

struct SidecarOptions {
  std::string mode;  // "transformer" or "explainer"
  std::string predictor_host = "127.0.0.1";
  uint16_t predictor_port = 8080;
  // A path prefix before the predictor's routes ("/serving/ns/isvc-predictor" when the predictor
  // is reached through skiff's gateway); empty for a predictor reached directly.
  std::string predictor_prefix;
  int workers = 2;
  int explain_patch = 0;  // occlusion patch side in pixels (0: a seventh of the image side)
};

// What the predictor's model metadata says its first input looks like.
struct PredictorInput {
  std::string model, input_name, output_name, datatype;
  std::vector<int64_t> shape;  // without the batch dimension
};

class Sidecar {
 public:
  explicit Sidecar(SidecarOptions options);
  ~Sidecar();
  // The HttpServer handler: queues the request for a worker.
  void Handle(const HttpRequest& request, Responder responder);

 private:
  struct Job {
    std::string method, path, body;
    Responder responder;
  };
  void Work();
  HttpResponse Serve(const Job& job);
  StatusOr<PredictorInput> Input(const std::string& model);
  StatusOr<Json> PredictorInfer(const PredictorInput& in, const std::vector<float>& rows,
                                int64_t count);
  StatusOr<std::vector<float>> InstanceToTensor(const PredictorInput& in, const Json& instance);
  HttpResponse Forward(const Job& job);
  HttpResponse Transform(const std::string& model, const Job& job, bool v2);
  HttpResponse Explain(const std::string& model, const Job& job);

  SidecarOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::map<std::string, PredictorInput> inputs_;  // by model, guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace skiff::serving

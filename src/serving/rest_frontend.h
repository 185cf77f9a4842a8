// The REST API of the model server on top of HttpServer: Open Inference Protocol V2 (health,
// server and model metadata, infer with JSON or binary tensors), the model repository extension
// (index, load, unload), KServe V1 (`/v1/models/{m}`, `:predict`; `:explain` answers 501) and
// Prometheus `/metrics`. Errors are `{"error": "..."}`: 400 for bad requests, 404 for unknown
// models or routes, 503 for models that are not ready.
//
// Inference: the request is parsed and validated on the connection's loop thread, handed to the
// model's runner, and answered from the runner's thread through the Responder (see batcher.h for
// ownership). Load and unload block for seconds, so they run on a control thread of their own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "serving/batcher.h"
#include "serving/http_server.h"
#include "serving/metrics.h"
#include "serving/repository.h"

namespace skiff::serving {

class RestFrontend : public InferCompletion {
 public:
  // `repo` and `metrics` outlive the frontend.
  RestFrontend(ModelRepository* repo, Metrics* metrics);
  // Finishes the load or unload in progress and drops queued ones (they answer 503).
  ~RestFrontend() override;

  // The HttpHandler of the server.
  void Handle(const HttpRequest& request, Responder responder);
  void Complete(std::unique_ptr<InferRequest> request) override;
  // /v2/health/ready stays false until start-up loading is over.
  void SetStartupDone() { startup_done_.store(true); }

 private:
  void Infer(const HttpRequest& req, std::string_view model, std::string_view version, bool v1,
             Responder responder);
  void Repository(const HttpRequest& req, std::string_view rest, Responder responder);
  std::string MetricsText() const;
  void RunControl(std::function<void()> task, Responder* responder_if_refused);
  void ControlLoop();

  ModelRepository* repo_;
  Metrics* metrics_;
  ModelStats* unrouted_;
  std::atomic<bool> startup_done_{false};

  std::mutex control_mu_;
  std::condition_variable control_cv_;
  std::deque<std::function<void()>> control_tasks_;  // guarded by control_mu_
  bool control_stop_ = false;                        // guarded by control_mu_
  std::thread control_;
};

}  // namespace skiff::serving

// Dynamic batching: a ModelRunner owns a model's instances, one thread each, and a queue of
// inference requests. An idle instance takes the request at the head of the queue and, when the
// model is batchable, waits up to max_queue_delay for more until max_batch_size rows are queued;
// the requests it takes are concatenated along dimension 0, run as one forward pass, and the
// outputs split back by rows.
//
// Ownership: Submit() takes a request; the runner hands it back, exactly once, to the request's
// InferCompletion (on an instance thread, or on the caller's thread when the request is refused).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"
#include "serving/metrics.h"
#include "serving/model.h"

namespace skiff::serving {

using Clock = std::chrono::steady_clock;

struct BatchingOptions {
  int max_batch_size = 0;          // rows per forward; <= 1 disables batching
  int64_t max_queue_delay_us = 0;  // how long the head of the queue waits for company
  int instances = 1;               // model copies, each with its own thread
  size_t max_queue_size = 8192;    // requests waiting; more are refused with 503
};

struct InferRequest;

class InferCompletion {
 public:
  virtual ~InferCompletion() = default;
  // Receives a finished request (status and outputs filled in). Must not block.
  virtual void Complete(std::unique_ptr<InferRequest> request) = 0;
};

// One inference as the runner sees it. Frontends derive from it to carry their reply state.
struct InferRequest {
  virtual ~InferRequest() = default;
  // Set by the frontend: inputs in metadata().inputs order, validated; `rows` is dimension 0 of
  // the inputs for a batchable model (1 otherwise).
  std::vector<Tensor> inputs;
  int64_t rows = 1;
  InferCompletion* completion = nullptr;  // not owned; outlives the request
  Clock::time_point enqueued;             // set by Submit
  // Set by the runner before Complete():
  Status status;
  std::vector<Tensor> outputs;  // metadata().outputs order, this request's rows only
  int64_t queue_us = 0, compute_us = 0;
  int64_t batch_rows = 0;  // rows of the forward this request rode in
};

class ModelRunner {
 public:
  // `instances` are independent copies of one model (at least one). `stats` outlives the runner.
  ModelRunner(std::vector<std::unique_ptr<Model>> instances, BatchingOptions options,
              ModelStats* stats);
  ~ModelRunner();
  ModelRunner(const ModelRunner&) = delete;
  ModelRunner& operator=(const ModelRunner&) = delete;

  const ModelMetadata& metadata() const { return instances_[0]->metadata(); }
  const BatchingOptions& options() const { return options_; }
  ModelStats* stats() const { return stats_; }

  // Thread-safe. A stopped runner or a full queue completes the request at once with 503.
  void Submit(std::unique_ptr<InferRequest> request);
  // Refuses new requests, lets the instances finish what is queued, joins them. Idempotent.
  void Stop();

 private:
  void Work(Model* model);
  void Execute(Model* model, std::vector<std::unique_ptr<InferRequest>>& batch);

  std::vector<std::unique_ptr<Model>> instances_;
  const BatchingOptions options_;
  const bool batching_;
  ModelStats* stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<InferRequest>> queue_;  // guarded by mu_
  int64_t queued_rows_ = 0;                          // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  std::vector<std::thread> threads_;
  std::once_flag stop_once_;
};

}  // namespace skiff::serving

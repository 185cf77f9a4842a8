// The Open Inference Protocol V2 gRPC API of the model server (`inference.GRPCInferenceService`,
// serving/grpc_inference.proto): health, server and model metadata, ModelInfer with typed or raw
// tensor contents, and the repository extension. Inference goes through the same ModelRepository
// and ModelRunner as REST, so answers are identical and both protocols share one dynamic batch.
//
// Threads: grpc's asynchronous API, one completion queue and one thread per `threads`. A request
// is decoded and validated on its queue's thread and submitted to the model's runner; the runner's
// instance thread encodes the reply and hands it back to grpc (Finish is legal from any thread).
// Repository loads block for seconds, so they run on a control thread of their own. grpc types
// stay out of this header so model_server_main.cc builds with or without gRPC.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "serving/metrics.h"
#include "serving/repository.h"

namespace skiff::serving {

struct GrpcServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 8081;  // 0: the kernel picks one (see port())
  int threads = 1;       // completion queues, one thread each
  size_t max_message_bytes = 64 << 20;
};

class GrpcFrontend {
 public:
  // `repo` and `metrics` outlive the frontend.
  GrpcFrontend(ModelRepository* repo, Metrics* metrics);
  // Stops if still running.
  ~GrpcFrontend();
  GrpcFrontend(const GrpcFrontend&) = delete;
  GrpcFrontend& operator=(const GrpcFrontend&) = delete;

  // Binds and starts serving; Unavailable when the port cannot be bound.
  Status Start(const GrpcServerOptions& options);
  uint16_t port() const;
  // ServerReady stays false until start-up loading is over.
  void SetStartupDone();
  // Refuses new calls and answers every call already accepted (inferences still in a runner are
  // waited for, so call this before the repository unloads), then joins the threads. Idempotent.
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::serving

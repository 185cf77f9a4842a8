// skiff-model-server: the data plane of InferenceServices (image skiff/model-server). Serves the
// models of a directory or a model repository over Open Inference Protocol V2 REST and gRPC and
// KServe V1; see src/serving/README.md.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "ml/flags.h"
#include "ml/system.h"
#include "serving/codec.h"
#ifdef SKIFF_SERVING_GRPC
#include "serving/grpc_frontend.h"
#endif
#include "serving/http_server.h"
#include "serving/model.h"
#include "serving/process.h"
#include "serving/repository.h"
#include "serving/rest_frontend.h"
#include "serving/torch_model.h"

namespace skiff::serving {
namespace {

const std::vector<ml::FlagSpec>& Flags() {
  static const std::vector<ml::FlagSpec> kFlags = {
      {"model-dir", "",
       "serve the model in this directory (model.pt + model_card.json, or "
       "xgboost model.json)"},
      {"model-name", "", "name of the --model-dir model (default: the directory's name)"},
      {"model-repository", "", "serve every subdirectory of this directory as a model"},
      {"address", "0.0.0.0", "listen address"},
      {"http-port", "8080", "HTTP port (0: pick a free one; the ready line says which)"},
      {"http-threads", "", "HTTP event loops (default: CPUs available to this container)"},
      {"grpc-port", "",
       "V2 gRPC port (default 8081, or a free one when 8081 is taken; 0: pick a free one; "
       "off or negative: no gRPC)"},
      {"grpc-threads", "", "gRPC completion queues, one thread each (default: half the CPUs)"},
      {"max-batch-size", "0", "dynamic batching: rows per forward pass (0 or 1: off)"},
      {"max-latency-us", "500", "dynamic batching: longest wait for a batch to fill, µs"},
      {"instances", "1", "model copies per model, each with its own thread"},
      {"threads", "1", "compute threads per model instance (torch intra-op, OpenBLAS, xgboost)"},
      {"max-queue-size", "8192", "queued requests per model before 503"},
      {"max-body-bytes", "67108864", "largest request body; larger ones are answered 413"},
  };
  return kFlags;
}

int Fail(const std::string& message) {
  std::cerr << "skiff-model-server: " << message << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h" || a == "help") {
      std::cout << "usage: skiff-model-server [flags]\n" << ml::FlagHelp(Flags());
      return 0;
    }
    args.push_back(KebabFlag(a));  // KServe's --model_name spelling too
  }
  auto flags = ml::Flags::Parse(args, Flags());
  if (!flags.ok()) return Fail(flags.status().message());
  auto integer = [&](const char* name, long long min, long long max) -> long long {
    auto v = flags->Int(name, min, max);
    if (!v.ok()) {
      Fail(v.status().message());
      std::exit(1);
    }
    return *v;
  };
  std::string model_dir = flags->Str("model-dir"), repo_dir = flags->Str("model-repository");
  if (model_dir.empty() && repo_dir.empty()) {
    return Fail("give --model-dir DIR or --model-repository DIR (see --help)");
  }
  ModelConfig config;
  config.batching.max_batch_size = static_cast<int>(integer("max-batch-size", 0, 1 << 20));
  config.batching.max_queue_delay_us = integer("max-latency-us", 0, 10'000'000);
  config.batching.instances = static_cast<int>(integer("instances", 1, 64));
  config.batching.max_queue_size = static_cast<size_t>(integer("max-queue-size", 1, 1 << 24));
  config.model.threads = static_cast<int>(integer("threads", 1, 1024));
  HttpServerOptions http;
  http.address = flags->Str("address");
  http.port = static_cast<uint16_t>(integer("http-port", 0, 65535));
  http.threads = flags->Has("http-threads") ? static_cast<int>(integer("http-threads", 1, 256))
                                            : ml::AvailableCpus();
  http.max_body_bytes = static_cast<size_t>(integer("max-body-bytes", 1, 1LL << 34));
  http.error_body = [](int, const std::string& message) { return ErrorJson(message); };
  // gRPC: KServe's --grpc_port, default 8081. Only the default falls back to a free port when taken
  // (several servers on one host in tests); a port given explicitly must be bound.
  const bool grpc_explicit = flags->Has("grpc-port");
  long long grpc_port = 8081;
  if (grpc_explicit) {
    grpc_port = flags->Str("grpc-port") == "off"
                    ? -1
                    : integer("grpc-port", std::numeric_limits<int>::min(), 65535);
  }
  const bool grpc_on = grpc_port >= 0;
#ifdef SKIFF_SERVING_GRPC
  GrpcServerOptions grpc;
  grpc.address = http.address;
  grpc.port = static_cast<uint16_t>(std::max(grpc_port, 0LL));
  // Half the CPUs: on 2 CPUs one queue thread serves ~20-40 % more calls than two (bench/).
  grpc.threads = flags->Has("grpc-threads") ? static_cast<int>(integer("grpc-threads", 1, 256))
                                            : std::max(1, ml::AvailableCpus() / 2);
  grpc.max_message_bytes = http.max_body_bytes;
#endif

  // Signals are taken by sigwait below; threads created from here on inherit the mask.
  sigset_t signals = BlockTerminationSignals();

  RegisterTorchScriptBackend();
  RegisterXgboostBackend();
  // Before any model loads, so BLAS never starts a pool per CPU.
  ml::SetBlasThreads(config.model.threads);

  Metrics metrics;
  auto repo = std::make_unique<ModelRepository>(repo_dir, config, &metrics);
  if (!model_dir.empty()) {
    std::string name = flags->Str("model-name");
    if (name.empty()) name = std::filesystem::path(model_dir).lexically_normal().filename();
    if (name.empty() || name == ".") name = "model";
    repo->AddModelDir(name, model_dir);
  }
  auto frontend = std::make_unique<RestFrontend>(repo.get(), &metrics);
  auto server = std::make_unique<HttpServer>(
      http, [f = frontend.get()](const HttpRequest& r, Responder resp) {
        f->Handle(r, std::move(resp));
      });
  // Listen first: liveness answers while models load, readiness only after.
  if (Status st = server->Start(); !st.ok()) return Fail(st.message());
  std::printf("skiff-model-server listening on %s:%u\n", http.address.c_str(), server->port());
#ifdef SKIFF_SERVING_GRPC
  std::unique_ptr<GrpcFrontend> grpc_frontend;
  if (grpc_on) {
    grpc_frontend = std::make_unique<GrpcFrontend>(repo.get(), &metrics);
    Status st = grpc_frontend->Start(grpc);
    if (!st.ok() && !grpc_explicit) {
      SKIFF_LOG(Warn) << st.message() << "; gRPC takes a free port instead";
      grpc.port = 0;
      grpc_frontend = std::make_unique<GrpcFrontend>(repo.get(), &metrics);
      st = grpc_frontend->Start(grpc);
    }
    if (!st.ok()) return Fail(st.message());
    std::printf("skiff-model-server grpc listening on %s:%u\n", grpc.address.c_str(),
                grpc_frontend->port());
  } else {
    std::printf("skiff-model-server grpc: off\n");
  }
#else
  if (grpc_on) std::printf("skiff-model-server grpc: off (built without gRPC)\n");
#endif
  std::fflush(stdout);
  Status loaded = repo->LoadAll();
  if (!loaded.ok()) {
    SKIFF_LOG(Error) << "not every model loaded: " << loaded.message();
  }
  frontend->SetStartupDone();
#ifdef SKIFF_SERVING_GRPC
  if (grpc_frontend) grpc_frontend->SetStartupDone();
#endif
  std::printf("skiff-model-server ready: %s\n", loaded.ok() ? "all models loaded" : "with errors");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  SKIFF_LOG(Info) << "signal " << sig << ": shutting down";
  // Order matters: no new requests, then drain the models (their completions still reach the
  // frontend), then stop the control thread; the server's loops outlive every Responder.
  server->Stop();
#ifdef SKIFF_SERVING_GRPC
  if (grpc_frontend) grpc_frontend->Stop();  // answers the calls it accepted
#endif
  repo->UnloadAll();
  frontend.reset();
  repo.reset();
  server.reset();
  return 0;
}

}  // namespace
}  // namespace skiff::serving

int main(int argc, char** argv) { return skiff::serving::Main(argc, argv); }

// skiff-model-sidecar: the built-in InferenceService transformer (images `skiff/image-transformer`)
// and explainer (`skiff/explainer`) in front of a predictor; see sidecar.h.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common/log.h"
#include "ml/flags.h"
#include "serving/codec.h"
#include "serving/http_server.h"
#include "serving/process.h"
#include "serving/sidecar.h"

namespace skiff::serving {
namespace {

const std::vector<ml::FlagSpec>& Flags() {
  static const std::vector<ml::FlagSpec> kFlags = {
      {"mode", "", "transformer (images to tensors) or explainer (occlusion saliency)"},
      {"predictor-host", "127.0.0.1:8080", "the predictor's HOST[:PORT][/PATH] (V2 REST)"},
      {"model-name", "", "accepted for KServe compatibility; the model comes from the URL"},
      {"address", "0.0.0.0", "listen address"},
      {"http-port", "8080", "HTTP port (0: pick a free one)"},
      {"workers", "2", "threads calling the predictor"},
      {"explain-patch", "0", "occlusion patch side in pixels (0: a seventh of the image side)"},
  };
  return kFlags;
}

int Fail(const std::string& message) {
  std::cerr << "skiff-model-sidecar: " << message << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: skiff-model-sidecar --mode transformer|explainer [flags]\n"
                << ml::FlagHelp(Flags());
      return 0;
    }
    if (i == 1 && (a == "transformer" || a == "explainer")) a = "--mode=" + a;
    args.push_back(KebabFlag(a));  // KServe's --model_name spelling too
  }
  auto flags = ml::Flags::Parse(args, Flags());
  if (!flags.ok()) return Fail(flags.status().message());
  SidecarOptions o;
  o.mode = flags->Str("mode");
  if (o.mode != "transformer" && o.mode != "explainer") {
    return Fail("--mode must be transformer or explainer");
  }
  // HOST[:PORT][/PATH]: KServe passes a bare service name; skiff's gateway passes its own address
  // and the predictor's route prefix.
  std::string host = flags->Str("predictor-host");
  if (size_t slash = host.find('/'); slash != std::string::npos) {
    o.predictor_prefix = host.substr(slash);
    while (!o.predictor_prefix.empty() && o.predictor_prefix.back() == '/') {
      o.predictor_prefix.pop_back();
    }
    host = host.substr(0, slash);
  }
  if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    auto port = ml::Flags::Parse({"--p=" + host.substr(colon + 1)}, {{"p", "", ""}});
    auto p = port.ok() ? port->Int("p", 1, 65535) : StatusOr<long long>(port.status());
    if (!p.ok()) return Fail("--predictor-host: bad port in \"" + host + "\"");
    o.predictor_port = static_cast<uint16_t>(*p);
    host = host.substr(0, colon);
  } else {
    o.predictor_port = 80;  // KServe passes a bare host name: the predictor's service port
  }
  o.predictor_host = host;
  auto workers = flags->Int("workers", 1, 64);
  auto patch = flags->Int("explain-patch", 0, 4096);
  auto port = flags->Int("http-port", 0, 65535);
  if (!workers.ok() || !patch.ok() || !port.ok()) {
    return Fail((!workers.ok() ? workers.status()
                 : !patch.ok() ? patch.status()
                               : port.status())
                    .message());
  }
  o.workers = static_cast<int>(*workers);
  o.explain_patch = static_cast<int>(*patch);

  sigset_t signals = BlockTerminationSignals();

  Sidecar sidecar(o);
  HttpServerOptions http;
  http.address = flags->Str("address");
  http.port = static_cast<uint16_t>(*port);
  http.error_body = [](int, const std::string& message) { return ErrorJson(message); };
  HttpServer server(http, [&sidecar](const HttpRequest& r, Responder resp) {
    sidecar.Handle(r, std::move(resp));
  });
  if (Status st = server.Start(); !st.ok()) return Fail(st.message());
  std::printf("skiff-model-sidecar %s listening on %s:%u, predictor %s:%u%s\n", o.mode.c_str(),
              http.address.c_str(), server.port(), o.predictor_host.c_str(), o.predictor_port,
              o.predictor_prefix.c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  SKIFF_LOG(Info) << "signal " << sig << ": shutting down";
  server.Stop();
  return 0;
}

}  // namespace
}  // namespace skiff::serving

int main(int argc, char** argv) { return skiff::serving::Main(argc, argv); }

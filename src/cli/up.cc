#include "cli/up.h"

#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "apiserver/server.h"
#include "client/inprocess_client.h"
#include "common/file.h"
#include "common/log.h"
#include "controllers/core_controllers.h"
#include "controllers/manager.h"
#include "inference/serving.h"
#include "node/agent.h"
#include "node/volume_provisioner.h"
#include "pipelines/pipelines.h"
#include "registry/rest.h"
#include "runtime/runtime.h"
#include "scheduler/admission.h"
#include "scheduler/scheduler.h"
#include "training/training_controllers.h"

namespace skiff::cli {

namespace {

// The directory of the running executable: skiff-shim and skiff-ml are installed beside it.
std::string ExecutableDir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

// "60s", "500ms", "2m", or plain seconds.
bool ParseDurationFlag(const std::string& text, std::chrono::milliseconds* out) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (...) {
    return false;
  }
  const std::string unit = text.substr(end);
  double ms = 0;
  if (unit == "ms") {
    ms = v;
  } else if (unit == "s" || unit.empty()) {
    ms = v * 1000;
  } else if (unit == "m") {
    ms = v * 60000;
  } else {
    return false;
  }
  if (ms < 0) return false;
  *out = std::chrono::milliseconds(static_cast<int64_t>(ms));
  return true;
}

}  // namespace

std::string DefaultDataDir() {
  if (const char* home = std::getenv("SKIFF_HOME"); home && *home) return home;
  const char* user_home = std::getenv("HOME");
  return std::string(user_home ? user_home : ".") + "/.skiff";
}

int RunUp(const UpOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  // glibc gives each thread that allocates its own arena (up to 8 per core); with a pool of HTTP
  // and store threads that multiplies retained memory for no measurable speed on 2 cores.
  mallopt(M_ARENA_MAX, 2);
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  apiserver::ApiServerOptions so;
  so.data_dir = options.data_dir.empty() ? DefaultDataDir() : options.data_dir;
  so.address = options.address;
  so.port = static_cast<uint16_t>(options.port);
  so.insecure_http = options.insecure_http;
  so.threads = options.threads;
  auto server = apiserver::ApiServer::Start(so);
  if (!server.ok()) {
    std::cerr << "skiff up: " << server.status().message() << "\n";
    return 1;
  }
  // Controllers act through the same API as every other client, in-process.
  auto client = client::NewInProcessClient(
      (*server)->api(), apiserver::UserInfo{"system:skiff-controllers", {"system:masters"}});
  controllers::Manager manager(client.get());
  if (Status s = controllers::StartCoreControllers(manager, client.get(), (*server)->registry());
      !s.ok()) {
    std::cerr << "skiff up: " << s.message() << "\n";
    return 1;
  }
  scheduler::InstallSchedulingAdmission((*server)->api());
  scheduler::SchedulerOptions sched;
  sched.registry = (*server)->registry();
  if (Status s = scheduler::StartScheduler(manager, client.get(), sched); !s.ok()) {
    std::cerr << "skiff up: " << s.message() << "\n";
    return 1;
  }
  if (Status s = training::StartTrainingControllers(manager, client.get()); !s.ok()) {
    std::cerr << "skiff up: " << s.message() << "\n";
    return 1;
  }
  // InferenceServices: controller, autoscaler and the gateway (listening before the ready line).
  inference::ServingOptions serving_options;
  serving_options.data_dir = so.data_dir;
  serving_options.domain = options.ingress_domain;
  serving_options.gateway.address = options.gateway_address;
  serving_options.gateway.port = options.gateway_port;
  serving_options.gateway.fallback_to_free_port = !options.gateway_port_explicit;
  serving_options.gateway.threads = options.gateway_threads;
  if (!ParseDurationFlag(options.autoscaler_stable_window,
                         &serving_options.autoscaler.stable_window) ||
      serving_options.autoscaler.stable_window.count() <= 0 ||
      !ParseDurationFlag(options.autoscaler_scale_to_zero_grace,
                         &serving_options.autoscaler.scale_to_zero_grace)) {
    std::cerr << "skiff up: --autoscaler-stable-window and --autoscaler-scale-to-zero-grace take "
                 "durations such as 60s or 500ms\n";
    return 1;
  }
  auto serving = inference::Serving::Start(manager, client.get(), serving_options);
  if (!serving.ok()) {
    std::cerr << "skiff up: " << serving.status().message() << "\n";
    return 1;
  }
  // Pipelines: the run engine, recurring runs, lineage, the KFP REST facade and /metrics.
  pipelines::PipelinesOptions pipelines_options;
  pipelines_options.data_dir = so.data_dir;
  auto pipelines =
      pipelines::Pipelines::Start(manager, client.get(), server->get(), pipelines_options);
  if (!pipelines.ok()) {
    std::cerr << "skiff up: " << pipelines.status().message() << "\n";
    return 1;
  }
  // The node agent runs this machine's Pods; its containers outlive a crash of skiff and are
  // re-adopted on the next start.
  std::unique_ptr<runtime::Runtime> runtime;
  std::unique_ptr<node::NodeAgent> agent;
  if (!options.no_agent) {
    auto rt = runtime::NewLocalRuntime();
    if (!rt.ok()) {
      std::cerr << "skiff up: container runtime: " << rt.status().message() << "\n";
      return 1;
    }
    runtime = std::move(*rt);
    node::AgentOptions ao;
    ao.data_dir = so.data_dir;
    if (!options.node_name.empty()) ao.node_name = options.node_name;
    ao.bin_dir = ExecutableDir();
    ao.max_pods = options.max_pods;
    // In-cluster credentials for Pods (kubectl inside a task); they need HTTPS, whose serving
    // certificate names 127.0.0.1.
    if (!so.insecure_http) {
      ao.service_account_token = [s = server->get()](const std::string& ns, const std::string& sa) {
        return s->ServiceAccountToken(ns, sa);
      };
      ao.api_ca_pem = (*server)->ca_pem();
      ao.api_port = (*server)->port();
    }
    auto created = node::NodeAgent::Create(manager, client.get(), runtime.get(), ao);
    if (!created.ok()) {
      std::cerr << "skiff up: node agent: " << created.status().message() << "\n";
      return 1;
    }
    agent = std::move(*created);
    if (Status s = node::StartVolumeProvisioner(manager, so.data_dir); !s.ok()) {
      std::cerr << "skiff up: volume provisioner: " << s.message() << "\n";
      return 1;
    }
    (*server)->handler()->SetPodLogSource(
        [a = agent.get()](const Json& pod, const apiserver::PodLogRequest& r,
                          const std::function<bool()>& cancelled,
                          const std::function<bool(const std::string&)>& sink) {
          runtime::LogReadOptions lo;
          lo.tail_lines = r.tail_lines;
          lo.since = r.since;
          lo.timestamps = r.timestamps;
          lo.limit_bytes = r.limit_bytes;
          lo.follow = r.follow;
          lo.cancelled = cancelled;
          return a->StreamLogs(pod, r.container, r.previous, lo, sink);
        });
  }
  // The Model Registry REST API (/api/model_registry/v1alpha3/), a facade over the registry kinds.
  (*server)->handler()->AddRoute(registry::RegistryRoutes((*server)->api()));
  manager.Start();
  if (agent) {
    // Ready means ready to run Pods: the node is registered before the ready line.
    const client::Resource nodes{"", "v1", "nodes"};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!client->Get(nodes, "", agent->node_name()).ok() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  const std::string kubeconfig = (*server)->Kubeconfig();
  const std::string kc_path = so.data_dir + "/kubeconfig";
  if (Status s = WriteFileAtomic(kc_path, kubeconfig, 0600); !s.ok()) {
    std::cerr << "skiff up: " << s.message() << "\n";
    return 1;
  }
  if (!options.kubeconfig_out.empty()) {
    if (Status s = WriteFileAtomic(options.kubeconfig_out, kubeconfig, 0600); !s.ok()) {
      std::cerr << "skiff up: " << s.message() << "\n";
      return 1;
    }
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::cout << "skiff is ready at " << (*server)->url() << " (" << ms << " ms)\n"
            << "  kubeconfig: " << kc_path << "   (export KUBECONFIG=" << kc_path << ")\n"
            << "  data:       " << so.data_dir << "\n"
            << "  gateway:    " << (*serving)->gateway_url() << "   (Host: {isvc}.{namespace}."
            << options.ingress_domain << ", or path /serving/{namespace}/{isvc}/...)\n"
            << std::flush;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  SKIFF_LOG(Info) << "received signal " << sig << ", stopping";
  // Graceful node shutdown first: Pods are stopped and recorded while the API still runs.
  if (agent) agent->Shutdown();
  (*serving)->Stop();
  manager.Stop();
  (*server)->Stop();
  return 0;
}

}  // namespace skiff::cli

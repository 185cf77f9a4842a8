#include "cli/up.h"

#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "apiserver/server.h"
#include "client/inprocess_client.h"
#include "common/file.h"
#include "common/log.h"
#include "controllers/core_controllers.h"
#include "controllers/manager.h"

namespace skiff::cli {

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
  manager.Start();

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
            << std::flush;

  int sig = 0;
  sigwait(&stop_signals, &sig);
  SKIFF_LOG(Info) << "received signal " << sig << ", stopping";
  manager.Stop();
  (*server)->Stop();
  return 0;
}

}  // namespace skiff::cli

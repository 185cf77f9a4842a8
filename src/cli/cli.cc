#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apiserver/server.h"
#include "cli/client_commands.h"
#include "cli/images_command.h"
#include "cli/pipeline_command.h"
#include "cli/up.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/pki.h"

namespace skiff::cli {

namespace {

constexpr char kVersion[] = "0.1.0";

// Prints a kubeconfig for the server whose state lives in `data_dir`.
int PrintKubeconfig(const std::string& data_dir, const std::string& server,
                    const std::string& out) {
  auto token = ReadFile(data_dir + "/admin.token");
  auto ca = ReadFile(data_dir + "/pki/ca.crt");
  if (!token.ok()) {
    std::cerr << "skiff kubeconfig: no admin token in " << data_dir
              << " (run `skiff up` once to create it)\n";
    return 1;
  }
  std::string t = *token;
  while (!t.empty() && isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
  Json cluster = {{"server", server}};
  if (ca.ok()) cluster["certificate-authority-data"] = Base64Encode(*ca);
  Json cfg = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", {{{"name", "skiff"}, {"cluster", cluster}}}},
      {"users", {{{"name", "skiff-admin"}, {"user", {{"token", t}}}}}},
      {"contexts",
       {{{"name", "skiff"},
         {"context", {{"cluster", "skiff"}, {"user", "skiff-admin"}, {"namespace", "default"}}}}}},
      {"current-context", "skiff"},
      {"preferences", Json::object()}};
  std::string yaml = ToYaml(cfg);
  if (out.empty() || out == "-") {
    std::cout << yaml;
    return 0;
  }
  if (Status s = WriteFileAtomic(out, yaml, 0600); !s.ok()) {
    std::cerr << "skiff kubeconfig: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

// `skiff [--data-dir DIR] images ...`: the words after `images` are RunImages' own grammar
// (flags taking several values), which CLI11's fallthrough parsing would claim; so it is
// dispatched before CLI11 sees the command line. Returns nullopt for any other command.
std::optional<int> MaybeRunImages(int argc, char** argv) {
  std::string data_dir;
  int i = 1;
  while (i < argc) {
    std::string a = argv[i];
    if (a == "--data-dir" && i + 1 < argc) {
      data_dir = argv[i + 1];
      i += 2;
    } else if (a.rfind("--data-dir=", 0) == 0) {
      data_dir = a.substr(11);
      ++i;
    } else {
      break;
    }
  }
  if (i >= argc || std::string(argv[i]) != "images") return std::nullopt;
  std::vector<std::string> args(argv + i + 1, argv + argc);
  return RunImages(args, data_dir.empty() ? DefaultDataDir() : data_dir, std::cout, std::cerr);
}

int Main(int argc, char** argv) {
  if (auto rc = MaybeRunImages(argc, argv)) return *rc;
  CLI::App app{"skiff: Kubeflow v2 in one binary"};
  app.require_subcommand(1);
  // Parent options may follow the subcommand: `skiff up --data-dir DIR`.
  app.fallthrough();
  std::string data_dir;
  app.add_option("--data-dir", data_dir, "State directory (default $SKIFF_HOME or ~/.skiff)");

  UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "Serve the Kubernetes API and run every controller");
  up_cmd->add_option("--address", up.address, "Listen address");
  up_cmd->add_option("--port", up.port, "Listen port (0: any free port)");
  up_cmd->add_flag("--insecure-http", up.insecure_http,
                   "Serve plain HTTP without authentication (development only)");
  up_cmd->add_option("--threads", up.threads, "HTTP worker threads");
  up_cmd->add_option("--write-kubeconfig", up.kubeconfig_out,
                     "Also write the admin kubeconfig here");
  up_cmd
      ->add_option("--max-pods", up.max_pods,
                   "Pods this machine's Node takes at once (its pods capacity; default 110, as "
                   "the kubelet)")
      ->check(CLI::PositiveNumber);
  up_cmd->add_option("--node-name", up.node_name,
                     "Name of this machine's Node (default: host name)");
  up_cmd->add_flag(
      "--no-agent", up.no_agent,
      "Run no node agent: Pods are scheduled to no node here (API and controllers only)");
  up_cmd->add_option("--gateway-address", up.gateway_address, "Inference gateway listen address");
  auto* gateway_port = up_cmd->add_option(
      "--gateway-port", up.gateway_port, "Inference gateway port (default 8081; 0: any free port)");
  up_cmd->add_option("--gateway-threads", up.gateway_threads, "Inference gateway event loops");
  up_cmd->add_option("--ingress-domain", up.ingress_domain,
                     "Domain of InferenceService URLs: http://{isvc}.{namespace}.{domain}");
  up_cmd->add_option("--autoscaler-stable-window", up.autoscaler_stable_window,
                     "Autoscaler stable window (panic window: 10%), e.g. 60s or 2s");
  up_cmd->add_option("--autoscaler-scale-to-zero-grace", up.autoscaler_scale_to_zero_grace,
                     "Idle time after the stable window before scaling to zero, e.g. 30s");

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  std::string kc_server = "https://127.0.0.1:6443";
  std::string kc_out;
  auto* kc_cmd =
      app.add_subcommand("kubeconfig", "Print (or write) a kubeconfig for the admin user");
  kc_cmd->add_option("--server", kc_server, "Server URL");
  kc_cmd->add_option("-o,--output", kc_out, "Write to this file instead of stdout");

  auto* images_cmd = app.add_subcommand(
      "images", "The local image catalog: list, add, remove, resolve (skiff images help)");
  images_cmd->allow_extras();  // listed in --help; parsed by MaybeRunImages

  ClientCommands client_commands(&app);
  PipelineCommands pipeline_commands(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (data_dir.empty()) data_dir = DefaultDataDir();
  if (*up_cmd) {
    up.data_dir = data_dir;
    up.gateway_port_explicit = gateway_port->count() > 0;
    return RunUp(up);
  }
  if (*version_cmd) {
    std::cout << "skiff " << kVersion << " (Kubernetes API v1.32)\n";
    return 0;
  }
  if (*kc_cmd) return PrintKubeconfig(data_dir, kc_server, kc_out);
  if (*images_cmd) return RunImages(images_cmd->remaining(), data_dir, std::cout, std::cerr);
  if (auto rc = client_commands.Run(data_dir)) return *rc;
  if (auto rc = pipeline_commands.Run(data_dir)) return *rc;
  return 1;
}

}  // namespace skiff::cli

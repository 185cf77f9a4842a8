// A real `skiff up` for end-to-end tests: started on 127.0.0.1 port 0 with its own data dir, driven
// with the real kubectl through the kubeconfig it writes, stopped with SIGTERM (SIGKILL after a
// grace period). One instance per test; not thread-safe.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "subprocess.h"

namespace skiff::e2e {

class SkiffServer {
 public:
  // `work_dir` holds the data dir, the kubeconfig, kubectl's cache and the children's output files.
  explicit SkiffServer(std::filesystem::path work_dir) : work_(std::move(work_dir)) {
    std::filesystem::create_directories(data_dir());
    std::filesystem::create_directories(io_dir());
  }
  ~SkiffServer() { Stop(); }

  std::filesystem::path data_dir() const { return work_ / "data"; }
  std::filesystem::path kubeconfig() const { return work_ / "kubeconfig"; }
  std::filesystem::path cache_dir() const { return work_ / "kube-cache"; }
  std::filesystem::path io_dir() const { return work_ / "io"; }
  const std::string& url() const { return url_; }

  // Starts the server and waits (up to `timeout`) for its ready line. Returns an error message, or
  // "" once it is serving.
  std::string Start(milliseconds timeout = milliseconds(30000)) {
    url_.clear();
    proc_ = Process::Start(UpArgv(), io_dir());
    static const std::regex kReady(R"(skiff is ready at (\S+))");
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      std::smatch m;
      const std::string out = proc_.out();
      if (std::regex_search(out, m, kReady)) {
        url_ = m[1];
        return "";
      }
      if (!proc_.running()) {
        return "skiff up exited with " + std::to_string(proc_.exit_code()) +
               " before it was ready; stderr:\n" + proc_.err();
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    proc_.Kill(SIGKILL);
    return "skiff up printed no ready line within " + std::to_string(timeout.count()) +
           " ms; stdout:\n" + proc_.out() + "\nstderr:\n" + proc_.err();
  }

  // `--data-dir` goes before the subcommand: it is an option of `skiff` itself.
  std::vector<std::string> UpArgv() const {
    return {Binary(),
            "--data-dir",
            data_dir().string(),
            "up",
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--write-kubeconfig",
            kubeconfig().string()};
  }

  // SIGTERM, then SIGKILL after `grace`. Returns the exit code (128+signal when killed).
  int Stop(milliseconds grace = milliseconds(10000)) {
    if (!proc_.running()) return proc_.exit_code();
    proc_.Kill(SIGTERM);
    if (!proc_.Wait(grace)) proc_.Kill(SIGKILL);
    return proc_.exit_code();
  }

  // kill -9: no chance to flush or close anything.
  void Crash() { proc_.Kill(SIGKILL); }

  bool running() { return proc_.running(); }
  std::string log() const { return proc_.err(); }

  // The skiff under test: SKIFF_BINARY from the build, or $SKIFF_E2E_BINARY when set.
  static std::string Binary() {
    const char* override_path = std::getenv("SKIFF_E2E_BINARY");
    return override_path && *override_path ? override_path : SKIFF_BINARY;
  }

  std::vector<std::string> KubectlArgv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"kubectl", "--kubeconfig", kubeconfig().string(),
                                     "--cache-dir", cache_dir().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Environment for tools that read the kubeconfig themselves (python client, shell steps).
  std::vector<std::string> ToolEnv() const {
    return {"KUBECONFIG=" + kubeconfig().string(), "SKIFF_URL=" + url_,
            "SKIFF_DATA_DIR=" + data_dir().string()};
  }

  ProcessResult Kubectl(const std::vector<std::string>& args, const std::string& stdin_text = "",
                        milliseconds timeout = milliseconds(30000)) const {
    return RunProcess(KubectlArgv(args), io_dir(), timeout, stdin_text, ToolEnv());
  }

  Process StartKubectl(const std::vector<std::string>& args) const {
    return Process::Start(KubectlArgv(args), io_dir(), "", ToolEnv());
  }

 private:
  std::filesystem::path work_;
  Process proc_;
  std::string url_;
};

}  // namespace skiff::e2e

// skiff-ml training throughput on Fashion-MNIST next to PyTorch (bench/ml_torch_ref.py, the same
// models, 2 threads, batch 64, SGD momentum, OPENBLAS_NUM_THREADS=1): samples/s per epoch and test
// accuracy for the MLP and the CNN, then 1 vs 2 data-parallel replicas on 127.0.0.1.
// Usage: ml_bench [path/to/skiff-ml] [--epochs N] [--reps N]
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/net.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using skiff::Json;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs argv with extra env, stdout to `out`, stderr to `out`.err; returns the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
            const fs::path& out) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<std::string> e;
  for (char** p = environ; *p; ++p) {
    std::string kv = *p;
    if (!env.count(kv.substr(0, kv.find('=')))) e.push_back(kv);
  }
  for (const auto& [k, v] : env) e.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : e) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string o = out.string(), err = out.string() + ".err";
  posix_spawn_file_actions_addopen(&fa, 1, o.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

bool Wait(pid_t pid, const fs::path& out) {
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return false;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::fprintf(stderr, "ml_bench: command failed; stderr:\n%s\n",
               Slurp(out.string() + ".err").c_str());
  return false;
}

bool Run(const std::vector<std::string>& args, const fs::path& out,
         const std::map<std::string, std::string>& env = {}) {
  return Wait(Spawn(args, env, out), out);
}

struct Figures {
  std::vector<double> samples_per_s;  // one per epoch
  double test_accuracy = -1;
  double Best() const {
    return samples_per_s.empty() ? 0
                                 : *std::max_element(samples_per_s.begin(), samples_per_s.end());
  }
};

std::string List(const std::vector<double>& v) {
  std::string s;
  for (double x : v) s += (s.empty() ? "" : " ") + std::to_string(static_cast<long>(x));
  return s;
}

std::optional<Figures> SkiffRun(const std::string& bin, const fs::path& dir,
                                const std::string& data, const std::string& model, int epochs) {
  fs::path metrics = dir / (model + "-metrics.json"), out = dir / (model + ".out");
  fs::remove_all(dir / (model + "-model"));
  if (!Run({bin,
            "train",
            "--data",
            data,
            "--model",
            model,
            "--epochs",
            std::to_string(epochs),
            "--batch-size",
            "64",
            "--lr",
            "0.01",
            "--momentum",
            "0.9",
            "--threads",
            "2",
            "--out",
            (dir / (model + "-model")).string(),
            "--metrics-file",
            metrics.string()},
           out)) {
    return std::nullopt;
  }
  Figures f;
  Json m = Json::parse(Slurp(metrics));
  for (const auto& e : m["epochs"]) {
    f.samples_per_s.push_back(e["samplesPerSecond"]);
  }
  fs::path ev = dir / (model + "-eval.json");
  if (Run({bin, "evaluate", "--model", (dir / (model + "-model")).string(), "--data", data,
           "--metrics-file", ev.string()},
          dir / (model + "-eval.out"))) {
    f.test_accuracy = Json::parse(Slurp(ev))["accuracy"];
  }
  return f;
}

std::optional<Figures> TorchRun(const fs::path& script, const fs::path& dir,
                                const std::string& model, int epochs) {
  fs::path out = dir / ("torch-" + model + ".out");
  if (!Run({"/usr/bin/python3", script.string(), "--model", model, "--epochs",
            std::to_string(epochs), "--threads", "2", "--lr", "0.01"},
           out, {{"OPENBLAS_NUM_THREADS", "1"}})) {
    return std::nullopt;
  }
  Figures f;
  std::regex line(R"(samples_per_s=([0-9.]+) .*test_acc=([0-9.]+))");
  std::string text = Slurp(out);
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    f.samples_per_s.push_back(std::stod((*it)[1]));
    f.test_accuracy = std::stod((*it)[2]);
  }
  return f;
}

// Aggregate samples/s of `world` local replicas with `threads` each on the first `limit` rows.
double Replicas(const std::string& bin, const fs::path& dir, const std::string& data, int world,
                int threads, int limit) {
  std::string port = std::to_string(skiff::FreeLoopbackPort());
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    std::map<std::string, std::string> env;
    if (world > 1) {
      env = {{"WORLD_SIZE", std::to_string(world)},
             {"RANK", std::to_string(r)},
             {"MASTER_ADDR", "127.0.0.1"},
             {"MASTER_PORT", port}};
    }
    pids.push_back(Spawn({bin, "train", "--data", data, "--model", "cnn", "--epochs", "1",
                          "--limit", std::to_string(limit), "--threads", std::to_string(threads),
                          "--metrics-file", (dir / ("rep" + std::to_string(r) + ".json")).string()},
                         env, dir / ("rep" + std::to_string(r) + ".out")));
  }
  bool ok = true;
  for (int r = 0; r < world; ++r) ok &= Wait(pids[r], dir / ("rep" + std::to_string(r) + ".out"));
  if (!ok) return 0;
  return Json::parse(Slurp(dir / "rep0.json"))["epochs"][0]["samplesPerSecond"];
}

}  // namespace

int main(int argc, char** argv) {
  fs::path self = fs::canonical("/proc/self/exe");
  std::string bin = (self.parent_path().parent_path() / "bin" / "skiff-ml").string();
  int epochs = 2, reps = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--epochs" && i + 1 < argc) {
      epochs = std::stoi(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else {
      bin = a;
    }
  }
  if (!fs::exists(bin)) {
    std::printf("ml_bench: %s not built; skipped\n", bin.c_str());
    return 0;
  }
  fs::path dir = fs::temp_directory_path() / ("skiff-ml-bench-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string data = (dir / "fashion-mnist").string();
  // All 60 000 training images, as the PyTorch reference trains on.
  if (!Run({bin, "prepare", "--out", data, "--validation-fraction", "0"}, dir / "prepare.out")) {
    std::printf("ml_bench: prepare failed (is dataset-fashion-mnist installed?)\n");
    return 1;
  }
  fs::path script = SKIFF_ML_TORCH_REF;
  bool have_torch =
      fs::exists(script) && Run({"/usr/bin/python3", "-c", "import torch"}, dir / "probe.out");
  if (!have_torch) std::printf("PyTorch reference skipped: python3-torch is not installed\n");

  std::printf(
      "Fashion-MNIST, 60000 train images, batch 64, SGD momentum 0.9, lr 0.01, 2 threads, "
      "%d epoch(s), best epoch of %d run(s)\n",
      epochs, reps);
  std::printf("%-5s %14s %14s %7s %7s  %9s %9s\n", "model", "skiff samples/s", "torch samples/s",
              "ratio", "target", "skiff acc", "torch acc");
  int failures = 0;
  for (const std::string model : {"mlp", "cnn"}) {
    Figures best_s, best_t;
    for (int r = 0; r < reps; ++r) {
      // Interleaved so load from other tenants hits both sides alike.
      auto s = SkiffRun(bin, dir, data, model, epochs);
      if (!s) {
        ++failures;
        continue;
      }
      if (s->Best() > best_s.Best()) best_s = *s;
      if (have_torch) {
        auto t = TorchRun(script, dir, model, epochs);
        if (t && t->Best() > best_t.Best()) best_t = *t;
      }
    }
    double target = model == "mlp" ? 1.2 : 1.0;
    double ratio = best_t.Best() > 0 ? best_s.Best() / best_t.Best() : 0;
    std::printf("%-5s %15.0f %15.0f %6.2fx %6.1fx  %9.4f %9.4f   (epochs: skiff %s | torch %s)\n",
                model.c_str(), best_s.Best(), best_t.Best(), ratio, target, best_s.test_accuracy,
                best_t.test_accuracy, List(best_s.samples_per_s).c_str(),
                List(best_t.samples_per_s).c_str());
  }

  // Data parallelism on one machine: two processes with one thread each against one process.
  const int limit = 20000;
  double one_1 = Replicas(bin, dir, data, 1, 1, limit);
  double one_2 = Replicas(bin, dir, data, 1, 2, limit);
  double two_1 = Replicas(bin, dir, data, 2, 1, limit);
  std::printf("\nCNN data parallel, %d images, 1 epoch (aggregate samples/s):\n", limit);
  std::printf("  1 replica  x 1 thread : %8.0f\n", one_1);
  std::printf("  1 replica  x 2 threads: %8.0f\n", one_2);
  std::printf("  2 replicas x 1 thread : %8.0f  (%.2fx of 1x1; gloo all-reduce on 127.0.0.1)\n",
              two_1, one_1 > 0 ? two_1 / one_1 : 0);
  fs::remove_all(dir);
  return failures ? 1 : 0;
}

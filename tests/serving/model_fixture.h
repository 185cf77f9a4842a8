// Shared by the serving tests that run real processes: spawning skiff-ml / skiff-model-server /
// skiff-model-sidecar with their output in a log file, waiting for a "listening on" line, and
// reading the test split of a prepared Fashion-MNIST slice.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"

extern char** environ;

namespace skiff::serving::testing {

namespace fs = std::filesystem;

inline std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Starts `args` with stdout and stderr into `log`; -1 when it cannot start.
inline pid_t Spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> a = args;
  std::vector<char*> argv;
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Runs `args` to the end; its exit code (128 + signal when killed), -1 when it cannot start.
inline int RunToEnd(const std::vector<std::string>& args, const fs::path& log) {
  pid_t pid = Spawn(args, log);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Waits up to 60 s for `log` to contain `ready` and a "listening on 127.0.0.1:PORT"; the port, or
// 0 when the process exited or never got there.
inline uint16_t WaitListening(pid_t pid, const fs::path& log, const std::string& ready) {
  for (int i = 0; i < 600; ++i) {
    std::string text = Slurp(log);
    std::smatch m;
    if (text.find(ready) != std::string::npos &&
        std::regex_search(text, m, std::regex("listening on 127\\.0\\.0\\.1:(\\d+)"))) {
      return static_cast<uint16_t>(std::stoi(m[1]));
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

// Runs `skiff-ml <args>` with its output in dir/<tag>.log; appends "<tag> failed: <log>" to
// `error` and returns false when it fails.
inline bool RunSkiffMl(const fs::path& dir, const std::string& tag, std::vector<std::string> args,
                       std::string* error) {
  args.insert(args.begin(), SKIFF_ML);
  if (RunToEnd(args, dir / (tag + ".log")) == 0) return true;
  *error += tag + " failed: " + Slurp(dir / (tag + ".log"));
  return false;
}

// A tiny Fashion-MNIST MLP in seconds: the first `limit` images prepared into dir/data and one
// epoch trained into `model_dir`. Accuracy does not matter to the serving tests, equality does.
inline bool TrainTinyMlp(const fs::path& dir, const fs::path& model_dir, int limit,
                         std::string* error) {
  return RunSkiffMl(dir, "prepare",
                    {"prepare", "--out", (dir / "data").string(), "--limit", std::to_string(limit)},
                    error) &&
         RunSkiffMl(dir, "train",
                    {"train", "--data", (dir / "data").string(), "--out", model_dir.string(),
                     "--model", "mlp", "--epochs", "1", "--threads", "1"},
                    error);
}

// SIGTERM, then waits: true when the process drained and exited 0 (the servers' contract).
inline bool StopsCleanly(pid_t pid) {
  if (pid <= 0) return false;
  kill(pid, SIGTERM);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Test images of a prepared slice: raw pixels (0-255) as floats, and labels.
struct Images {
  int64_t count = 0;
  std::vector<float> x;  // count x 784
  std::vector<int32_t> y;
};

inline Images ReadTestSplit(const fs::path& data_dir) {
  std::string bin = Slurp(data_dir / "test.bin");
  Images im;
  if (bin.size() < 24) return im;
  uint64_t count;
  uint32_t features, dtype;
  std::memcpy(&count, bin.data() + 8, 8);
  std::memcpy(&features, bin.data() + 16, 4);
  std::memcpy(&dtype, bin.data() + 20, 4);
  if (features != 784 || dtype != 1) return im;  // uint8 pixels of 28 x 28 images only
  im.count = static_cast<int64_t>(count);
  const auto* px = reinterpret_cast<const uint8_t*>(bin.data() + 24);
  im.x.assign(px, px + count * features);
  im.y.resize(count);
  std::memcpy(im.y.data(), bin.data() + 24 + count * features, count * 4);
  return im;
}

inline std::string FloatsJson(const float* v, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ",";
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", v[i]);
    s += buf;
  }
  return s + "]";
}

inline std::vector<float> JsonFloats(const Json& j) {
  std::vector<float> v;
  for (const auto& x : j) v.push_back(x.get<float>());
  return v;
}

}  // namespace skiff::serving::testing

// Pod start figures of the real `skiff up` over HTTPS: create → Running and create → Succeeded
// latency of Pods running `true` (sandboxed with bubblewrap, and plain processes), and the
// throughput of 1 000 short Pods, each next to the cost of a bare fork/exec of `true` (the limit
// no Pod start can beat) and of `bwrap ... true` (the sandbox's own floor).
// Usage: pod_bench [path/to/skiff]
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/json.h"

extern char** environ;

namespace {

using namespace skiff::bench;
using skiff::Json;

constexpr int kLatencyPods = 50;
constexpr int kRunningPods = 20;
constexpr int kThroughputPods = 1000;
constexpr int kThroughputClients = 4;
constexpr const char* kNs = "bench";

// Median and p99 in ms of `argv` run to completion `n` times with posix_spawn + waitpid.
std::pair<double, double> SpawnCost(const std::vector<std::string>& args, int n) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    pid_t pid;
    if (posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return {-1, -1};
    int status;
    waitpid(pid, &status, 0);
    samples.push_back(Ms(Clock::now() - t0));
  }
  double p99 = Quantile(samples, 0.99);
  return {Median(samples), p99};
}

// Follows the bench namespace's Pods and remembers when each was first seen Running and
// Succeeded (or Failed), on the bench's clock.
class PodWatcher {
 public:
  struct Times {
    Clock::time_point bound, running, done;
    bool has_bound = false, has_running = false, has_done = false;
    std::string phase;
  };

  explicit PodWatcher(const Skiff& s) : skiff_(s) {}
  ~PodWatcher() { Stop(); }

  void Start(const std::string& resource_version) {
    thread_ = std::thread([this, resource_version] { Run(resource_version); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // Waits until `name` reaches `running` (or done); false on timeout.
  bool Wait(const std::string& name, bool want_done, Times* out,
            std::chrono::seconds timeout = std::chrono::seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = cv_.wait_for(lock, timeout, [&] {
      auto it = times_.find(name);
      return it != times_.end() &&
             (want_done ? it->second.has_done : it->second.has_running || it->second.has_done);
    });
    if (ok) *out = times_[name];
    return ok;
  }

  size_t DoneCount() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  bool WaitDone(size_t n, std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_ >= n; });
  }
  Clock::time_point last_done() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_done_;
  }

 private:
  void Run(const std::string& rv) {
    auto client = skiff_.NewClient();
    std::string buffer;
    auto req = skiff_.Get(std::string("/api/v1/namespaces/") + kNs +
                          "/pods?watch=1&resourceVersion=" + rv);
    client->Stream(req, [&](std::string_view chunk) {
      buffer.append(chunk);
      size_t nl;
      while ((nl = buffer.find('\n')) != std::string::npos) {
        Handle(buffer.substr(0, nl));
        buffer.erase(0, nl + 1);
      }
      return !stop_.load();
    });
  }

  void Handle(const std::string& line) {
    const auto now = Clock::now();
    Json ev = Json::parse(line, nullptr, false);
    if (ev.is_discarded() || !ev.contains("object")) return;
    const Json& pod = ev["object"];
    const std::string name = pod["metadata"].value("name", "");
    std::string phase;
    if (pod.contains("status")) phase = pod["status"].value("phase", "");
    if (trace_) {
      // POD_BENCH_TRACE=1: every event, so a slow step shows where the time goes.
      std::string state;
      if (const Json* cs = skiff::FindPath(pod, "status.containerStatuses"); cs && cs->is_array()) {
        for (const Json& c : *cs) state += c.value("state", Json::object()).begin().key() + " ";
      }
      std::fprintf(stderr, "%10.3f %s %s rv=%s node=%s phase=%s containers=%s\n",
                   Ms(now.time_since_epoch()), ev.value("type", "").c_str(), name.c_str(),
                   pod["metadata"].value("resourceVersion", "").c_str(),
                   pod["spec"].value("nodeName", "").c_str(), phase.c_str(), state.c_str());
    }
    std::lock_guard<std::mutex> lock(mu_);
    Times& t = times_[name];
    t.phase = phase;
    if (!t.has_bound && !pod["spec"].value("nodeName", "").empty()) {
      t.bound = now;
      t.has_bound = true;
    }
    if (phase == "Running" && !t.has_running) {
      t.running = now;
      t.has_running = true;
    }
    if ((phase == "Succeeded" || phase == "Failed") && !t.has_done) {
      t.done = now;
      t.has_done = true;
      ++done_;
      last_done_ = now;
    }
    cv_.notify_all();
  }

  const Skiff& skiff_;
  const bool trace_ = std::getenv("POD_BENCH_TRACE") != nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Times> times_;
  size_t done_ = 0;
  Clock::time_point last_done_;
};

Json PodManifest(const std::string& name, bool sandboxed, std::vector<std::string> command) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", kNs}}},
              {"spec",
               {{"restartPolicy", "Never"},
                {"terminationGracePeriodSeconds", 0},
                {"containers",
                 Json::array({{{"name", "main"}, {"image", "busybox"}, {"command", command}}})}}}};
  if (!sandboxed) pod["metadata"]["annotations"] = {{"skiff.io/sandbox", "none"}};
  return pod;
}

bool Create(skiff::http::Client* c, const Skiff& s, const Json& pod) {
  auto r = c->Do(s.Req("POST", std::string("/api/v1/namespaces/") + kNs + "/pods", pod.dump()));
  if (!r.ok() || r->status != 201) {
    std::fprintf(stderr, "create %s: %s\n", pod["metadata"]["name"].get<std::string>().c_str(),
                 r.ok() ? r->body.c_str() : r.status().ToString().c_str());
    return false;
  }
  return true;
}

void DeleteAll(skiff::http::Client* c, const Skiff& s) {
  c->Do(
      s.Req("DELETE", std::string("/api/v1/namespaces/") + kNs + "/pods?gracePeriodSeconds=0", ""));
}

struct Latency {
  double p50 = -1, p99 = -1;
  double bind_p50 = -1;  // create -> spec.nodeName seen (the scheduler's share)
  int failed = 0;
};

// Creates `n` Pods one after another and measures create → Running or → done.
Latency Sequential(const Skiff& s, PodWatcher& w, const std::string& prefix, bool sandboxed,
                   bool until_done, std::vector<std::string> command) {
  auto c = s.NewClient();
  std::vector<double> samples, bind;
  Latency out;
  const int n = until_done ? kLatencyPods : kRunningPods;
  for (int i = 0; i < n; ++i) {
    const std::string name = prefix + "-" + std::to_string(i);
    const auto t0 = Clock::now();
    if (std::getenv("POD_BENCH_TRACE")) {
      std::fprintf(stderr, "%10.3f CREATE %s\n", Ms(t0.time_since_epoch()), name.c_str());
    }
    if (!Create(c.get(), s, PodManifest(name, sandboxed, command))) {
      ++out.failed;
      continue;
    }
    PodWatcher::Times t;
    if (!w.Wait(name, until_done, &t)) {
      std::fprintf(stderr, "pod %s did not reach %s within 30 s\n", name.c_str(),
                   until_done ? "Succeeded" : "Running");
      ++out.failed;
      continue;
    }
    if (until_done && t.phase != "Succeeded") ++out.failed;
    samples.push_back(Ms((until_done ? t.done : (t.has_running ? t.running : t.done)) - t0));
    if (t.has_bound) bind.push_back(Ms(t.bound - t0));
  }
  out.bind_p50 = Median(bind);
  out.p99 = Quantile(samples, 0.99);
  out.p50 = Median(samples);
  DeleteAll(c.get(), s);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string binary = argc > 1 ? argv[1] : "../bin/skiff";
  std::printf("pod_bench: %s\n\n", binary.c_str());

  const auto bare = SpawnCost({"true"}, 200);
  const auto bwrap = SpawnCost({"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                                "--tmpfs", "/tmp", "--unshare-pid", "true"},
                               100);

  const std::string dir = MakeTempDir("skiff-pod-bench");
  Skiff s(binary, dir);
  if (!s.Start()) return 1;
  auto c = s.NewClient();
  // The node agent registers its Node; wait for it to be Ready.
  bool ready = false;
  for (int i = 0; i < 300 && !ready; ++i) {
    auto r = c->Do(s.Get("/api/v1/nodes"));
    ready = r.ok() && r->status == 200 && r->body.find("\"KubeletReady\"") != std::string::npos;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!ready) {
    std::fprintf(stderr, "no Ready node within 6 s\n");
    return 1;
  }
  Json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}};
  auto created = c->Do(s.Req("POST", "/api/v1/namespaces", ns.dump()));
  if (!created.ok() || created->status != 201) {
    std::fprintf(stderr, "create namespace failed\n");
    return 1;
  }
  const std::string rv = Json::parse(created->body)["metadata"]["resourceVersion"];
  PodWatcher w(s);
  w.Start(rv);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the watch is established

  // Warm-up: the first Pod pays for loading the image catalog and probing the sandbox.
  Sequential(s, w, "warm", true, true, {"true"});

  const Latency sand_done = Sequential(s, w, "sand", true, true, {"true"});
  const Latency plain_done = Sequential(s, w, "plain", false, true, {"true"});
  const Latency sand_run = Sequential(s, w, "sandrun", true, false, {"sleep", "30"});
  const Latency plain_run = Sequential(s, w, "plainrun", false, false, {"sleep", "30"});

  // Throughput: 1 000 `true` Pods from 4 clients; from the first create to the last Succeeded.
  const size_t done_before = w.DoneCount();
  std::atomic<int> next{0}, create_failures{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> clients;
  for (int k = 0; k < kThroughputClients; ++k) {
    clients.emplace_back([&] {
      auto cc = s.NewClient();
      for (int i; (i = next++) < kThroughputPods;) {
        if (!Create(cc.get(), s, PodManifest("tp-" + std::to_string(i), true, {"true"}))) {
          ++create_failures;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const double create_s = Ms(Clock::now() - t0) / 1000;
  const bool all_done =
      w.WaitDone(done_before + kThroughputPods - create_failures, std::chrono::seconds(300));
  const double total_s = Ms(w.last_done() - t0) / 1000;
  const Rss rss = ReadRss(s.pid());
  DeleteAll(c.get(), s);
  const int stop_status = s.Stop();  // ends the watch stream too
  w.Stop();
  if (std::getenv("POD_BENCH_TRACE")) {
    std::fprintf(stderr, "kept %s (skiff.log has the server's side)\n", dir.c_str());
  } else {
    std::filesystem::remove_all(dir);
  }

  auto row = [](const char* what, const Latency& l, const char* target) {
    std::printf("| %-44s | %7.2f / %7.2f ms | %-3d | %s (of which bind p50 %.2f ms) |\n", what,
                l.p50, l.p99, l.failed, target, l.bind_p50);
  };
  std::printf("| %-44s | %-22s | %-3s | %s |\n", "figure", "p50 / p99", "err", "limit / target");
  std::printf("|---|---|---|---|\n");
  std::printf("| %-44s | %7.2f / %7.2f ms | %-3s | %s |\n", "bare posix_spawn + waitpid of `true`",
              bare.first, bare.second, "", "the limit");
  std::printf("| %-44s | %7.2f / %7.2f ms | %-3s | %s |\n", "bare `bwrap ... true`", bwrap.first,
              bwrap.second, "", "the sandbox's floor");
  row("sandboxed Pod `true`: create -> Succeeded", sand_done, "target p50 < 20 ms");
  row("plain Pod `true`: create -> Succeeded", plain_done, "target p50 < 5 ms");
  row("sandboxed Pod `sleep`: create -> Running", sand_run, "");
  row("plain Pod `sleep`: create -> Running", plain_run, "");
  std::printf("\nratios to bare fork/exec (p50): sandboxed %.1fx (%.1fx of bwrap), plain %.1fx\n",
              sand_done.p50 / bare.first, sand_done.p50 / bwrap.first, plain_done.p50 / bare.first);
  std::printf(
      "throughput: %d sandboxed `true` Pods from %d clients: created in %.2f s, all "
      "Succeeded after %.2f s = %.0f Pods/s%s (bare fork/exec: %.0f/s)\n",
      kThroughputPods, kThroughputClients, create_s, total_s,
      kThroughputPods / std::max(total_s, 1e-9), all_done ? "" : " (NOT all finished)",
      1000.0 / bare.first);
  std::printf("server RSS after the run: %.1f MiB (peak %.1f MiB)\n", rss.rss, rss.hwm);
  const bool ok = all_done && create_failures == 0 && sand_done.failed == 0 &&
                  plain_done.failed == 0 && WIFEXITED(stop_status) && WEXITSTATUS(stop_status) == 0;
  if (!ok) std::fprintf(stderr, "pod_bench: some Pods failed or skiff did not stop cleanly\n");
  return ok ? 0 : 1;
}

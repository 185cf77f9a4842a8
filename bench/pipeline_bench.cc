// Pipeline figures of the real `skiff up`: a 1 000-task diamond (1 -> 998 parallel -> 1) and a
// 200-step chain of `true` tasks, each one PipelineRun of KFP IR timed from its create to the watch
// event that says SUCCEEDED, with plain-process and bubblewrap task Pods, next to the same DAGs
// run by ninja and snakemake and to a bare fork/exec of `true`.
// Usage: pipeline_bench [path/to/skiff]
// Environment: PIPELINE_BENCH_REPEATS (default 3); PIPELINE_BENCH_TRACE=1 prints each run's
// progress, phases and event counts; PIPELINE_BENCH_KEEP=1 keeps the data dirs.
#include <spawn.h>
#include <sys/wait.h>

#include <condition_variable>
#include <cstdio>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "common/json.h"

extern char** environ;

namespace {

using namespace skiff::bench;
using skiff::Json;

constexpr int kDiamondTasks = 1000;  // 1 -> 998 -> 1
constexpr int kChainSteps = 200;
constexpr const char* kNs = "default";
constexpr const char* kRunsPath = "/apis/kubeflow.org/v2beta1/namespaces/default/pipelineruns";

enum class Shape { kDiamond, kChain };

int Tasks(Shape s) { return s == Shape::kDiamond ? kDiamondTasks : kChainSteps; }

// Runs `args` to completion with stdout and stderr to /dev/null (or to `log`); returns the wall
// time in ms, or -1 when it cannot start or exits non-zero.
double TimeCommand(const std::vector<std::string>& args, const std::string& log = "/dev/null") {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const auto t0 = Clock::now();
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  const double ms = Ms(Clock::now() - t0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

// Median in ms of a bare posix_spawn + waitpid of `true`: the cost of one process, the limit.
double ForkExecTrue(int n) {
  char* argv[] = {const_cast<char*>("true"), nullptr};
  std::vector<double> samples;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    pid_t pid;
    if (posix_spawnp(&pid, "true", nullptr, nullptr, argv, environ) != 0) return -1;
    int status;
    waitpid(pid, &status, 0);
    samples.push_back(Ms(Clock::now() - t0));
  }
  return Median(samples);
}

// ---- skiff --------------------------------------------------------------------------------

// A pipeline of `tasks` (task key -> IR task) whose tasks all use one component: `true` in alpine.
// For plain Pods the kfp-kubernetes platform spec puts the sandbox opt-out on each task Pod, as a
// KFP user would put any Pod annotation there.
Json Ir(const std::string& name, Json tasks, bool sandboxed) {
  Json ir{{"pipelineInfo", {{"name", name}}},
          {"schemaVersion", "2.1.0"},
          {"components", {{"comp-true", {{"executorLabel", "exec-true"}}}}},
          {"deploymentSpec",
           {{"executors",
             {{"exec-true",
               {{"container", {{"image", "alpine"}, {"command", Json::array({"true"})}}}}}}}}},
          {"root", {{"dag", {{"tasks", std::move(tasks)}}}}}};
  if (!sandboxed) {
    ir["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-true"]["podMetadata"]
      ["annotations"] = {{"skiff.io/sandbox", "none"}};
  }
  return ir;
}

Json Task(const std::vector<std::string>& deps) {
  Json t{{"componentRef", {{"name", "comp-true"}}}};
  if (!deps.empty()) t["dependentTasks"] = deps;
  return t;
}

Json PipelineIr(Shape shape, bool sandboxed) {
  Json tasks = Json::object();
  if (shape == Shape::kDiamond) {
    std::vector<std::string> middle;
    tasks["start"] = Task({});
    for (int i = 0; i < kDiamondTasks - 2; ++i) {
      middle.push_back("mid-" + std::to_string(i));
      tasks[middle.back()] = Task({"start"});
    }
    tasks["end"] = Task(middle);
    return Ir("diamond", std::move(tasks), sandboxed);
  }
  tasks["step-0"] = Task({});
  for (int i = 1; i < kChainSteps; ++i) {
    tasks["step-" + std::to_string(i)] = Task({"step-" + std::to_string(i - 1)});
  }
  return Ir("chain", std::move(tasks), sandboxed);
}

// The server's CPU time so far (its threads; reaped children separately), in ms.
struct Cpu {
  double self = 0, children = 0;
};
Cpu ReadCpu(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  Cpu c;
  if (paren == std::string::npos) return c;
  std::istringstream in(stat.substr(paren + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(in), {}};
  if (f.size() < 15) return c;
  const double tick = 1000.0 / sysconf(_SC_CLK_TCK);
  // Fields 14-17 of stat (utime, stime, cutime, cstime) are 11-14 after the state field.
  c.self = (std::atof(f[11].c_str()) + std::atof(f[12].c_str())) * tick;
  c.children = (std::atof(f[13].c_str()) + std::atof(f[14].c_str())) * tick;
  return c;
}

// Follows the task Pods of every run (from one resourceVersion on) and notes when each was first
// seen created and Succeeded, on the bench's clock: it splits a run's wall time into the engine's
// share and the Pods' share.
class PodWatcher {
 public:
  struct Times {
    Clock::time_point added, succeeded;
    bool has_succeeded = false;
  };

  explicit PodWatcher(const Skiff& s) : skiff_(s) {}
  ~PodWatcher() { Join(); }

  void Start(const std::string& resource_version) {
    thread_ = std::thread([this, resource_version] { Run(resource_version); });
  }
  // The stream ends when skiff stops.
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  // The Pod of task `task` of run `run`, if one was seen.
  std::optional<Times> Find(const std::string& run, const std::string& task) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = times_.find(run + "/" + task);
    if (it == times_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void Run(const std::string& rv) {
    auto client = skiff_.NewClient();
    std::string buffer;
    client->Stream(skiff_.Get(std::string("/api/v1/namespaces/") + kNs +
                              "/pods?watch=1&resourceVersion=" + rv),
                   [&](std::string_view chunk) {
                     buffer.append(chunk);
                     size_t start = 0, nl;
                     while ((nl = buffer.find('\n', start)) != std::string::npos) {
                       Handle(std::string_view(buffer).substr(start, nl - start));
                       start = nl + 1;
                     }
                     buffer.erase(0, start);
                     return true;
                   });
  }

  void Handle(std::string_view line) {
    const auto now = Clock::now();
    Json ev = Json::parse(line, nullptr, false);
    if (ev.is_discarded()) return;
    const Json* run = skiff::FindPath(ev, "object.metadata.labels");
    const Json* task = skiff::FindPath(ev, "object.metadata.annotations");
    if (!run || !task || !run->contains("pipelines.kubeflow.org/run") ||
        !task->contains("pipelines.kubeflow.org/task-id")) {
      return;
    }
    const std::string key = (*run)["pipelines.kubeflow.org/run"].get<std::string>() + "/" +
                            (*task)["pipelines.kubeflow.org/task-id"].get<std::string>();
    const Json* phase = skiff::FindPath(ev, "object.status.phase");
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, added] = times_.try_emplace(key);
    if (added) it->second.added = now;
    if (phase && *phase == "Succeeded" && !it->second.has_succeeded) {
      it->second.succeeded = now;
      it->second.has_succeeded = true;
    }
  }

  const Skiff& skiff_;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, Times> times_;
};

// Follows one PipelineRun's watch events until its status has a completionTime. Every status
// write of the run is one event carrying the whole run (all task entries), so the lines are only
// scanned for two keys; the final one is parsed.
class RunWatcher {
 public:
  struct Point {
    double ms;  // since the create was sent
    std::string progress;
  };

  RunWatcher(const Skiff& s, Clock::time_point t0, std::string name)
      : skiff_(s), t0_(t0), name_(std::move(name)) {}
  // An unfinished run's stream ends at its next event or the client's read timeout.
  ~RunWatcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    Join();
  }

  void Start(const std::string& resource_version) {
    thread_ = std::thread([this, resource_version] { Run(resource_version); });
  }

  // Waits for the run to complete; false on timeout or when the stream ends first.
  bool Wait(std::chrono::seconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_ || ended_; }) && done_;
  }
  // After Wait: join the stream's thread (it stops at the completion event or when skiff stops).
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  double done_ms() const { return done_ms_; }
  const std::string& state() const { return state_; }
  const std::vector<Point>& points() const { return points_; }
  size_t events() const { return points_.size(); }
  double last_bytes() const { return last_bytes_; }

 private:
  void Run(const std::string& rv) {
    auto client = skiff_.NewClient();
    std::string buffer;
    size_t scanned = 0;
    client->Stream(
        skiff_.Get(std::string(kRunsPath) + "?watch=1&resourceVersion=" + rv),
        [&](std::string_view chunk) {
          buffer.append(chunk);
          size_t start = 0, nl;
          while ((nl = buffer.find('\n', std::max(start, scanned))) != std::string::npos) {
            Handle(std::string_view(buffer).substr(start, nl - start));
            start = nl + 1;
          }
          buffer.erase(0, start);
          scanned = buffer.size();
          std::lock_guard<std::mutex> lock(mu_);
          return !done_ && !stop_;
        });
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  void Handle(std::string_view line) {
    const double now = Ms(Clock::now() - t0_);
    if (line.find("\"name\":\"" + name_ + "\"") == std::string_view::npos) return;
    last_bytes_ = line.size();
    std::string progress;
    constexpr std::string_view kProgress = "\"progress\":\"";
    if (size_t at = line.find(kProgress); at != std::string_view::npos) {
      at += kProgress.size();
      progress = std::string(line.substr(at, line.find('"', at) - at));
    }
    points_.push_back({now, progress});
    if (line.find("\"completionTime\"") == std::string_view::npos) return;
    Json ev = Json::parse(line, nullptr, false);
    const Json* state = ev.is_discarded() ? nullptr : skiff::FindPath(ev, "object.status.state");
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state && state->is_string() ? state->get<std::string>() : "?";
    done_ms_ = now;
    done_ = true;
    cv_.notify_all();
  }

  const Skiff& skiff_;
  const Clock::time_point t0_;
  const std::string name_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false, ended_ = false, stop_ = false;
  double done_ms_ = -1;
  std::string state_;
  std::vector<Point> points_;  // written by the stream's thread, read after Join
  double last_bytes_ = 0;
};

// One measured run: create -> SUCCEEDED wall time, what it cost the server, and where the time
// went (named phases in order, each in ms; see Phases).
struct RunResult {
  bool ok = false;
  double wall_ms = -1;
  double server_cpu_ms = 0, children_cpu_ms = 0;
  double status_writes = 0;
  double status_kib = 0;  // the run's size at its last status write
  std::vector<std::pair<std::string, double>> phases;
};

bool WaitNodeReady(const Skiff& s) {
  auto c = s.NewClient();
  for (int i = 0; i < 500; ++i) {
    auto r = c->Do(s.Get("/api/v1/nodes"));
    if (r.ok() && r->status == 200 && r->body.find("\"KubeletReady\"") != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::fprintf(stderr, "no Ready node within 10 s\n");
  return false;
}

// "done/total" -> done.
int DoneOf(const std::string& progress) { return std::atoi(progress.c_str()); }

// Splits a finished run's wall time with its task Pods' times (all on the bench's clock, t0 = the
// create). Diamond: create -> `start` Succeeded, the fan-out (-> the last middle Pod created), the
// middle Pods draining (-> the last one Succeeded), the fan-in (-> `end` created), `end` itself
// and the run's completion. Chain: per step, the engine's reaction (the previous Pod Succeeded ->
// this Pod created) and the Pod's own create -> Succeeded, medians over the steps, and the
// reaction's median over the first and the last 20 steps (growth with the run's size).
std::vector<std::pair<std::string, double>> Phases(Shape shape, const std::string& name,
                                                   Clock::time_point t0, double wall_ms,
                                                   PodWatcher& pods) {
  const int n = Tasks(shape);
  std::vector<std::string> ids;
  if (shape == Shape::kDiamond) {
    ids.push_back("start");
    for (int i = 0; i < kDiamondTasks - 2; ++i) ids.push_back("mid-" + std::to_string(i));
    ids.push_back("end");
  } else {
    for (int i = 0; i < n; ++i) ids.push_back("step-" + std::to_string(i));
  }
  // The Pod watch is a separate stream: give it a moment to catch up with the run's.
  std::vector<PodWatcher::Times> t;
  for (int attempt = 0; attempt < 100 && t.size() < ids.size(); ++attempt) {
    t.clear();
    for (const auto& id : ids) {
      auto found = pods.Find(name, id);
      if (!found || !found->has_succeeded) break;
      t.push_back(*found);
    }
    if (t.size() < ids.size()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (t.size() < ids.size()) {
    std::fprintf(stderr, "%s: only %zu of %zu task Pods seen Succeeded\n", name.c_str(), t.size(),
                 ids.size());
    return {};
  }
  auto at = [&](Clock::time_point p) { return Ms(p - t0); };
  if (shape == Shape::kDiamond) {
    double last_added = 0, last_done = 0;
    for (int i = 1; i < n - 1; ++i) {
      last_added = std::max(last_added, at(t[i].added));
      last_done = std::max(last_done, at(t[i].succeeded));
    }
    const double start_done = at(t[0].succeeded);
    return {{"create -> start Succeeded", start_done},
            {"fan-out: -> last of 998 Pods created", last_added - start_done},
            {"-> last of 998 Succeeded", last_done - last_added},
            {"fan-in: -> end Pod created", at(t[n - 1].added) - last_done},
            {"end Pod created -> Succeeded", at(t[n - 1].succeeded) - at(t[n - 1].added)},
            {"-> run SUCCEEDED seen", wall_ms - at(t[n - 1].succeeded)}};
  }
  std::vector<double> react, pod, react_first, react_last;
  for (int k = 1; k < n; ++k) {
    react.push_back(Ms(t[k].added - t[k - 1].succeeded));
    pod.push_back(Ms(t[k].succeeded - t[k].added));
    if (k <= 20) react_first.push_back(react.back());
    if (k >= n - 20) react_last.push_back(react.back());
  }
  return {{"step: Pod created -> Succeeded (median)", Median(pod)},
          {"step: engine, prev Succeeded -> next created (median)", Median(react)},
          {"  the same over steps 1-20", Median(react_first)},
          {"  the same over the last 20 steps", Median(react_last)},
          {"last Pod Succeeded -> run SUCCEEDED seen", wall_ms - at(t[n - 1].succeeded)}};
}

RunResult RunPipeline(const Skiff& s, const std::string& name, const Json& ir, Shape shape,
                      PodWatcher* pods) {
  RunResult out;
  Json run{{"apiVersion", "kubeflow.org/v2beta1"},
           {"kind", "PipelineRun"},
           {"metadata", {{"name", name}, {"namespace", kNs}}},
           {"spec", {{"pipelineSpec", ir}}}};
  const std::string body = run.dump();
  auto c = s.NewClient();
  const Cpu cpu0 = ReadCpu(s.pid());
  const auto t0 = Clock::now();
  auto created = c->Do(s.Req("POST", kRunsPath, body));
  if (!created.ok() || created->status != 201) {
    std::fprintf(stderr, "create PipelineRun %s: %s\n", name.c_str(),
                 created.ok() ? created->body.c_str() : created.status().ToString().c_str());
    return out;
  }
  const std::string rv = Json::parse(created->body)["metadata"]["resourceVersion"];
  RunWatcher w(s, t0, name);
  w.Start(rv);
  if (pods) pods->Start(rv);
  const bool finished = w.Wait(std::chrono::seconds(120));
  const Cpu cpu1 = ReadCpu(s.pid());
  if (!finished) {
    std::fprintf(stderr, "PipelineRun %s did not complete within 120 s\n", name.c_str());
    return out;  // the caller stops skiff, which ends the watch
  }
  w.Join();
  out.wall_ms = w.done_ms();
  out.ok = w.state() == "SUCCEEDED";
  if (!out.ok) {
    std::fprintf(stderr, "PipelineRun %s ended %s\n", name.c_str(), w.state().c_str());
  }
  out.server_cpu_ms = cpu1.self - cpu0.self;
  out.children_cpu_ms = cpu1.children - cpu0.children;
  out.status_writes = w.events();
  out.status_kib = w.last_bytes() / 1024;
  if (pods && out.ok) out.phases = Phases(shape, name, t0, out.wall_ms, *pods);
  if (std::getenv("PIPELINE_BENCH_TRACE")) {
    // Progress at each tenth of the tasks: where the run is slow (start-up, fan-out, fan-in).
    const int tasks = pods ? Tasks(shape) : 1;
    int next = 0;
    std::fprintf(stderr, "  %s:", name.c_str());
    for (const auto& p : w.points()) {
      if (DoneOf(p.progress) >= next) {
        std::fprintf(stderr, " %s@%.0fms", p.progress.c_str(), p.ms);
        next = DoneOf(p.progress) + std::max(1, tasks / 10);
      }
    }
    std::fprintf(stderr, " SUCCEEDED@%.0fms, %zu status writes\n", out.wall_ms, w.events());
    for (const auto& [what, ms] : out.phases) {
      std::fprintf(stderr, "    %s: %.1f ms\n", what.c_str(), ms);
    }
    // The namespace's events by reason: how many Pods went through FailedScheduling and the like.
    if (auto events = c->Do(s.Get(std::string("/api/v1/namespaces/") + kNs + "/events"));
        events.ok() && events->status == 200) {
      std::map<std::string, int64_t> reasons;
      const Json list = Json::parse(events->body, nullptr, false);
      const Json* items = list.is_object() ? skiff::FindPath(list, "items") : nullptr;
      for (const Json& e : items && items->is_array() ? *items : Json::array()) {
        reasons[e.value("reason", "?")] += e.value("count", int64_t{1});
      }
      std::fprintf(stderr, "    events so far:");
      for (const auto& [reason, count] : reasons) {
        std::fprintf(stderr, " %s %lld", reason.c_str(), static_cast<long long>(count));
      }
      std::fprintf(stderr, "\n");
    }
  }
  return out;
}

// Starts a fresh `skiff up`, warms it with a one-task run (the image catalog, the sandbox probe),
// measures one run of `shape`, stops it. A fresh server per run keeps runs from paying for the
// Pods an earlier run left behind.
RunResult MeasureOnce(const std::string& binary, Shape shape, bool sandboxed, int rep,
                      int* stop_failures) {
  const std::string dir = MakeTempDir("skiff-pipeline-bench");
  RunResult r;
  {
    // The 998 middle Pods fit the node at once (the kubelet's default is 110): the bench measures
    // the engine and the Pod path, not a queue behind the node's capacity.
    Skiff s(binary, dir, {"--max-pods", "1024"});
    PodWatcher pods(s);
    if (s.Start() && WaitNodeReady(s)) {
      const Json warm = Ir("warm", {{"warm", Task({})}}, sandboxed);
      if (RunPipeline(s, "warm", warm, shape, nullptr).ok) {
        const std::string name = std::string(shape == Shape::kDiamond ? "diamond" : "chain") +
                                 (sandboxed ? "-bwrap-" : "-plain-") + std::to_string(rep);
        r = RunPipeline(s, name, PipelineIr(shape, sandboxed), shape, &pods);
      }
    }
    const int status = s.Stop();  // ends the Pod watch too
    pods.Join();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++*stop_failures;
  }
  if (std::getenv("PIPELINE_BENCH_KEEP")) {
    std::fprintf(stderr, "kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }
  return r;
}

// ---- peers --------------------------------------------------------------------------------

// build.ninja with the same dependency shape: every edge runs `true` (its output is never made,
// so every build runs every edge).
void WriteNinja(const std::string& dir, Shape shape) {
  std::ofstream f(dir + "/build.ninja");
  f << "rule t\n  command = true\n";
  if (shape == Shape::kDiamond) {
    f << "build start: t\n";
    std::string all;
    for (int i = 0; i < kDiamondTasks - 2; ++i) {
      f << "build mid-" << i << ": t start\n";
      all += " mid-" + std::to_string(i);
    }
    f << "build end: t" << all << "\ndefault end\n";
  } else {
    f << "build step-0: t\n";
    for (int i = 1; i < kChainSteps; ++i) f << "build step-" << i << ": t step-" << i - 1 << "\n";
    f << "default step-" << kChainSteps - 1 << "\n";
  }
}

// A Snakefile with the same shape: each job runs `true`; snakemake itself touches the output
// file it insists on.
void WriteSnakefile(const std::string& dir, Shape shape) {
  std::ofstream f(dir + "/Snakefile");
  if (shape == Shape::kDiamond) {
    f << "rule all:\n    input: 'end'\n"
         "rule start:\n    output: touch('start')\n    shell: 'true'\n"
         "rule mid:\n    input: 'start'\n    output: touch('mid/{i}')\n    shell: 'true'\n"
         "rule end:\n    input: expand('mid/{i}', i=range("
      << kDiamondTasks - 2 << "))\n    output: touch('end')\n    shell: 'true'\n";
  } else {
    f << "wildcard_constraints:\n    i='[0-9]+'\n"
         "rule all:\n    input: 'step/"
      << kChainSteps - 1
      << "'\n"
         "rule step:\n    input: lambda w: [] if int(w.i) == 0 else ['step/%d' % (int(w.i) - 1)]\n"
         "    output: touch('step/{i}')\n    shell: 'true'\n";
  }
}

struct Peers {
  double ninja_ms = -1;      // median of 3
  double snakemake_ms = -1;  // one run (-1: not available or failed)
};

Peers MeasurePeers(Shape shape, bool have_snakemake) {
  Peers p;
  const std::string cores = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<double> ninja;
  for (int i = 0; i < 3; ++i) {
    const std::string dir = MakeTempDir("pipeline-bench-ninja");
    WriteNinja(dir, shape);
    ninja.push_back(TimeCommand({"ninja", "-C", dir, "-j", cores}));
    fs::remove_all(dir);
  }
  p.ninja_ms = *std::min_element(ninja.begin(), ninja.end()) < 0 ? -1 : Median(ninja);
  if (have_snakemake) {
    const std::string dir = MakeTempDir("pipeline-bench-snakemake");
    WriteSnakefile(dir, shape);
    const std::string log = dir + ".log";
    p.snakemake_ms = TimeCommand(
        {"snakemake", "-s", dir + "/Snakefile", "-d", dir, "--cores", cores, "-q"}, log);
    if (p.snakemake_ms < 0) {
      std::string text = ReadFile(log);
      if (text.size() > 2000) text = text.substr(text.size() - 2000);
      std::fprintf(stderr, "snakemake failed:\n%s\n", text.c_str());
    }
    fs::remove_all(dir);
    fs::remove(log);
  }
  return p;
}

// ---- report -------------------------------------------------------------------------------

struct Figures {
  std::vector<RunResult> plain, bwrap;
};

double MedianOf(const std::vector<RunResult>& runs, double RunResult::*field) {
  std::vector<double> v;
  for (const auto& r : runs) {
    if (r.ok) v.push_back(r.*field);
  }
  return v.empty() ? -1 : Median(v);
}

std::string Runs(const std::vector<RunResult>& runs) {
  std::string s;
  char buf[32];
  for (const auto& r : runs) {
    std::snprintf(buf, sizeof buf, "%s%.0f", s.empty() ? "" : ", ", r.ok ? r.wall_ms : -1.0);
    s += buf;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string binary = argc > 1 ? argv[1] : "../bin/skiff";
  const char* repeats_env = std::getenv("PIPELINE_BENCH_REPEATS");
  const int repeats = repeats_env ? std::max(1, std::atoi(repeats_env)) : 3;
  std::printf("pipeline_bench: %s, %d run(s) of each skiff figure (median quoted)\n\n",
              binary.c_str(), repeats);

  const double fork_exec = ForkExecTrue(200);
  const bool have_snakemake = TimeCommand({"snakemake", "--version"}) >= 0;
  if (!have_snakemake) std::printf("snakemake not available (apt-get install -y snakemake)\n");

  int stop_failures = 0;
  bool all_ok = true;
  const Shape shapes[] = {Shape::kDiamond, Shape::kChain};
  Figures figs[2];
  Peers peers[2];
  for (int k = 0; k < 2; ++k) {
    // Interleave the modes so that a noisy minute on the shared machine hits both alike.
    for (int rep = 0; rep < repeats; ++rep) {
      for (bool sandboxed : {false, true}) {
        RunResult r = MeasureOnce(binary, shapes[k], sandboxed, rep, &stop_failures);
        all_ok = all_ok && r.ok;
        (sandboxed ? figs[k].bwrap : figs[k].plain).push_back(r);
      }
    }
    peers[k] = MeasurePeers(shapes[k], have_snakemake);
  }

  // Details first, then the summary lines beside the targets.
  std::printf("| %-20s | %-22s | %-8s | %-19s | %-9s | %-10s |\n", "run", "wall ms (each run)",
              "ms/task", "server CPU ms", "st. writes", "run KiB");
  std::printf("|---|---|---|---|---|---|\n");
  for (int k = 0; k < 2; ++k) {
    for (bool sandboxed : {false, true}) {
      const auto& runs = sandboxed ? figs[k].bwrap : figs[k].plain;
      const double cpu = MedianOf(runs, &RunResult::server_cpu_ms);
      char what[64];
      std::snprintf(what, sizeof what, "%s %s", k == 0 ? "diamond 1000" : "chain 200",
                    sandboxed ? "bwrap" : "plain");
      std::printf("| %-20s | %-22s | %8.2f | %7.0f (%5.2f/task) | %10.0f | %10.0f |\n", what,
                  Runs(runs).c_str(), MedianOf(runs, &RunResult::wall_ms) / Tasks(shapes[k]), cpu,
                  cpu / Tasks(shapes[k]), MedianOf(runs, &RunResult::status_writes),
                  MedianOf(runs, &RunResult::status_kib));
    }
  }
  std::printf(
      "(server CPU: the skiff process's own threads during the run; its reaped children "
      "took %.0f / %.0f ms on the diamond, plain / bwrap)\n\n",
      MedianOf(figs[0].plain, &RunResult::children_cpu_ms),
      MedianOf(figs[0].bwrap, &RunResult::children_cpu_ms));
  for (int k = 0; k < 2; ++k) {
    std::printf("where the %s's time goes (ms, median of the runs)   plain   bwrap\n",
                k == 0 ? "diamond" : "chain");
    const auto phase_names = [&]() -> std::vector<std::string> {
      for (const auto* runs : {&figs[k].plain, &figs[k].bwrap}) {
        for (const auto& r : *runs) {
          if (!r.phases.empty()) {
            std::vector<std::string> names;
            for (const auto& ph : r.phases) names.push_back(ph.first);
            return names;
          }
        }
      }
      return {};
    }();
    for (size_t i = 0; i < phase_names.size(); ++i) {
      auto median = [&](const std::vector<RunResult>& runs) {
        std::vector<double> v;
        for (const auto& r : runs) {
          if (r.phases.size() > i) v.push_back(r.phases[i].second);
        }
        return v.empty() ? -1 : Median(v);
      };
      std::printf("  %-56s %7.1f %7.1f\n", phase_names[i].c_str(), median(figs[k].plain),
                  median(figs[k].bwrap));
    }
  }
  std::printf("bare fork/exec of `true`: %.2f ms (median of 200)\n\n", fork_exec);

  {
    const double plain = MedianOf(figs[0].plain, &RunResult::wall_ms);
    const double bwrap = MedianOf(figs[0].bwrap, &RunResult::wall_ms);
    const double ninja = peers[0].ninja_ms, snake = peers[0].snakemake_ms;
    std::printf(
        "diamond %d tasks   skiff plain %.0f ms (%.2f ms/task)  bwrap %.0f ms (%.2f ms/task)"
        " | ninja %.0f ms (%.2f ms/task)",
        kDiamondTasks, plain, plain / kDiamondTasks, bwrap, bwrap / kDiamondTasks, ninja,
        ninja / kDiamondTasks);
    if (snake > 0)
      std::printf(" | snakemake %.0f ms (%.2f ms/task)", snake, snake / kDiamondTasks);
    else
      std::printf(" | snakemake not available");
    std::printf(" | ratio skiff/ninja %.1fx (target <= 2x)", plain / ninja);
    if (snake > 0) std::printf(", snakemake/skiff %.1fx (target >= 10x)", snake / plain);
    std::printf("\n");
  }
  {
    const double plain = MedianOf(figs[1].plain, &RunResult::wall_ms) / kChainSteps;
    const double bwrap = MedianOf(figs[1].bwrap, &RunResult::wall_ms) / kChainSteps;
    const double ninja = peers[1].ninja_ms / kChainSteps, snake = peers[1].snakemake_ms;
    std::printf(
        "chain %d steps      skiff plain %.2f ms/step (target <= 3 ms)  bwrap %.2f ms/step"
        " | ninja %.2f ms/step",
        kChainSteps, plain, bwrap, ninja);
    if (snake > 0) {
      std::printf(
          " | snakemake %.2f ms/step | ratio skiff/ninja %.1fx, snakemake/skiff %.1fx "
          "(target >= 10x)",
          snake / kChainSteps, plain / ninja, snake / kChainSteps / plain);
    } else {
      std::printf(" | snakemake not available | ratio skiff/ninja %.1fx", plain / ninja);
    }
    std::printf("\n");
  }

  if (!all_ok || stop_failures > 0) {
    std::fprintf(stderr, "pipeline_bench: %s\n",
                 !all_ok ? "a run did not succeed" : "skiff did not stop cleanly");
    return 1;
  }
  return 0;
}

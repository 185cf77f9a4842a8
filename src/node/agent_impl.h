// Internal to the node agent (src/node/agent*.cc): the pod worker state, the agent's helper
// threads and the Impl class whose methods are split over agent.cc (lifecycle, syncing Pods,
// starting containers), agent_probes.cc, agent_status.cc and agent_node.cc (addresses and hosts
// files, the Node and its Lease, shutdown, logs). Not for use outside src/node.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/timer.h"
#include "controllers/event_recorder.h"
#include "controllers/informer.h"
#include "controllers/object_meta.h"
#include "controllers/workqueue.h"
#include "node/agent.h"
#include "node/layout.h"
#include "node/node_info.h"
#include "node/pod_config.h"
#include "node/probes.h"
#include "runtime/images.h"

namespace skiff::node {

namespace fs = std::filesystem;
using controllers::NameOf;
using controllers::NamespaceOf;
using controllers::ObjectPtr;
using controllers::UidOf;
using SysTime = std::chrono::system_clock::time_point;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace agent_internal {

inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kNodes{"", "v1", "nodes"};
inline const client::Resource kNamespaces{"", "v1", "namespaces"};
inline const client::Resource kConfigMaps{"", "v1", "configmaps"};
inline const client::Resource kSecrets{"", "v1", "secrets"};
inline const client::Resource kServices{"", "v1", "services"};
inline const client::Resource kClaims{"", "v1", "persistentvolumeclaims"};
inline const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};
inline const client::Resource kServiceAccounts{"", "v1", "serviceaccounts"};

inline constexpr const char* kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// Where the image's alias directory appears inside the sandbox.
inline constexpr const char* kAliasMount = "/.skiff/bin";
inline constexpr const char* kHostsPrefix = "\x01hosts:";
// How long a just-started container's status waits for a quick exit before "Running" is written.
inline constexpr std::chrono::milliseconds kStartSettle{3};

inline std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

inline const Json& Field(const Json& obj, const char* key) {
  static const Json kNull;
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

inline int64_t Int(const Json& obj, const char* key, int64_t fallback) {
  const Json& v = Field(obj, key);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

inline int64_t RvOf(const Json& obj) {
  std::string rv = controllers::ResourceVersionOf(obj);
  try {
    return rv.empty() ? 0 : std::stoll(rv);
  } catch (...) {
    return 0;
  }
}

inline std::string NodeNameOf(const Json& pod) { return Str(Field(pod, "spec"), "nodeName"); }

inline std::string PhaseOf(const Json& pod) { return Str(Field(pod, "status"), "phase"); }

// Go's time.Duration.String() for whole milliseconds: 300ms, 10s, 1m20s, 5m0s.
inline std::string GoDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::ostringstream out;
  int64_t h = ms / 3600000, m = (ms / 60000) % 60;
  double s = static_cast<double>(ms % 60000) / 1000.0;
  if (h > 0) out << h << "h";
  if (h > 0 || m > 0) out << m << "m";
  out << s << "s";
  return out.str();
}

// The container id of run `n`: "<pod-uid>.<container>.<n>" (see runtime.h). Auxiliary containers
// (exec probes, hooks) add a fourth part.
inline std::string ContainerId(const std::string& uid, const std::string& name, int n) {
  return uid + "." + name + "." + std::to_string(n);
}

struct IdParts {
  std::string uid, name;
  int n = -1;
  bool aux = false;
};

inline IdParts SplitId(const std::string& id) {
  IdParts p;
  std::vector<std::string> parts;
  std::stringstream ss(id);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  if (parts.size() < 3) return p;
  p.uid = parts[0];
  p.name = parts[1];
  try {
    p.n = std::stoi(parts[2]);
  } catch (...) {
    p.n = -1;
  }
  p.aux = parts.size() > 3;
  return p;
}

struct Terminated {
  int exit_code = 0;
  int signal = 0;
  std::string reason, message;
  SysTime started, finished;
  std::string container_id;
};

inline Json TerminatedJson(const Terminated& t) {
  Json j = {{"exitCode", t.exit_code}, {"reason", t.reason}};
  if (t.signal != 0) j["signal"] = t.signal;
  if (!t.message.empty()) j["message"] = t.message;
  if (t.started != SysTime{}) j["startedAt"] = FormatRfc3339(t.started);
  if (t.finished != SysTime{}) j["finishedAt"] = FormatRfc3339(t.finished);
  if (!t.container_id.empty()) j["containerID"] = "skiff://" + t.container_id;
  return j;
}

inline std::optional<Terminated> TerminatedFromJson(const Json& j) {
  if (!j.is_object()) return std::nullopt;
  Terminated t;
  t.exit_code = static_cast<int>(Int(j, "exitCode", 0));
  t.signal = static_cast<int>(Int(j, "signal", 0));
  t.reason = Str(j, "reason");
  t.message = Str(j, "message");
  ParseRfc3339(Str(j, "startedAt"), &t.started);
  ParseRfc3339(Str(j, "finishedAt"), &t.finished);
  std::string cid = Str(j, "containerID");
  if (cid.rfind("skiff://", 0) == 0) t.container_id = cid.substr(8);
  return t;
}

inline Terminated FromExit(const std::string& id, const runtime::ExitInfo& info) {
  Terminated t;
  t.exit_code = info.exit_code;
  t.signal = info.signal;
  t.started = info.started_at;
  t.finished = info.finished_at;
  t.container_id = id;
  t.message = info.message;
  if (info.oom_killed) {
    t.reason = "OOMKilled";
  } else if (info.exit_code == 128 && !info.message.empty()) {
    t.reason = "StartError";
  } else if (info.exit_code == 0) {
    t.reason = "Completed";
  } else {
    t.reason = "Error";
  }
  return t;
}

// One probe of one container run, shared between the sync (which owns its meaning) and the probe
// threads (which run it). `active` goes false when the run ends or the probe is no longer needed.
struct ProbeRun {
  std::string pod_key;
  std::string container;
  std::string container_id;
  std::string kind;  // startup, liveness, readiness
  Json probe;
  Json container_json;
  std::string pod_ip;
  std::string log_dir;               // for exec probes' output
  runtime::ContainerSpec exec_base;  // exec probes run with the container's sandbox and env
  std::atomic<bool> active{true};
  std::atomic<bool> started{false};  // the container passed its startup probe (or has none)
  std::atomic<int> seq{0};
};

struct ContainerRun {
  std::string name;
  bool init = false;
  Json spec;
  int runs = 0;  // runs started; the current run is runs-1 (= restartCount)
  std::string id;
  bool running = false;
  SysTime started_at;
  std::optional<Terminated> term;       // the latest run ended
  std::optional<Terminated> last_term;  // the run before it
  std::string waiting_reason, waiting_message;
  milliseconds backoff{0};
  Steady::time_point backoff_until{};
  milliseconds pull_backoff{0};
  const void* pull_failed_catalog = nullptr;  // the catalog the image was missing from
  bool ready = false;
  bool started = false;
  int live_fail = 0, start_fail = 0, ready_succ = 0, ready_fail = 0;
  std::vector<std::shared_ptr<ProbeRun>> probes;
  std::string image_id;
  bool stop_sent = false;
  bool adopted = false;  // running when this agent started: probes start with the next sync
  runtime::ContainerSpec run_spec;  // of the current run (exec probes, hooks)
};

struct Mail {
  enum class Type { kExit, kProbe } type = Type::kExit;
  std::string container_id;
  runtime::ExitInfo exit;
  std::string container;  // probe: container name
  std::string kind;       // probe kind
  bool ok = false;
  std::string message;
};

// The annotation that opts a Pod out of the sandbox ("none"): plain processes start faster but
// share the host's view (no hidden paths, no private /tmp, volumes at their host paths).
inline constexpr const char* kSandboxAnnotation = "skiff.io/sandbox";

// Whether `pod` asks for plain processes.
inline bool WantsPlainProcess(const Json& pod) {
  const Json* annotations = FindPath(pod, "metadata.annotations");
  if (!annotations || !annotations->is_object()) return false;
  auto it = annotations->find(kSandboxAnnotation);
  return it != annotations->end() && it->is_string() && *it == "none";
}

struct PodWorker {
  std::mutex mu;
  std::string key, ns, name, uid;
  Json pod;
  std::string dir, ip;
  std::vector<int> gpus;
  std::vector<ContainerRun> inits, containers;
  std::map<std::string, std::pair<std::string, bool>> volumes;  // name -> host path, read-only
  std::string sa_dir;  // the Pod's service-account files; "" when it gets none
  bool prepared = false;
  std::string prepare_reason, prepare_message;  // container waiting reason while not prepared
  bool config_error = false;
  bool terminal = false;          // Succeeded/Failed decided: nothing restarts
  bool adopted_terminal = false;  // already terminal when this agent found it: status untouched
  bool deadline_exceeded = false;
  bool terminating = false;
  bool deleted = false;  // Delete(grace 0) succeeded
  bool shutdown_failed = false;
  std::string fixed_reason, fixed_message;  // e.g. UnexpectedAdmissionError
  SysTime start_time{};
  Json last_status;
  std::string hosts_content;
  bool hosts_changed = false;
  bool just_started = false;  // a container started in this sync: let its status settle first
  std::vector<std::array<std::string, 3>> pending_events;  // type, reason, message
  std::atomic<uint64_t> changes{0};
};

// Events are written by a background thread so the Pod's hot path never waits for them.
class EventQueue {
 public:
  EventQueue(client::Client* client, const std::string& host)
      : recorder_(client, "kubelet", host), thread_([this] { Run(); }) {}
  ~EventQueue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Post(const Json& pod, const std::string& type, const std::string& reason,
            const std::string& message) {
    Json ref = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", NameOf(pod)},
                  {"namespace", NamespaceOf(pod)},
                  {"uid", UidOf(pod)},
                  {"resourceVersion", controllers::ResourceVersionOf(pod)}}}};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      items_.push_back({std::move(ref), type, reason, message});
    }
    cv_.notify_one();
  }
  // Waits until every posted event is written (tests, shutdown).
  void Flush(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return items_.empty() && !busy_; });
  }

 private:
  struct Item {
    Json obj;
    std::string type, reason, message;
  };
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !items_.empty(); });
      if (items_.empty() && stop_) return;
      if (stop_) {
        items_.clear();
        cv_.notify_all();
        return;
      }
      Item item = std::move(items_.front());
      items_.pop_front();
      busy_ = true;
      lock.unlock();
      recorder_.Event(item.obj, item.type, item.reason, item.message);
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
  }

  controllers::EventRecorder recorder_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> items_;  // GUARDED_BY(mu_)
  bool stop_ = false;       // GUARDED_BY(mu_)
  bool busy_ = false;       // GUARDED_BY(mu_)
  std::thread thread_;
};

// A few threads running blocking jobs (probes, hooks).
class JobPool {
 public:
  explicit JobPool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Run(); });
  }
  ~JobPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Submit(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  bool stop_ = false;                       // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

// Informer handlers outlive nothing: they reach the agent through this gate, closed on
// destruction.
struct Gate {
  std::shared_mutex mu;
  NodeAgent::Impl* impl = nullptr;
};

}  // namespace agent_internal

using namespace agent_internal;  // NOLINT: the agent's own files share these names

// bin_dir/libskiff-podnet.so when it exists (see shim/podnet.cc).
inline std::string PodnetLibrary(const std::string& bin_dir) {
  const std::string lib = (bin_dir.empty() ? std::string(".") : bin_dir) + "/libskiff-podnet.so";
  return ::access(lib.c_str(), R_OK) == 0 ? lib : "";
}

class NodeAgent::Impl : public ObjectSource {
 public:
  Impl(controllers::Manager& mgr, client::Client* client, runtime::Runtime* runtime,
       AgentOptions options)
      : mgr_(mgr),
        client_(client),
        runtime_(runtime),
        o_(std::move(options)),
        podnet_lib_(PodnetLibrary(o_.bin_dir)),
        queue_(milliseconds(5), milliseconds(30000)) {}

  ~Impl() { StopThreads(); }

  Status Init();
  void Shutdown();
  Status StreamLogs(const Json& pod, const std::string& container, bool previous,
                    runtime::LogReadOptions options,
                    const std::function<bool(const std::string&)>& sink);
  const std::string& node_name() const { return o_.node_name; }

  // ObjectSource: informer caches first, the API on a miss (the caches may lag the Pod).
  StatusOr<Json> ConfigMap(const std::string& ns, const std::string& name) override {
    return CachedOrGet(configmaps_, kConfigMaps, ns, name);
  }
  StatusOr<Json> Secret(const std::string& ns, const std::string& name) override {
    return CachedOrGet(secrets_, kSecrets, ns, name);
  }

  // Informer events.
  void OnPod(const ObjectPtr& old_obj, const ObjectPtr& obj, bool deleted);
  void OnConfig(const Json& obj);
  void OnService(const Json& obj);

 private:
  StatusOr<Json> CachedOrGet(controllers::Informer* inf, const client::Resource& r,
                             const std::string& ns, const std::string& name) {
    if (inf != nullptr) {
      if (ObjectPtr p = inf->Get(ns, name)) return *p;
    }
    return client_->Get(r, ns, name);
  }

  void Touch(const std::string& key);
  void Worker();
  void Sync(const std::string& key);
  std::shared_ptr<PodWorker> NewWorker(const Json& pod);
  void Teardown(const std::shared_ptr<PodWorker>& w);
  void Recover(PodWorker* w);
  void ApplyMail(PodWorker* w, const Mail& m);
  void Step(PodWorker* w);
  bool Prepare(PodWorker* w);
  bool PrepareServiceAccount(PodWorker* w);
  void StartContainer(PodWorker* w, ContainerRun* c);
  void RestartOrWait(PodWorker* w, ContainerRun* c);
  bool ShouldRestart(const PodWorker* w, const ContainerRun& c) const;
  void StopContainer(PodWorker* w, ContainerRun* c, milliseconds grace, bool run_pre_stop);
  void ScheduleProbes(PodWorker* w, ContainerRun* c);
  void RunProbe(const std::shared_ptr<ProbeRun>& p);
  void ScheduleProbe(const std::shared_ptr<ProbeRun>& p, milliseconds delay);
  StatusOr<int> RunExec(const runtime::ContainerSpec& base, const std::string& id,
                        const std::vector<std::string>& cmd, milliseconds timeout,
                        std::string* output);
  std::string Phase(const PodWorker* w) const;
  Json ComputeStatus(PodWorker* w);
  Json ContainerStatus(const PodWorker* w, const ContainerRun& c) const;
  bool WriteStatus(PodWorker* w, const Json& status);
  // Events wait until the sync has written the status: they never delay a Pod.
  void Event(PodWorker* w, const std::string& type, const std::string& reason,
             const std::string& message) {
    w->pending_events.push_back({type, reason, message});
  }
  void FlushEvents(PodWorker* w) {
    if (events_) {
      for (const auto& e : w->pending_events) events_->Post(w->pod, e[0], e[1], e[2]);
    }
    w->pending_events.clear();
    if (w->hosts_changed) {
      w->hosts_changed = false;
      queue_.Add(kHostsPrefix + w->ns);  // the others learn this Pod's address
    }
  }
  std::string AllocateIp(const std::string& key);
  void RewriteHosts(const std::string& ns);
  // A hosts entry with the Pod key it belongs to ("" for Services).
  struct NamedHost {
    std::string key;
    HostEntry entry;
  };
  std::vector<NamedHost> NamespaceHosts(const std::string& ns);
  std::string HostsFor(const Json& pod, const std::string& ip, const std::string& self_key,
                       const std::vector<NamedHost>& ns_hosts);
  void WriteHostsInPlace(PodWorker* w, const std::string& content);
  std::shared_ptr<const runtime::Catalog> GetCatalog(std::string* error);
  // Every second: when images.yaml changed, Pods waiting for an image try again at once.
  void WatchCatalog();
  milliseconds PodGrace(const PodWorker* w) const;
  void HeartbeatLoop();
  void RegisterNode(bool force);
  void RenewLease();
  void ReapOrphans();
  void StopThreads();

  controllers::Manager& mgr_;
  client::Client* const client_;
  runtime::Runtime* const runtime_;
  AgentOptions o_;
  // libskiff-podnet.so in bin_dir, preloaded into containers; "" when it was not built.
  const std::string podnet_lib_;
  MachineInfo machine_;
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();

  controllers::Informer* pods_ = nullptr;
  controllers::Informer* configmaps_ = nullptr;
  controllers::Informer* secrets_ = nullptr;
  controllers::Informer* services_ = nullptr;
  controllers::Informer* claims_ = nullptr;

  controllers::WorkQueue queue_;
  std::vector<std::thread> workers_;
  std::unique_ptr<EventQueue> events_;
  std::unique_ptr<JobPool> probe_pool_;
  std::unique_ptr<TimerQueue> timers_;
  std::thread heartbeat_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> shutting_down_{false};
  bool threads_stopped_ = false;

  mutable std::mutex mu_;  // guards the maps below; never held while calling out
  std::map<std::string, std::shared_ptr<PodWorker>> workers_by_key_;
  std::unordered_map<std::string, std::string> key_by_uid_;
  std::map<std::string, std::vector<Mail>> mail_;                          // by pod key
  std::map<std::string, std::vector<runtime::ContainerState>> recovered_;  // by pod uid
  std::set<std::string> used_ips_;
  std::map<std::string, std::string> ip_by_key_;
  // Starts at a random place in the range: several agents on one machine (two skiff instances,
  // parallel tests) then rarely hand out the same address, which would let one's Pod answer for
  // another's (a readiness probe reaching the wrong server).
  uint32_t ip_cursor_ = std::random_device{}() % (256 * 256 - 2 * 256);
  std::map<int, std::string> gpu_owner_;  // GPU index -> pod uid
  struct ExecWait {
    bool done = false;
    runtime::ExitInfo info;
  };
  std::map<std::string, ExecWait> exec_waits_;
  std::condition_variable exec_cv_;
  std::set<std::string> shutdown_pending_;  // container ids Shutdown waits for
  std::condition_variable shutdown_cv_;

  std::mutex catalog_mu_;
  std::shared_ptr<const runtime::Catalog> catalog_;
  struct timespec catalog_mtime_ {};
  bool catalog_file_existed_ = false;

  std::mutex hb_mu_;
  std::condition_variable hb_cv_;
  Json last_node_status_;
  Steady::time_point last_node_write_{};
};

}  // namespace skiff::node

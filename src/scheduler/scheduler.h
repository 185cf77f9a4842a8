// The scheduler: binds pending Pods to nodes whose free resources fit them, in priority order,
// preempting lower-priority Pods when allowed, and placing a PodGroup's Pods all together or not
// at all (gang scheduling). State comes from shared informers (pods, nodes, podgroups,
// priorityclasses); per-node usage is kept in memory, updated from events and from its own
// bindings, so a pending Pod is placed without listing anything.
//
// Thread-safety: informer handlers and the one scheduling thread share state under one mutex;
// API writes happen outside it. Public methods may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/resource.h"
#include "client/client.h"
#include "common/clock.h"
#include "controllers/event_recorder.h"
#include "controllers/manager.h"
#include "scheduler/fit.h"

namespace skiff::scheduler {

inline const client::Resource kPods{"", "v1", "pods"};
inline const client::Resource kNodes{"", "v1", "nodes"};
inline const client::Resource kPodGroups{"scheduling.x-k8s.io", "v1alpha1", "podgroups"};
inline const client::Resource kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses"};
inline const client::Resource kResourceQuotas{"", "v1", "resourcequotas"};

// A Pod joins a gang through this label (scheduler-plugins) or annotation (Volcano).
inline constexpr char kPodGroupLabel[] = "scheduling.x-k8s.io/pod-group";
inline constexpr char kVolcanoGroupAnnotation[] = "scheduling.k8s.io/group-name";

struct SchedulerOptions {
  // Pods naming this scheduler (or none) are ours; the aliases are what gang users set.
  std::string scheduler_name = "default-scheduler";
  std::vector<std::string> aliases = {"volcano", "scheduler-plugins-scheduler"};
  // An unschedulable Pod is retried after a cluster change once its back-off has passed
  // (doubling from initial to max), and at least every `unschedulable_resync` regardless.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds unschedulable_resync{30000};
  // Full recount of every ResourceQuota.
  std::chrono::milliseconds quota_resync{30000};
  // Resolves the versions of kinds counted by `count/<resource>.<group>` quota keys; without it
  // only well-known groups are recounted (the rest keep what admission charged).
  const api::ResourceRegistry* registry = nullptr;
  Clock* clock = Clock::Real();
};

class Scheduler : public controllers::Runnable {
 public:
  // Registers its informer handlers with `mgr`; writes through `client`. Both must outlive it.
  Scheduler(controllers::Manager* mgr, client::Client* client, SchedulerOptions options);
  ~Scheduler() override;

  void Start() override;
  void Stop() override;

  // Successful bindings so far (tests, metrics).
  int64_t bindings() const;

 private:
  struct PodEntry {
    std::string key, ns, name, uid;
    std::string node;  // bound, or assumed while our binding is in flight
    bool assumed = false;
    PodNeeds needs;
    int64_t priority = 0;
    bool never_preempt = false;
    std::string created;  // RFC 3339 sorts as text
    bool terminal = false;
    bool deleting = false;
    bool ours = false;  // ours to schedule (scheduler name matches, not gated)
    bool gated = false;
    std::string group;
    std::string nominated;
    controllers::ObjectPtr obj;
    bool Counted() const { return !node.empty() && !terminal; }
    bool Pending() const { return node.empty() && ours && !gated && !terminal && !deleting; }
  };
  struct QueueKey {
    int64_t neg_priority;
    std::string created;
    std::string key;
    bool operator<(const QueueKey& o) const {
      if (neg_priority != o.neg_priority) return neg_priority < o.neg_priority;
      if (created != o.created) return created < o.created;
      return key < o.key;
    }
  };
  struct Backoff {
    std::chrono::steady_clock::time_point last_try;
    std::chrono::milliseconds delay{0};
    std::chrono::steady_clock::time_point next_try;
    bool waiting = false;  // parked as unschedulable (else only its delay is remembered)
  };
  // One placement decision, carried out after the lock is released.
  struct Binding {
    std::string key, ns, name, node;
    controllers::ObjectPtr obj;
  };
  struct Failure {
    std::string key;
    controllers::ObjectPtr obj;
    std::string message;
    std::string nominate;  // set nominatedNodeName
  };
  struct Eviction {
    controllers::ObjectPtr victim;
    std::string preemptor_uid, node, scheduler_name;
  };
  struct Plan {
    std::vector<Binding> bindings;
    std::vector<Failure> failures;
    std::vector<Eviction> evictions;
  };

  // Informer handlers.
  void OnPod(const controllers::ObjectPtr& obj);
  void OnPodDelete(const controllers::ObjectPtr& obj);
  void OnNode(const controllers::ObjectPtr& obj);
  void OnNodeDelete(const controllers::ObjectPtr& obj);
  void OnPodGroup(const controllers::ObjectPtr& obj);

  // All below with mu_ held.
  PodEntry MakeEntry(const controllers::ObjectPtr& obj) const;
  void Account(const PodEntry& e, int sign);
  void RemoveFromQueues(const std::string& key);
  void Enqueue(const PodEntry& e);
  void WakeUnschedulable();
  void WakeGroup(const std::string& ns, const std::string& group);
  void MarkUnschedulable(const std::string& key);
  // Resources held on `node` by pending Pods nominated there with at least `priority`.
  ResourceList NominatedUsage(const std::string& node, int64_t priority,
                              const std::string& except) const;
  // The best node for `e` with `usage` per node (extra over the recorded usage), or "" with the
  // failure reasons per node in `*reasons`.
  std::string FindNode(const PodEntry& e, const std::map<std::string, ResourceList>& extra,
                       std::map<std::string, std::vector<std::string>>* reasons) const;
  void ScheduleOne(const std::string& key, Plan* plan);
  void ScheduleGroup(const PodEntry& trigger, Plan* plan);
  // Preemption for `e` after `reasons`: fills victims and the nominated node, or returns the
  // post-filter sentence explaining why none.
  std::string Preempt(PodEntry& e, const std::map<std::string, std::vector<std::string>>& reasons,
                      Plan* plan);
  void Assume(PodEntry& e, const std::string& node);
  void Forget(const std::string& key, const std::string& uid);
  void SetNominated(PodEntry& e, const std::string& node);

  // Without mu_: API writes.
  void Execute(const Plan& plan);
  bool Bind(const Binding& b);
  void WriteFailure(const Failure& f);
  void Evict(const Eviction& e);

  void Run();

  controllers::Manager* const mgr_;
  client::Client* const client_;
  const SchedulerOptions options_;
  controllers::EventRecorder recorder_;
  controllers::Informer* pods_informer_;
  controllers::Informer* nodes_informer_;
  controllers::Informer* groups_informer_;
  controllers::Informer* classes_informer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                 // GUARDED_BY(mu_)
  std::unordered_map<std::string, PodEntry> pods_;    // GUARDED_BY(mu_)
  std::map<std::string, NodeState> nodes_;            // GUARDED_BY(mu_)
  std::map<std::string, ResourceList> usage_;         // GUARDED_BY(mu_), by node name
  std::set<QueueKey> active_;                         // GUARDED_BY(mu_)
  std::unordered_map<std::string, QueueKey> queued_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, Backoff> backoff_;  // GUARDED_BY(mu_), unschedulable Pods
  std::set<std::string> preempting_;                  // GUARDED_BY(mu_), victims chosen
  // Bound (counted) Pods by node, and pending Pods by nominated node.
  std::map<std::string, std::set<std::string>> node_pods_;  // GUARDED_BY(mu_)
  std::map<std::string, std::set<std::string>> nominated_;  // GUARDED_BY(mu_)
  // Set when an unschedulable Pod may have become due earlier than the loop planned.
  bool rescan_ = false;   // GUARDED_BY(mu_)
  int64_t bindings_ = 0;  // GUARDED_BY(mu_)
  std::thread thread_;
};

// Registers the scheduler (a Runnable), the PodGroup status controller and the quota controller
// with `mgr`; they start with mgr.Start() (or at once if it runs). `client` (usually
// mgr.client()) must outlive `mgr`.
Status StartScheduler(controllers::Manager& mgr, client::Client* client,
                      SchedulerOptions options = {});

}  // namespace skiff::scheduler

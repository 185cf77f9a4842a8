// The garbage collector: deletes objects whose owners are gone, and carries out the Foreground and
// Orphan deletion policies, as kube-controller-manager's garbage collector does.
//
// It watches every stored resource kind the registry serves (CRDs added later are picked up within
// a poll interval) through metadata-only informers, and keeps an ownership graph by uid:
//  - an object whose ownerReferences all point at absent owners (missing, or a different uid) is
//    deleted with Background propagation (its own dependents follow the same way);
//  - an owner being deleted with the `foregroundDeletion` finalizer gets its dependents deleted,
//    and loses the finalizer once no dependent with blockOwnerDeletion=true remains;
//  - an owner being deleted with the `orphan` finalizer has its ownerReference removed from every
//    dependent, then loses the finalizer.
// An ownerReference from a cluster-scoped dependent to a namespaced kind is invalid and ignored
// (such a dependent is never collected), as upstream. Owners of kinds the registry does not know
// keep their dependents alive.
//
// Thread-safety: Start/Stop from one thread (the Manager). Internally: informer threads update the
// graph, worker threads act on it through the Client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/resource.h"
#include "client/client.h"
#include "controllers/informer.h"
#include "controllers/manager.h"
#include "controllers/object_meta.h"
#include "controllers/reconciler.h"
#include "controllers/workqueue.h"

namespace skiff::controllers {

struct GcOptions {
  int workers = 2;
  // How often the registry is checked for new or removed kinds (CRDs).
  std::chrono::milliseconds registry_poll{1000};
  InformerOptions informer;  // transform is set by the collector
};

class GarbageCollector : public Runnable {
 public:
  // `client` and `registry` must outlive the collector.
  GarbageCollector(client::Client* client, api::ResourceRegistry* registry, GcOptions options = {});
  ~GarbageCollector() override;

  void Start() override;
  void Stop() override;

  // Whether every monitored kind's informer has synced (tests).
  bool Synced() const;
  // How many kinds are monitored (tests).
  size_t MonitorCount() const;

 private:
  struct Monitor {
    api::ResourcePtr res;
    client::Resource resource;
    std::unique_ptr<Informer> informer;
  };
  struct Node {
    std::string monitor;  // key into monitors_
    std::string ns;
    std::string name;
    bool deleting = false;
    std::vector<OwnerRef> owners;
  };
  enum class OwnerState { kSolid, kDangling, kWaiting, kUnresolvable };
  struct Dependent {
    client::Resource resource;
    std::string ns;
    Json object;
  };

  void SyncMonitors();
  void PollLoop();
  void Worker();
  void Observe(const std::string& monitor, const Json& obj);
  void Forget(const std::string& monitor, const Json& obj);
  void RemoveNodesOf(const std::string& monitor);

  StatusOr<Result> Process(const std::string& item);
  StatusOr<Result> AttemptToDelete(const std::string& uid);
  StatusOr<Result> ProcessDeletingOwner(const std::string& uid);
  StatusOr<OwnerState> ResolveOwner(const OwnerRef& ref, const std::string& dependent_ns,
                                    bool dependent_namespaced);
  StatusOr<std::vector<Dependent>> LiveDependents(const std::string& owner_uid,
                                                  const std::string& owner_ns,
                                                  bool owner_namespaced);
  Status RemoveOwnerRefs(const client::Resource& r, const std::string& ns, const Json& live,
                         const std::set<std::string>& uids);
  Status RemoveFinalizer(const client::Resource& r, const std::string& ns, const Json& live,
                         const std::string& finalizer);
  bool LookupNode(const std::string& uid, Node* node, client::Resource* resource, bool* namespaced);
  // The live object behind a graph node, or nullopt when it is gone (or a namesake replaced it).
  StatusOr<std::optional<Json>> LiveByUid(const std::string& uid, Node* node,
                                          client::Resource* resource, bool* namespaced);

  client::Client* const client_;
  api::ResourceRegistry* const registry_;
  const GcOptions options_;
  WorkQueue queue_;

  mutable std::mutex monitors_mu_;
  std::map<std::string, Monitor> monitors_;  // GUARDED_BY(monitors_mu_), key "group/plural"
  uint64_t registry_generation_ = 0;         // GUARDED_BY(monitors_mu_)

  std::mutex graph_mu_;
  std::unordered_map<std::string, Node> nodes_;  // GUARDED_BY(graph_mu_), by uid
  // Owner uid -> dependent uids; owners need not be known (they may be gone).
  std::unordered_map<std::string, std::set<std::string>> dependents_;  // GUARDED_BY(graph_mu_)

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;  // GUARDED_BY(run_mu_)
  std::atomic<bool> stopping_{false};
  std::thread poller_;
  std::vector<std::thread> workers_;
};

}  // namespace skiff::controllers

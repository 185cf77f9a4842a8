// The Manager runs controllers: it owns the shared informers (one per resource), each
// controller's work queue and workers, and other long-running components (Runnables) such as the
// garbage collector. Wiring a controller reads like a sentence:
//
//   mgr.NewController("tfjob").For(kTfJobs).Owns(kPods).WithWorkers(2).Complete(
//       std::make_unique<TfJobReconciler>(&mgr));
//
// For: events of the resource enqueue the object itself. Owns: events of the resource enqueue the
// object's controller owner (the ownerReference with controller=true of the For kind). Watches:
// events of any resource enqueue what a mapping function says.
//
// Thread-safety: all public methods may be called from any thread. Controllers and informers may
// be added before or after Start; those added after start at once. Stop is final.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "controllers/informer.h"
#include "controllers/reconciler.h"
#include "controllers/workqueue.h"

namespace skiff::controllers {

// A long-running component started and stopped with the Manager.
class Runnable {
 public:
  virtual ~Runnable() = default;
  virtual void Start() = 0;
  // Must return promptly and leave no thread running.
  virtual void Stop() = 0;
};

enum class Scope { kNamespaced, kCluster };

// Maps an object of a watched resource to the requests it should wake.
using MapFunc = std::function<std::vector<Request>(const Json& obj)>;

class Manager;

// One reconciler with its queue and workers. Created by ControllerBuilder::Complete; owned by the
// Manager.
class Controller {
 public:
  const std::string& name() const { return name_; }
  // Wakes the reconciler for `request` (e.g. from another event source).
  void Enqueue(const Request& request);
  void EnqueueAfter(const Request& request, std::chrono::milliseconds delay);
  // Successful reconciles so far (tests and metrics).
  int64_t reconcile_count() const { return reconciles_.load(); }
  int64_t error_count() const { return errors_.load(); }

  ~Controller();

 private:
  friend class ControllerBuilder;
  friend class Manager;
  struct Source {
    client::Resource resource;
    Informer* informer;
    MapFunc map;
  };

  Controller(Manager* mgr, std::string name, int workers, std::unique_ptr<Reconciler> reconciler);
  void Start();
  void Stop();
  void Worker();
  void Handle(const Source& source, const Json& obj);

  Manager* const mgr_;
  const std::string name_;
  const int workers_;
  std::unique_ptr<Reconciler> reconciler_;
  std::vector<Source> sources_;
  WorkQueue queue_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> reconciles_{0};
  std::atomic<int64_t> errors_{0};
};

class ControllerBuilder {
 public:
  // `scope` says whether requests for this kind carry a namespace (needed by Owns).
  ControllerBuilder& For(const client::Resource& resource, Scope scope = Scope::kNamespaced);
  ControllerBuilder& Owns(const client::Resource& resource);
  ControllerBuilder& Watches(const client::Resource& resource, MapFunc map);
  ControllerBuilder& WithWorkers(int workers);
  // Registers the controller with the manager (starting it if the manager runs) and returns it;
  // the manager owns it.
  Controller* Complete(std::unique_ptr<Reconciler> reconciler);
  Controller* Complete(ReconcileFunc reconcile);

 private:
  friend class Manager;
  ControllerBuilder(Manager* mgr, std::string name) : mgr_(mgr), name_(std::move(name)) {}

  Manager* mgr_;
  std::string name_;
  int workers_ = 1;
  bool has_for_ = false;
  client::Resource for_;
  Scope for_scope_ = Scope::kNamespaced;
  std::vector<client::Resource> owns_;
  std::vector<std::pair<client::Resource, MapFunc>> watches_;
};

struct ManagerOptions {
  // Informer settings applied to every shared informer.
  InformerOptions informer;
};

class Manager {
 public:
  // `client` must outlive the manager.
  explicit Manager(client::Client* client, ManagerOptions options = {});
  ~Manager();  // Stops.
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  client::Client* client() const { return client_; }

  // The shared informer of `resource` across all namespaces, created on first use (and started if
  // the manager runs). Reconcilers read from it instead of the API server.
  Informer* GetInformer(const client::Resource& resource);

  ControllerBuilder NewController(const std::string& name) { return ControllerBuilder(this, name); }
  void Add(std::unique_ptr<Runnable> runnable);

  // Starts informers, controllers and runnables, and returns. Workers begin reconciling once the
  // informers their controller reads from have synced.
  void Start();
  // Stops workers (letting running reconciles finish), runnables, then informers.
  void Stop();
  bool started() const;
  // Waits until every informer has synced (or `timeout`).
  bool WaitForCacheSync(std::chrono::milliseconds timeout);

  // The controller's kind for a resource, learned from its informer or one list call ("" if the
  // resource cannot be listed).
  std::string KindOf(const client::Resource& resource);

 private:
  friend class ControllerBuilder;
  Controller* AddController(std::unique_ptr<Controller> controller);

  client::Client* const client_;
  const ManagerOptions options_;
  // Serialises Start, Stop and the starting of late additions; never held by event handlers.
  std::mutex lifecycle_mu_;
  mutable std::mutex mu_;
  bool started_ = false;  // GUARDED_BY(mu_)
  bool stopped_ = false;  // GUARDED_BY(mu_)
  // Declared before informers_ so informers (whose handlers call into controllers) die first.
  std::vector<std::unique_ptr<Controller>> controllers_;        // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Runnable>> runnables_;            // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // GUARDED_BY(mu_)
  std::map<std::string, std::string> kinds_;                    // GUARDED_BY(mu_)
};

}  // namespace skiff::controllers

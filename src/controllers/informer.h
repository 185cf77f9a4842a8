// An Informer keeps a local cache of one resource in sync with the API (list, then watch from the
// list's resourceVersion; list again when the watch's history is gone) and tells event handlers
// what changed. Controllers read from its cache instead of the API server, and react to its
// events. It speaks only through client::Client, so it works in-process and against a cluster.
//
// Thread-safety: Get/List/HasSynced may be called from any thread. Handlers are called on the
// informer's own thread, one event at a time, in order; they must not block for long (enqueue work
// and return). Start/Stop are called by the owner (usually the Manager).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"

namespace skiff::controllers {

// Cached objects are immutable and shared: readers keep them alive as long as they need them.
using ObjectPtr = std::shared_ptr<const Json>;

struct EventHandlers {
  std::function<void(const ObjectPtr& obj)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // The object's last known state (the final one from the watch, or the cache's after a re-list).
  std::function<void(const ObjectPtr& obj)> on_delete;
};

struct InformerOptions {
  std::string ns;  // "" = all namespaces (and cluster-scoped resources)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Watches end after a random time in [min, 2*min) and resume from the last resourceVersion, so
  // a silently dead connection cannot stall the cache forever.
  std::chrono::seconds watch_timeout_min{300};
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30000};
  // Applied to every object before it is cached and handed to handlers (e.g. keep only metadata).
  std::function<Json(Json)> transform;
};

class Informer {
 public:
  Informer(client::Client* client, client::Resource resource, InformerOptions options = {});
  ~Informer();  // Stops.
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after Start first see every cached object as an add (as client-go does).
  void AddEventHandlers(EventHandlers handlers);

  void Start();
  // Returns once the informer's thread has exited; no handler runs after it returns.
  void Stop();

  // True once the first list has been delivered to the cache and the handlers.
  bool HasSynced() const { return synced_.load(); }
  // Waits until synced, stopped, or `timeout`; returns HasSynced().
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  ObjectPtr Get(const std::string& ns, const std::string& name) const;
  // Cached objects, in key order; `ns` "" = all.
  std::vector<ObjectPtr> List(const std::string& ns = "") const;
  size_t Size() const;

  const client::Resource& resource() const { return resource_; }
  // The resource's kind, learned from the first list ("" before then).
  std::string kind() const;
  // The resourceVersion of the newest state the cache reflects.
  std::string last_resource_version() const;

 private:
  void Run();
  // Lists everything and replaces the cache; returns the list's resourceVersion.
  StatusOr<std::string> ListAndReplace();
  // Watches from `*rv` until the stream ends. Returns false when the informer must re-list.
  bool WatchFrom(std::string* rv, std::chrono::milliseconds* backoff);
  bool SleepInterruptible(std::chrono::milliseconds d);

  void Upsert(Json obj);
  void Remove(const Json& obj);
  void DispatchAdd(const ObjectPtr& obj);
  void DispatchUpdate(const ObjectPtr& old_obj, const ObjectPtr& obj);
  void DispatchDelete(const ObjectPtr& obj);

  client::Client* const client_;
  const client::Resource resource_;
  const InformerOptions options_;

  mutable std::shared_mutex cache_mu_;
  std::map<std::string, ObjectPtr> cache_;  // GUARDED_BY(cache_mu_), keyed by ns/name
  std::string kind_;                        // GUARDED_BY(cache_mu_)
  std::string rv_;                          // GUARDED_BY(cache_mu_)

  // Serialises handler calls with handler registration (registration replays the cache).
  std::mutex handlers_mu_;
  std::vector<EventHandlers> handlers_;  // GUARDED_BY(handlers_mu_)

  mutable std::mutex run_mu_;
  mutable std::condition_variable run_cv_;
  bool stop_ = false;                             // GUARDED_BY(run_mu_)
  bool started_ = false;                          // GUARDED_BY(run_mu_)
  client::WatchStream* current_watch_ = nullptr;  // GUARDED_BY(run_mu_)
  std::atomic<bool> synced_{false};
  std::thread thread_;
};

}  // namespace skiff::controllers

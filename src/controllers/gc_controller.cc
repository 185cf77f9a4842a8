#include "controllers/gc_controller.h"

#include <algorithm>

#include "common/log.h"
#include "controllers/stored_resources.h"

namespace skiff::controllers {
namespace {

constexpr char kForeground[] = "foregroundDeletion";
constexpr char kOrphan[] = "orphan";
// Work items: "D<uid>" checks whether a dependent's owners are gone; "O<uid>" advances an owner
// that is being deleted with the Foreground or Orphan policy.
constexpr char kAttemptToDelete = 'D';
constexpr char kDeletingOwner = 'O';

// The collector only needs identities and ownership: keeping metadata alone bounds its memory to
// a fraction of the store's.
Json MetadataOnly(Json obj) {
  Json out = {{"apiVersion", obj.value("apiVersion", "")}, {"kind", obj.value("kind", "")}};
  if (obj.contains("metadata") && obj["metadata"].is_object()) {
    Json meta = std::move(obj["metadata"]);
    meta.erase("managedFields");
    meta.erase("annotations");
    meta.erase("labels");
    out["metadata"] = std::move(meta);
  } else {
    out["metadata"] = Json::object();
  }
  return out;
}

std::string MonitorKey(const api::ResourceInfo& res) { return res.group + "/" + res.plural; }

}  // namespace

GarbageCollector::GarbageCollector(client::Client* client, api::ResourceRegistry* registry,
                                   GcOptions options)
    : client_(client), registry_(registry), options_(std::move(options)) {}

GarbageCollector::~GarbageCollector() { Stop(); }

void GarbageCollector::Start() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (running_ || stopping_) return;
    running_ = true;
  }
  SyncMonitors();
  poller_ = std::thread([this] { PollLoop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { Worker(); });
  }
}

void GarbageCollector::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    stopping_ = true;
  }
  run_cv_.notify_all();
  queue_.ShutDown();
  if (poller_.joinable()) poller_.join();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  std::map<std::string, Monitor> monitors;
  {
    std::lock_guard<std::mutex> lock(monitors_mu_);
    monitors.swap(monitors_);
  }
  for (auto& [key, m] : monitors) m.informer->Stop();
}

bool GarbageCollector::Synced() const {
  std::lock_guard<std::mutex> lock(monitors_mu_);
  for (const auto& [key, m] : monitors_) {
    if (!m.informer->HasSynced()) return false;
  }
  return !monitors_.empty();
}

size_t GarbageCollector::MonitorCount() const {
  std::lock_guard<std::mutex> lock(monitors_mu_);
  return monitors_.size();
}

void GarbageCollector::PollLoop() {
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!stopping_) {
    run_cv_.wait_for(lock, options_.registry_poll, [this] { return stopping_.load(); });
    if (stopping_) break;
    lock.unlock();
    SyncMonitors();
    lock.lock();
  }
}

void GarbageCollector::SyncMonitors() {
  const uint64_t generation = registry_->generation();
  {
    std::lock_guard<std::mutex> lock(monitors_mu_);
    if (!monitors_.empty() && generation == registry_generation_) return;
  }
  std::map<std::string, api::ResourcePtr> wanted;
  for (api::ResourcePtr& res : StoredResources(*registry_)) wanted[MonitorKey(*res)] = res;

  std::vector<std::unique_ptr<Informer>> stopped;
  std::vector<std::string> removed;
  std::vector<Informer*> to_start;
  {
    std::lock_guard<std::mutex> lock(monitors_mu_);
    registry_generation_ = generation;
    for (auto it = monitors_.begin(); it != monitors_.end();) {
      auto w = wanted.find(it->first);
      if (w == wanted.end() || w->second->version != it->second.res->version) {
        stopped.push_back(std::move(it->second.informer));
        removed.push_back(it->first);
        it = monitors_.erase(it);
      } else {
        it->second.res = w->second;  // a CRD update may change the schema, not the identity
        ++it;
      }
    }
    for (auto& [key, res] : wanted) {
      if (monitors_.count(key)) continue;
      Monitor m;
      m.res = res;
      m.resource = ClientResource(*res);
      InformerOptions io = options_.informer;
      io.transform = MetadataOnly;
      m.informer = std::make_unique<Informer>(client_, m.resource, io);
      const std::string monitor = key;
      m.informer->AddEventHandlers(EventHandlers{
          [this, monitor](const ObjectPtr& obj) { Observe(monitor, *obj); },
          [this, monitor](const ObjectPtr&, const ObjectPtr& obj) { Observe(monitor, *obj); },
          [this, monitor](const ObjectPtr& obj) { Forget(monitor, *obj); },
      });
      to_start.push_back(m.informer.get());
      monitors_.emplace(key, std::move(m));
    }
  }
  for (auto& informer : stopped) informer->Stop();
  for (const std::string& key : removed) RemoveNodesOf(key);
  for (Informer* informer : to_start) informer->Start();
}

void GarbageCollector::Observe(const std::string& monitor, const Json& obj) {
  const std::string uid = UidOf(obj);
  if (uid.empty()) return;
  std::vector<std::string> enqueue;
  {
    std::lock_guard<std::mutex> lock(graph_mu_);
    Node& node = nodes_[uid];
    std::set<std::string> old_owners;
    for (const OwnerRef& ref : node.owners) old_owners.insert(ref.uid);
    node.monitor = monitor;
    node.ns = NamespaceOf(obj);
    node.name = NameOf(obj);
    node.deleting = IsDeleting(obj);
    node.owners = OwnerRefs(obj);
    std::set<std::string> new_owners;
    for (const OwnerRef& ref : node.owners) new_owners.insert(ref.uid);

    for (const std::string& o : old_owners) {
      if (new_owners.count(o)) continue;
      auto d = dependents_.find(o);
      if (d != dependents_.end()) {
        d->second.erase(uid);
        if (d->second.empty()) dependents_.erase(d);
      }
      // An owner waiting for its dependents may be unblocked by this reference going away.
      auto owner = nodes_.find(o);
      if (owner != nodes_.end() && owner->second.deleting) enqueue.push_back(kDeletingOwner + o);
    }
    bool check = false;
    for (const OwnerRef& ref : node.owners) {
      dependents_[ref.uid].insert(uid);
      auto owner = nodes_.find(ref.uid);
      // An owner not in the graph may be gone (or merely not seen yet): ask the API server.
      if (owner == nodes_.end() || owner->second.deleting) check = true;
    }
    if (check && !node.deleting) enqueue.push_back(kAttemptToDelete + uid);
    if (node.deleting) {
      if (HasFinalizer(obj, kForeground) || HasFinalizer(obj, kOrphan)) {
        enqueue.push_back(kDeletingOwner + uid);
      }
    }
  }
  for (const std::string& item : enqueue) queue_.Add(item);
}

void GarbageCollector::Forget(const std::string& monitor, const Json& obj) {
  const std::string uid = UidOf(obj);
  if (uid.empty()) return;
  std::vector<std::string> enqueue;
  {
    std::lock_guard<std::mutex> lock(graph_mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end() || it->second.monitor != monitor) return;
    for (const OwnerRef& ref : it->second.owners) {
      auto d = dependents_.find(ref.uid);
      if (d != dependents_.end()) {
        d->second.erase(uid);
        if (d->second.empty()) dependents_.erase(d);
      }
      auto owner = nodes_.find(ref.uid);
      if (owner != nodes_.end() && owner->second.deleting) {
        enqueue.push_back(kDeletingOwner + ref.uid);
      }
    }
    nodes_.erase(it);
    // Its dependents may now be orphans of a vanished owner.
    if (auto d = dependents_.find(uid); d != dependents_.end()) {
      for (const std::string& dep : d->second) enqueue.push_back(kAttemptToDelete + dep);
    }
  }
  for (const std::string& item : enqueue) queue_.Add(item);
}

void GarbageCollector::RemoveNodesOf(const std::string& monitor) {
  std::vector<std::string> enqueue;
  {
    std::lock_guard<std::mutex> lock(graph_mu_);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (it->second.monitor != monitor) {
        ++it;
        continue;
      }
      for (const OwnerRef& ref : it->second.owners) {
        auto d = dependents_.find(ref.uid);
        if (d != dependents_.end()) {
          d->second.erase(it->first);
          if (d->second.empty()) dependents_.erase(d);
        }
      }
      if (auto d = dependents_.find(it->first); d != dependents_.end()) {
        for (const std::string& dep : d->second) enqueue.push_back(kAttemptToDelete + dep);
      }
      it = nodes_.erase(it);
    }
  }
  for (const std::string& item : enqueue) queue_.Add(item);
}

void GarbageCollector::Worker() {
  // Deciding that an owner has no dependents left needs the whole graph.
  while (!stopping_ && !Synced()) {
    std::unique_lock<std::mutex> lock(run_mu_);
    run_cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stopping_.load(); });
  }
  std::string item;
  while (queue_.Get(&item)) {
    StatusOr<Result> result = Status::Internal("unset");
    try {
      result = Process(item);
    } catch (const std::exception& e) {
      result = Status::Internal(std::string("garbage collector threw: ") + e.what());
    }
    if (!result.ok()) {
      SKIFF_LOG(Warn) << "garbage collector: " << item << ": " << result.status().ToString();
      queue_.AddRateLimited(item);
    } else if (result->requeue_after.count() > 0) {
      queue_.Forget(item);
      queue_.AddAfter(item, result->requeue_after);
    } else if (result->requeue) {
      queue_.AddRateLimited(item);
    } else {
      queue_.Forget(item);
    }
    queue_.Done(item);
  }
}

StatusOr<Result> GarbageCollector::Process(const std::string& item) {
  if (item.size() < 2) return Result{};
  const std::string uid = item.substr(1);
  if (item[0] == kAttemptToDelete) return AttemptToDelete(uid);
  if (item[0] == kDeletingOwner) return ProcessDeletingOwner(uid);
  return Result{};
}

bool GarbageCollector::LookupNode(const std::string& uid, Node* node, client::Resource* resource,
                                  bool* namespaced) {
  {
    std::lock_guard<std::mutex> lock(graph_mu_);
    auto it = nodes_.find(uid);
    if (it == nodes_.end()) return false;
    *node = it->second;
  }
  std::lock_guard<std::mutex> lock(monitors_mu_);
  auto m = monitors_.find(node->monitor);
  if (m == monitors_.end()) return false;
  *resource = m->second.resource;
  *namespaced = m->second.res->namespaced;
  return true;
}

StatusOr<GarbageCollector::OwnerState> GarbageCollector::ResolveOwner(
    const OwnerRef& ref, const std::string& dependent_ns, bool dependent_namespaced) {
  {
    // Fast path: a live owner in the graph with the same uid is solid.
    std::lock_guard<std::mutex> lock(graph_mu_);
    auto it = nodes_.find(ref.uid);
    if (it != nodes_.end() && !it->second.deleting) return OwnerState::kSolid;
  }
  const std::string group = GroupOf(ref.api_version);
  api::ResourcePtr res = registry_->FindByKind(group, VersionOf(ref.api_version), ref.kind);
  if (!res) {
    for (const api::ResourcePtr& r : registry_->All()) {
      if (r->group == group && r->kind == ref.kind) {
        res = r;
        break;
      }
    }
  }
  if (!res) return OwnerState::kUnresolvable;
  if (res->namespaced && !dependent_namespaced) return OwnerState::kUnresolvable;
  const std::string ns = res->namespaced ? dependent_ns : "";
  auto owner = client_->Get(client::Resource{res->group, res->version, res->plural}, ns, ref.name);
  if (!owner.ok()) {
    if (owner.status().code() == Code::kNotFound) return OwnerState::kDangling;
    return owner.status();
  }
  if (UidOf(*owner) != ref.uid) return OwnerState::kDangling;
  if (IsDeleting(*owner) && HasFinalizer(*owner, kForeground)) return OwnerState::kWaiting;
  return OwnerState::kSolid;
}

StatusOr<std::optional<Json>> GarbageCollector::LiveByUid(const std::string& uid, Node* node,
                                                          client::Resource* r, bool* namespaced) {
  if (!LookupNode(uid, node, r, namespaced)) return std::optional<Json>();
  // Decide on the live object, not the cache: deleting is not undoable.
  auto live = client_->Get(*r, node->ns, node->name);
  if (!live.ok()) {
    if (live.status().code() == Code::kNotFound) return std::optional<Json>();
    return live.status();
  }
  if (UidOf(*live) != uid) return std::optional<Json>();  // replaced by a namesake
  return std::optional<Json>(std::move(*live));
}

StatusOr<Result> GarbageCollector::AttemptToDelete(const std::string& uid) {
  Node node;
  client::Resource r;
  bool namespaced = true;
  auto found = LiveByUid(uid, &node, &r, &namespaced);
  if (!found.ok()) return found.status();
  if (!*found || IsDeleting(**found)) return Result{};
  Json* live = &**found;
  std::vector<OwnerRef> refs = OwnerRefs(*live);
  if (refs.empty()) return Result{};

  bool solid = false;
  std::set<std::string> dangling, waiting;
  for (const OwnerRef& ref : refs) {
    auto state = ResolveOwner(ref, node.ns, namespaced);
    if (!state.ok()) return state.status();
    switch (*state) {
      case OwnerState::kSolid:
      case OwnerState::kUnresolvable:
        solid = true;
        break;
      case OwnerState::kDangling:
        dangling.insert(ref.uid);
        break;
      case OwnerState::kWaiting:
        waiting.insert(ref.uid);
        break;
    }
  }
  if (solid) {
    // Still owned: drop only the references that would keep a deleting owner waiting or that point
    // at owners that are gone.
    std::set<std::string> drop = dangling;
    drop.insert(waiting.begin(), waiting.end());
    if (drop.empty()) return Result{};
    SKIFF_RETURN_IF_ERROR(RemoveOwnerRefs(r, node.ns, *live, drop));
    return Result{};
  }

  client::DeleteOptions opts;
  opts.precondition_uid = uid;
  bool has_dependents;
  {
    std::lock_guard<std::mutex> lock(graph_mu_);
    auto d = dependents_.find(uid);
    has_dependents = d != dependents_.end() && !d->second.empty();
  }
  if (!waiting.empty() && has_dependents) {
    // An owner waits for this object: so must this object wait for its own dependents.
    opts.propagation_policy = "Foreground";
  } else if (HasFinalizer(*live, kOrphan)) {
    opts.propagation_policy = "Orphan";
  } else if (HasFinalizer(*live, kForeground)) {
    opts.propagation_policy = "Foreground";
  } else {
    opts.propagation_policy = "Background";
  }
  SKIFF_LOG(Info) << "garbage collector: deleting " << r.plural << " " << ObjectKeyOf(*live) << " ("
                  << opts.propagation_policy << "): its owners are gone";
  auto deleted = client_->Delete(r, node.ns, node.name, opts);
  if (!deleted.ok() && deleted.status().code() != Code::kNotFound &&
      deleted.status().code() != Code::kConflict) {
    return deleted.status();
  }
  return Result{};
}

StatusOr<Result> GarbageCollector::ProcessDeletingOwner(const std::string& uid) {
  Node node;
  client::Resource r;
  bool namespaced = true;
  auto found = LiveByUid(uid, &node, &r, &namespaced);
  if (!found.ok()) return found.status();
  if (!*found || !IsDeleting(**found)) return Result{};
  Json* live = &**found;
  if (!Synced()) return Result{.requeue_after = std::chrono::milliseconds(200)};

  auto deps = LiveDependents(uid, node.ns, namespaced);
  if (!deps.ok()) return deps.status();

  if (HasFinalizer(*live, kOrphan)) {
    for (const Dependent& dep : *deps) {
      SKIFF_RETURN_IF_ERROR(RemoveOwnerRefs(dep.resource, dep.ns, dep.object, {uid}));
    }
    SKIFF_RETURN_IF_ERROR(RemoveFinalizer(r, node.ns, *live, kOrphan));
    return Result{};
  }

  if (HasFinalizer(*live, kForeground)) {
    size_t blocking = 0;
    for (const Dependent& dep : *deps) {
      if (!IsDeleting(dep.object)) queue_.Add(kAttemptToDelete + UidOf(dep.object));
      for (const OwnerRef& ref : OwnerRefs(dep.object)) {
        if (ref.uid == uid && ref.block_owner_deletion) {
          ++blocking;
          break;
        }
      }
    }
    if (blocking == 0) {
      SKIFF_RETURN_IF_ERROR(RemoveFinalizer(r, node.ns, *live, kForeground));
      return Result{};
    }
    // Dependents' deletions wake this item; the timer is a safety net against a missed event.
    return Result{.requeue_after = std::chrono::seconds(5)};
  }
  return Result{};
}

StatusOr<std::vector<GarbageCollector::Dependent>> GarbageCollector::LiveDependents(
    const std::string& owner_uid, const std::string& owner_ns, bool owner_namespaced) {
  // The graph may lag behind the API (a dependent created a moment before its owner's deletion may
  // not have reached its informer yet), and deciding "no dependents left" wrongly would orphan or
  // delete too early. So the dependents of a deleting owner are read live: in the owner's
  // namespace for a namespaced owner, everywhere for a cluster-scoped one. Deletions with these
  // policies are rare, which keeps this affordable.
  std::vector<std::pair<client::Resource, bool>> kinds;
  {
    std::lock_guard<std::mutex> lock(monitors_mu_);
    for (const auto& [key, m] : monitors_) kinds.emplace_back(m.resource, m.res->namespaced);
  }
  std::vector<Dependent> out;
  for (const auto& [r, namespaced] : kinds) {
    if (owner_namespaced && !namespaced) continue;  // cluster-scoped dependents are invalid
    auto list = client_->List(r, owner_namespaced ? owner_ns : "", {});
    if (!list.ok()) {
      if (list.status().code() == Code::kNotFound) continue;  // kind removed meanwhile
      return list.status();
    }
    for (Json& item : (*list)["items"]) {
      bool owned = false;
      for (const OwnerRef& ref : OwnerRefs(item)) owned = owned || ref.uid == owner_uid;
      if (owned) out.push_back(Dependent{r, NamespaceOf(item), std::move(item)});
    }
  }
  return out;
}

Status GarbageCollector::RemoveOwnerRefs(const client::Resource& r, const std::string& ns,
                                         const Json& live, const std::set<std::string>& uids) {
  const Json* refs = FindPath(live, "metadata.ownerReferences");
  if (!refs || !refs->is_array()) return Status::Ok();
  Json keep = Json::array();
  for (const Json& ref : *refs) {
    if (ref.is_object() && uids.count(ref.value("uid", ""))) continue;
    keep.push_back(ref);
  }
  if (keep.size() == refs->size()) return Status::Ok();
  // The resourceVersion makes the patch conditional: the list we computed replaces the whole field.
  Json patch = {{"metadata",
                 {{"ownerReferences", keep.empty() ? Json(nullptr) : keep},
                  {"resourceVersion", ResourceVersionOf(live)}}}};
  auto patched = client_->Patch(r, ns, NameOf(live), client::PatchType::kMerge, patch.dump());
  if (!patched.ok() && patched.status().code() != Code::kNotFound) return patched.status();
  return Status::Ok();
}

Status GarbageCollector::RemoveFinalizer(const client::Resource& r, const std::string& ns,
                                         const Json& live, const std::string& finalizer) {
  Json keep = Json::array();
  for (const std::string& f : Finalizers(live)) {
    if (f != finalizer) keep.push_back(f);
  }
  Json patch = {{"metadata",
                 {{"finalizers", keep.empty() ? Json(nullptr) : keep},
                  {"resourceVersion", ResourceVersionOf(live)}}}};
  auto patched = client_->Patch(r, ns, NameOf(live), client::PatchType::kMerge, patch.dump());
  if (!patched.ok() && patched.status().code() != Code::kNotFound) return patched.status();
  return Status::Ok();
}

}  // namespace skiff::controllers

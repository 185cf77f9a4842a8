#include "controllers/manager.h"

#include "common/log.h"
#include "controllers/object_meta.h"

namespace skiff::controllers {
namespace {

std::string ResourceKey(const client::Resource& r) {
  return r.group + "/" + r.version + "/" + r.plural;
}

// Adapts a function to the Reconciler interface.
class FuncReconciler : public Reconciler {
 public:
  explicit FuncReconciler(ReconcileFunc f) : f_(std::move(f)) {}
  StatusOr<Result> Reconcile(const Request& request) override { return f_(request); }

 private:
  ReconcileFunc f_;
};

}  // namespace

// ---- Controller ----

Controller::Controller(Manager* mgr, std::string name, int workers,
                       std::unique_ptr<Reconciler> reconciler)
    : mgr_(mgr), name_(std::move(name)), workers_(workers), reconciler_(std::move(reconciler)) {}

Controller::~Controller() { Stop(); }

void Controller::Enqueue(const Request& request) {
  queue_.Add(ObjectKey(request.ns, request.name));
}

void Controller::EnqueueAfter(const Request& request, std::chrono::milliseconds delay) {
  queue_.AddAfter(ObjectKey(request.ns, request.name), delay);
}

void Controller::Handle(const Source& source, const Json& obj) {
  for (const Request& r : source.map(obj)) {
    if (!r.name.empty()) Enqueue(r);
  }
}

void Controller::Start() {
  for (Source& s : sources_) {
    const Source* src = &s;
    s.informer->AddEventHandlers(EventHandlers{
        [this, src](const ObjectPtr& obj) { Handle(*src, *obj); },
        [this, src](const ObjectPtr& old_obj, const ObjectPtr& obj) {
          Handle(*src, *old_obj);
          Handle(*src, *obj);
        },
        [this, src](const ObjectPtr& obj) { Handle(*src, *obj); },
    });
  }
  for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { Worker(); });
}

void Controller::Stop() {
  stopping_ = true;
  queue_.ShutDown();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Controller::Worker() {
  // Reconciling before the caches are full would act on a partial view of the world.
  for (const Source& s : sources_) {
    while (!stopping_ && !s.informer->WaitForSync(std::chrono::milliseconds(100))) {
    }
  }
  std::string key;
  while (queue_.Get(&key)) {
    Request request;
    SplitObjectKey(key, &request.ns, &request.name);
    StatusOr<Result> result = Status::Internal("unset");
    try {
      result = reconciler_->Reconcile(request);
    } catch (const std::exception& e) {
      // A reconciler bug (e.g. a JSON type error) must not take the process down.
      result = Status::Internal(std::string("reconciler threw: ") + e.what());
    }
    if (!result.ok()) {
      ++errors_;
      SKIFF_LOG(Warn) << "controller " << name_ << ": reconcile " << key
                      << " failed: " << result.status().ToString();
      queue_.AddRateLimited(key);
    } else {
      ++reconciles_;
      if (result->requeue_after > std::chrono::milliseconds(0)) {
        queue_.Forget(key);
        queue_.AddAfter(key, result->requeue_after);
      } else if (result->requeue) {
        queue_.AddRateLimited(key);
      } else {
        queue_.Forget(key);
      }
    }
    queue_.Done(key);
  }
}

// ---- ControllerBuilder ----

ControllerBuilder& ControllerBuilder::For(const client::Resource& resource, Scope scope) {
  has_for_ = true;
  for_ = resource;
  for_scope_ = scope;
  return *this;
}

ControllerBuilder& ControllerBuilder::Owns(const client::Resource& resource) {
  owns_.push_back(resource);
  return *this;
}

ControllerBuilder& ControllerBuilder::Watches(const client::Resource& resource, MapFunc map) {
  watches_.emplace_back(resource, std::move(map));
  return *this;
}

ControllerBuilder& ControllerBuilder::WithWorkers(int workers) {
  workers_ = workers > 0 ? workers : 1;
  return *this;
}

Controller* ControllerBuilder::Complete(ReconcileFunc reconcile) {
  return Complete(std::make_unique<FuncReconciler>(std::move(reconcile)));
}

Controller* ControllerBuilder::Complete(std::unique_ptr<Reconciler> reconciler) {
  std::unique_ptr<Controller> c(new Controller(mgr_, name_, workers_, std::move(reconciler)));
  if (has_for_) {
    c->sources_.push_back({for_, mgr_->GetInformer(for_), [](const Json& obj) {
                             return std::vector<Request>{{NamespaceOf(obj), NameOf(obj)}};
                           }});
  }
  for (const client::Resource& owned : owns_) {
    if (!has_for_) {
      SKIFF_LOG(Error) << "controller " << name_ << ": Owns needs For; ignoring";
      break;
    }
    Manager* mgr = mgr_;
    const client::Resource owner = for_;
    const bool cluster_owner = for_scope_ == Scope::kCluster;
    MapFunc map = [mgr, owner, cluster_owner](const Json& obj) {
      std::vector<Request> out;
      for (const OwnerRef& ref : OwnerRefs(obj)) {
        if (!ref.controller || GroupOf(ref.api_version) != owner.group) continue;
        if (ref.kind != mgr->KindOf(owner)) continue;
        out.push_back({cluster_owner ? "" : NamespaceOf(obj), ref.name});
      }
      return out;
    };
    c->sources_.push_back({owned, mgr_->GetInformer(owned), std::move(map)});
  }
  for (auto& [resource, map] : watches_) {
    c->sources_.push_back({resource, mgr_->GetInformer(resource), std::move(map)});
  }
  return mgr_->AddController(std::move(c));
}

// ---- Manager ----

Manager::Manager(client::Client* client, ManagerOptions options)
    : client_(client), options_(std::move(options)) {}

Manager::~Manager() { Stop(); }

Informer* Manager::GetInformer(const client::Resource& resource) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = informers_[ResourceKey(resource)];
  if (!slot) {
    slot = std::make_unique<Informer>(client_, resource, options_.informer);
    if (started_ && !stopped_) slot->Start();
  }
  return slot.get();
}

Controller* Manager::AddController(std::unique_ptr<Controller> controller) {
  // Starting a controller replays informer caches into its handlers, which may call KindOf (mu_),
  // so only lifecycle_mu_ is held while starting.
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  Controller* c = controller.get();
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    controllers_.push_back(std::move(controller));
    running = started_ && !stopped_;
  }
  if (running) c->Start();
  return c;
}

void Manager::Add(std::unique_ptr<Runnable> runnable) {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  Runnable* r = runnable.get();
  bool running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    runnables_.push_back(std::move(runnable));
    running = started_ && !stopped_;
  }
  if (running) r->Start();
}

void Manager::Start() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  std::vector<Controller*> controllers;
  std::vector<Runnable*> runnables;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_ || stopped_) return;
    started_ = true;
    for (auto& [key, informer] : informers_) informer->Start();
    for (auto& c : controllers_) controllers.push_back(c.get());
    for (auto& r : runnables_) runnables.push_back(r.get());
  }
  for (Controller* c : controllers) c->Start();
  for (Runnable* r : runnables) r->Start();
}

void Manager::Stop() {
  std::lock_guard<std::mutex> lifecycle(lifecycle_mu_);
  std::vector<Controller*> controllers;
  std::vector<Runnable*> runnables;
  std::vector<Informer*> informers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& c : controllers_) controllers.push_back(c.get());
    for (auto& r : runnables_) runnables.push_back(r.get());
    for (auto& [key, i] : informers_) informers.push_back(i.get());
  }
  // Outside mu_: a reconcile finishing may still ask for an informer or a kind.
  for (Controller* c : controllers) c->Stop();
  for (auto it = runnables.rbegin(); it != runnables.rend(); ++it) (*it)->Stop();
  for (Informer* i : informers) i->Stop();
}

bool Manager::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

bool Manager::WaitForCacheSync(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<Informer*> informers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, i] : informers_) informers.push_back(i.get());
  }
  for (Informer* i : informers) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0 || !i->WaitForSync(left)) return false;
  }
  return true;
}

std::string Manager::KindOf(const client::Resource& resource) {
  const std::string key = ResourceKey(resource);
  Informer* informer = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = kinds_.find(key); it != kinds_.end()) return it->second;
    if (auto it = informers_.find(key); it != informers_.end()) informer = it->second.get();
  }
  std::string kind = informer ? informer->kind() : "";
  if (kind.empty()) {
    client::ListOptions lo;
    lo.limit = 1;
    auto list = client_->List(resource, "", lo);
    if (list.ok() && list->contains("kind") && (*list)["kind"].is_string()) {
      kind = (*list)["kind"].get<std::string>();
      if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
        kind.resize(kind.size() - 4);
      }
    }
  }
  if (!kind.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    kinds_[key] = kind;
  }
  return kind;
}

}  // namespace skiff::controllers

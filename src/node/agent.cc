// The node agent: one pod worker state per Pod bound to this node, synced by a small pool of
// threads from a de-duplicating queue. Everything that happens to a Pod (an API change, a
// container exit, a probe result, a back-off timer) queues its key; a sync reads the current
// state, takes the next steps and writes the status once if it changed.

#include "node/agent_impl.h"

namespace skiff::node {

// ---------------------------------------------------------------------------------- lifecycle

Status NodeAgent::Impl::Init() {
  if (o_.data_dir.empty()) return Status::Invalid("node agent: data_dir is required");
  if (o_.node_name.empty()) o_.node_name = DefaultNodeName();
  std::error_code ec;
  fs::create_directories(o_.data_dir + "/pods", ec);
  fs::create_directories(ContainersRoot(o_.data_dir), ec);
  machine_ = DetectMachine();
  machine_.max_pods = o_.max_pods;

  auto recovered = runtime_->Recover(ContainersRoot(o_.data_dir));
  if (!recovered.ok()) return recovered.status();
  for (runtime::ContainerState& st : *recovered) {
    IdParts parts = SplitId(st.id);
    if (parts.uid.empty()) continue;
    recovered_[parts.uid].push_back(std::move(st));
  }

  gate_->impl = this;
  std::shared_ptr<Gate> gate = gate_;
  runtime_->SetExitCallback([gate](const std::string& id, const runtime::ExitInfo& info) {
    std::shared_lock<std::shared_mutex> lock(gate->mu);
    if (gate->impl == nullptr) return;
    NodeAgent::Impl* self = gate->impl;
    IdParts parts = SplitId(id);
    std::string key;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      auto w = self->exec_waits_.find(id);
      if (w != self->exec_waits_.end()) {
        w->second.done = true;
        w->second.info = info;
        self->exec_cv_.notify_all();
        return;
      }
      if (self->shutdown_pending_.erase(id) > 0) self->shutdown_cv_.notify_all();
      auto k = self->key_by_uid_.find(parts.uid);
      if (parts.aux) return;
      if (k == self->key_by_uid_.end()) {
        // An adopted container that ended before its Pod's worker exists.
        auto r = self->recovered_.find(parts.uid);
        if (r != self->recovered_.end()) {
          for (auto& st : r->second) {
            if (st.id == id) st.exit = info;
          }
        }
        return;
      }
      key = k->second;
      Mail m;
      m.type = Mail::Type::kExit;
      m.container_id = id;
      m.exit = info;
      self->mail_[key].push_back(std::move(m));
    }
    self->Touch(key);
  });

  events_ = std::make_unique<EventQueue>(client_, o_.node_name);
  probe_pool_ = std::make_unique<JobPool>(o_.probe_workers);
  timers_ = std::make_unique<TimerQueue>();
  timers_->RunAfter(milliseconds(1000), [this] { WatchCatalog(); });
  for (int i = 0; i < std::max(1, o_.workers); ++i) workers_.emplace_back([this] { Worker(); });

  // One shared informer for all Pods: the agent needs this node's Pods and, for hosts files,
  // every Pod's address in their namespaces; the scheduler shares the same cache.
  pods_ = mgr_.GetInformer(kPods);
  configmaps_ = mgr_.GetInformer(kConfigMaps);
  secrets_ = mgr_.GetInformer(kSecrets);
  services_ = mgr_.GetInformer(kServices);
  claims_ = mgr_.GetInformer(kClaims);
  auto guarded = [gate](auto fn) {
    return [gate, fn](auto&&... args) {
      std::shared_lock<std::shared_mutex> lock(gate->mu);
      if (gate->impl != nullptr) fn(gate->impl, args...);
    };
  };
  controllers::EventHandlers pod_handlers;
  pod_handlers.on_add = guarded([](Impl* s, const ObjectPtr& o) { s->OnPod(nullptr, o, false); });
  pod_handlers.on_update =
      guarded([](Impl* s, const ObjectPtr& old, const ObjectPtr& o) { s->OnPod(old, o, false); });
  pod_handlers.on_delete = guarded([](Impl* s, const ObjectPtr& o) { s->OnPod(nullptr, o, true); });
  pods_->AddEventHandlers(pod_handlers);
  for (controllers::Informer* inf : {configmaps_, secrets_, claims_}) {
    controllers::EventHandlers h;
    h.on_add = guarded([](Impl* s, const ObjectPtr& o) { s->OnConfig(*o); });
    h.on_update = guarded([](Impl* s, const ObjectPtr&, const ObjectPtr& o) { s->OnConfig(*o); });
    inf->AddEventHandlers(h);
  }
  controllers::EventHandlers sh;
  sh.on_add = guarded([](Impl* s, const ObjectPtr& o) { s->OnService(*o); });
  sh.on_update = guarded([](Impl* s, const ObjectPtr&, const ObjectPtr& o) { s->OnService(*o); });
  sh.on_delete = guarded([](Impl* s, const ObjectPtr& o) { s->OnService(*o); });
  services_->AddEventHandlers(sh);

  heartbeat_ = std::thread([this] { HeartbeatLoop(); });
  return Status::Ok();
}

void NodeAgent::Impl::StopThreads() {
  if (threads_stopped_) return;
  threads_stopped_ = true;
  {
    std::unique_lock<std::shared_mutex> lock(gate_->mu);
    gate_->impl = nullptr;
  }
  runtime_->SetExitCallback([](const std::string&, const runtime::ExitInfo&) {});
  stopping_ = true;
  { std::lock_guard<std::mutex> lock(hb_mu_); }
  hb_cv_.notify_all();
  {
    std::lock_guard<std::mutex> lock(mu_);
    exec_cv_.notify_all();
  }
  queue_.ShutDown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  if (heartbeat_.joinable()) heartbeat_.join();
  timers_.reset();
  probe_pool_.reset();
  events_.reset();
}

// ---------------------------------------------------------------------------------- events in

void NodeAgent::Impl::Touch(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_by_key_.find(key);
    if (it != workers_by_key_.end()) it->second->changes.fetch_add(1);
  }
  queue_.Add(key);
}

void NodeAgent::Impl::OnPod(const ObjectPtr& old_obj, const ObjectPtr& obj, bool deleted) {
  const Json& pod = *obj;
  const std::string key = controllers::ObjectKeyOf(pod);
  bool mine = NodeNameOf(pod) == o_.node_name;
  if (mine) {
    if (!deleted) {
      // Keep the address a Pod already has (restart of skiff) before anything allocates.
      std::string ip = Str(Field(pod, "status"), "podIP");
      std::lock_guard<std::mutex> lock(mu_);
      if (!ip.empty() && !ip_by_key_.count(key) && !used_ips_.count(ip) &&
          ip.rfind("127.0.", 0) == 0) {
        used_ips_.insert(ip);
        ip_by_key_[key] = ip;
      }
    }
    Touch(key);
  }
  // Hosts files of the namespace change when an address appears, moves or goes.
  std::string new_ip = deleted ? "" : Str(Field(pod, "status"), "podIP");
  std::string old_ip = old_obj ? Str(Field(*old_obj, "status"), "podIP") : "";
  std::string new_phase = deleted ? "" : PhaseOf(pod);
  std::string old_phase = old_obj ? PhaseOf(*old_obj) : "";
  if (new_ip != old_ip || (deleted && !old_ip.empty()) ||
      (!new_ip.empty() && new_phase != old_phase) || deleted) {
    queue_.Add(kHostsPrefix + NamespaceOf(pod));
  }
}

void NodeAgent::Impl::OnConfig(const Json& obj) {
  const std::string ns = NamespaceOf(obj);
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, w] : workers_by_key_) {
      if (w->ns == ns) keys.push_back(key);
    }
  }
  for (const std::string& k : keys) Touch(k);
}

void NodeAgent::Impl::OnService(const Json& obj) { queue_.Add(kHostsPrefix + NamespaceOf(obj)); }

void NodeAgent::Impl::Worker() {
  std::string key;
  while (queue_.Get(&key)) {
    if (key.rfind(kHostsPrefix, 0) == 0) {
      RewriteHosts(key.substr(std::string(kHostsPrefix).size()));
    } else {
      Sync(key);
    }
    queue_.Done(key);
  }
}

// ---------------------------------------------------------------------------------- pod worker

std::shared_ptr<PodWorker> NodeAgent::Impl::NewWorker(const Json& pod) {
  auto w = std::make_shared<PodWorker>();
  w->key = controllers::ObjectKeyOf(pod);
  w->ns = NamespaceOf(pod);
  w->name = NameOf(pod);
  w->uid = UidOf(pod);
  w->pod = pod;
  w->dir = PodDir(o_.data_dir, w->ns, w->name, w->uid);
  const Json& spec = Field(pod, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    const Json& cs = Field(spec, list);
    if (!cs.is_array()) continue;
    for (const Json& c : cs) {
      ContainerRun run;
      run.name = Str(c, "name");
      run.init = std::string(list) == "initContainers";
      run.spec = c;
      (run.init ? w->inits : w->containers).push_back(std::move(run));
    }
  }
  return w;
}

milliseconds NodeAgent::Impl::PodGrace(const PodWorker* w) const {
  const Json& meta = Field(w->pod, "metadata");
  int64_t s = Int(meta, "deletionGracePeriodSeconds", -1);
  if (s < 0) s = Int(Field(w->pod, "spec"), "terminationGracePeriodSeconds", 30);
  return milliseconds(std::max<int64_t>(0, s) * 1000);
}

void NodeAgent::Impl::Sync(const std::string& key) {
  std::string ns, name;
  controllers::SplitObjectKey(key, &ns, &name);
  ObjectPtr obj = pods_ ? pods_->Get(ns, name) : nullptr;
  std::shared_ptr<PodWorker> w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_by_key_.find(key);
    if (it != workers_by_key_.end()) w = it->second;
  }
  const bool present = obj && NodeNameOf(*obj) == o_.node_name;
  if (w && (!present || UidOf(*obj) != w->uid)) {
    Teardown(w);
    w.reset();
  }
  if (!present) return;
  if (!w) {
    if (shutting_down_ || stopping_) return;
    w = NewWorker(*obj);
    {
      std::lock_guard<std::mutex> lock(mu_);
      workers_by_key_[key] = w;
      key_by_uid_[w->uid] = key;
    }
    std::lock_guard<std::mutex> lock(w->mu);
    Recover(w.get());
  }

  std::lock_guard<std::mutex> lock(w->mu);
  const uint64_t changes_at_start = w->changes.load();
  if (RvOf(*obj) >= RvOf(w->pod)) w->pod = *obj;
  std::vector<Mail> mail;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = mail_.find(key);
    if (it != mail_.end()) {
      mail = std::move(it->second);
      mail_.erase(it);
    }
  }
  for (const Mail& m : mail) ApplyMail(w.get(), m);
  if (w->deleted) return;

  if (!shutting_down_ && !stopping_) Step(w.get());
  if (w->adopted_terminal && !w->terminating) {
    FlushEvents(w.get());
    return;
  }

  if (w->just_started) {
    // A container just started: write its status a moment later, so one that ends at once (a
    // task, a probe-less job step) gets one write with its final state instead of "Running"
    // then "Succeeded"; an exit arriving meanwhile syncs at once.
    w->just_started = false;
    queue_.AddAfter(key, kStartSettle);
    return;
  }
  Json status = ComputeStatus(w.get());
  // Coalesce: when something happened meanwhile, the queued sync writes the newer state (and
  // posts the events gathered so far).
  if (w->changes.load() != changes_at_start) return;
  if (status != w->last_status) {
    if (!WriteStatus(w.get(), status)) {
      FlushEvents(w.get());
      queue_.AddRateLimited(key);
      return;
    }
  }
  FlushEvents(w.get());
  queue_.Forget(key);

  if (w->terminating && !w->deleted) {
    bool any_running = false;
    for (auto* list : {&w->inits, &w->containers}) {
      for (const ContainerRun& c : *list) any_running |= c.running;
    }
    if (!any_running) {
      client::DeleteOptions del;
      del.grace_period_seconds = 0;
      del.precondition_uid = w->uid;
      auto r = client_->Delete(kPods, w->ns, w->name, del);
      if (r.ok() || r.status().code() == Code::kNotFound) {
        w->deleted = true;
      } else {
        SKIFF_LOG(Warn) << "node agent: delete pod " << key << ": " << r.status().ToString();
        queue_.AddRateLimited(key);
      }
    }
  }
}

void NodeAgent::Impl::Teardown(const std::shared_ptr<PodWorker>& w) {
  std::lock_guard<std::mutex> lock(w->mu);
  for (auto* list : {&w->inits, &w->containers}) {
    for (ContainerRun& c : *list) {
      for (auto& p : c.probes) p->active = false;
      // Only the last two runs are kept (see StartContainer); Remove stops a running one first.
      for (int n = std::max(0, c.runs - 2); n < c.runs; ++n) {
        runtime_->Remove(ContainerId(w->uid, c.name, n));
      }
    }
  }
  std::error_code ec;
  fs::remove_all(w->dir, ec);
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = workers_by_key_.find(w->key);
    if (it != workers_by_key_.end() && it->second == w) workers_by_key_.erase(it);
    key_by_uid_.erase(w->uid);
    mail_.erase(w->key);
    recovered_.erase(w->uid);
    auto ip = ip_by_key_.find(w->key);
    if (ip != ip_by_key_.end() && ip->second == w->ip) {
      used_ips_.erase(ip->second);
      ip_by_key_.erase(ip);
    }
    for (auto it2 = gpu_owner_.begin(); it2 != gpu_owner_.end();) {
      it2 = it2->second == w->uid ? gpu_owner_.erase(it2) : std::next(it2);
    }
  }
  queue_.Add(kHostsPrefix + w->ns);
}

// Rebuilds a worker's containers from what the runtime recovered and what the Pod's status says
// (this agent may be a new process adopting the Pod).
void NodeAgent::Impl::Recover(PodWorker* w) {
  const Json& status = Field(w->pod, "status");
  const std::string phase = Str(status, "phase");
  std::vector<runtime::ContainerState> states;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = recovered_.find(w->uid);
    if (it != recovered_.end()) {
      states = std::move(it->second);
      recovered_.erase(it);
    }
    auto ip = ip_by_key_.find(w->key);
    if (ip != ip_by_key_.end()) w->ip = ip->second;
  }
  ParseRfc3339(Str(status, "startTime"), &w->start_time);
  if (phase == "Succeeded" || phase == "Failed") {
    w->terminal = true;
    w->adopted_terminal = true;
    w->last_status = status;
  }
  auto status_of = [&](const ContainerRun& c) -> const Json* {
    const Json& list = Field(status, c.init ? "initContainerStatuses" : "containerStatuses");
    if (!list.is_array()) return nullptr;
    for (const Json& cs : list) {
      if (Str(cs, "name") == c.name) return &cs;
    }
    return nullptr;
  };
  for (auto* list : {&w->inits, &w->containers}) {
    for (ContainerRun& c : *list) {
      std::map<int, const runtime::ContainerState*> runs;
      for (const auto& st : states) {
        IdParts p = SplitId(st.id);
        if (p.aux && c.name == p.name) runtime_->Remove(st.id);  // a probe cut off by the restart
        if (p.name == c.name && !p.aux && p.n >= 0) runs[p.n] = &st;
      }
      const Json* cs = status_of(c);
      if (cs != nullptr) {
        c.last_term = TerminatedFromJson(Field(Field(*cs, "lastState"), "terminated"));
        c.image_id = Str(*cs, "imageID");
        if (c.image_id.rfind("skiff-image://", 0) == 0) c.image_id = c.image_id.substr(14);
      }
      if (!runs.empty()) {
        auto latest = runs.rbegin();
        c.runs = latest->first + 1;
        c.id = latest->second->id;
        c.started_at = latest->second->started_at;
        if (latest->second->exit) {
          c.term = FromExit(c.id, *latest->second->exit);
        } else {
          c.running = true;
          c.adopted = true;
          c.started =
              cs == nullptr || Field(*cs, "started").is_null() || Field(*cs, "started") == true;
          c.ready = cs != nullptr && Field(*cs, "ready") == true;
        }
        auto prev = runs.find(latest->first - 1);
        if (prev != runs.end() && prev->second->exit) {
          c.last_term = FromExit(prev->second->id, *prev->second->exit);
        }
        continue;
      }
      if (cs == nullptr) continue;
      int restarts = static_cast<int>(Int(*cs, "restartCount", 0));
      const Json& state = Field(*cs, "state");
      if (state.contains("running")) {
        // It claimed to run, but no container of it is left: upstream's wording for a container
        // that vanished.
        c.runs = restarts + 1;
        c.id = ContainerId(w->uid, c.name, restarts);
        Terminated t;
        t.exit_code = 137;
        t.reason = "ContainerStatusUnknown";
        t.message = "The container could not be located when the pod was terminated";
        ParseRfc3339(Str(Field(state, "running"), "startedAt"), &t.started);
        t.finished = Clock::Real()->Now();
        c.term = t;
      } else if (state.contains("terminated")) {
        c.runs = restarts + 1;
        c.term = TerminatedFromJson(Field(state, "terminated"));
      } else if (c.last_term) {
        c.runs = restarts + 1;
        c.term = c.last_term;
        c.last_term.reset();
      }
    }
  }
  if (w->terminal) {
    // Nothing of a finished Pod runs again; stop leftovers of an interrupted termination.
    for (auto* list : {&w->inits, &w->containers}) {
      for (ContainerRun& c : *list) {
        if (c.running) runtime_->Stop(c.id, milliseconds(0));
      }
    }
  }
}

void NodeAgent::Impl::ApplyMail(PodWorker* w, const Mail& m) {
  auto find = [&](auto pred) -> ContainerRun* {
    for (auto* list : {&w->inits, &w->containers}) {
      for (ContainerRun& c : *list) {
        if (pred(c)) return &c;
      }
    }
    return nullptr;
  };
  if (m.type == Mail::Type::kExit) {
    ContainerRun* c = find([&](const ContainerRun& c) { return c.id == m.container_id; });
    if (c == nullptr || !c->running) return;
    c->running = false;
    c->ready = false;
    c->stop_sent = false;
    c->term = FromExit(m.container_id, m.exit);
    for (auto& p : c->probes) p->active = false;
    c->probes.clear();
    // A run that lasted long enough forgets its back-off.
    if (c->term->finished - c->term->started >= o_.backoff_reset) c->backoff = milliseconds(0);
    return;
  }
  ContainerRun* c = find([&](const ContainerRun& c) { return c.name == m.container; });
  if (c == nullptr || !c->running || c->id != m.container_id) return;
  const Json* probe = &Field(c->spec, (m.kind + "Probe").c_str());
  int success_threshold = static_cast<int>(Int(*probe, "successThreshold", 1));
  int failure_threshold = static_cast<int>(Int(*probe, "failureThreshold", 3));
  const std::string label = m.kind == "liveness"    ? "Liveness"
                            : m.kind == "readiness" ? "Readiness"
                                                    : "Startup";
  if (!m.ok) Event(w, "Warning", "Unhealthy", label + " probe failed: " + m.message);
  if (m.kind == "startup") {
    if (m.ok) {
      c->start_fail = 0;
      if (!c->started) {
        c->started = true;
        for (auto& p : c->probes) {
          p->started = true;
          if (p->kind == "startup") p->active = false;
        }
      }
    } else if (++c->start_fail >= failure_threshold && !c->stop_sent) {
      Event(w, "Normal", "Killing",
            "Container " + c->name + " failed startup probe, will be restarted");
      StopContainer(w, c, PodGrace(w), false);
    }
  } else if (m.kind == "liveness") {
    if (m.ok) {
      c->live_fail = 0;
    } else if (++c->live_fail >= failure_threshold && !c->stop_sent) {
      Event(w, "Normal", "Killing",
            "Container " + c->name + " failed liveness probe, will be restarted");
      StopContainer(w, c, PodGrace(w), false);
    }
  } else {
    if (m.ok) {
      c->ready_fail = 0;
      if (++c->ready_succ >= success_threshold) c->ready = true;
    } else {
      c->ready_succ = 0;
      if (++c->ready_fail >= failure_threshold) c->ready = false;
    }
  }
}

bool NodeAgent::Impl::ShouldRestart(const PodWorker* w, const ContainerRun& c) const {
  if (c.running || !c.term) return false;
  std::string policy = Str(Field(w->pod, "spec"), "restartPolicy");
  if (policy.empty()) policy = "Always";
  if (c.init && policy == "Always") policy = "OnFailure";  // init containers must succeed once
  if (policy == "Never") return false;
  if (policy == "OnFailure") return c.term->exit_code != 0;
  return true;
}

void NodeAgent::Impl::StopContainer(PodWorker* w, ContainerRun* c, milliseconds grace,
                                    bool run_pre_stop) {
  if (!c->running || c->stop_sent) return;
  c->stop_sent = true;
  const Json& pre_stop = Field(Field(c->spec, "lifecycle"), "preStop");
  const std::string id = c->id;
  if (!run_pre_stop || !pre_stop.is_object()) {
    runtime_->Stop(id, grace);
    return;
  }
  // preStop runs first (best effort, within the grace period), then SIGTERM.
  runtime::ContainerSpec base = c->run_spec;
  Json container = c->spec;
  std::string ip = w->ip;
  probe_pool_->Submit([this, base, container, pre_stop, id, grace, ip] {
    auto begin = Steady::now();
    if (pre_stop.contains("exec")) {
      std::vector<std::string> cmd;
      for (const Json& a : Field(Field(pre_stop, "exec"), "command")) {
        if (a.is_string()) cmd.push_back(a.get<std::string>());
      }
      std::string out;
      RunExec(base, id + ".prestop", cmd, grace, &out);
    } else if (pre_stop.contains("httpGet")) {
      HttpGetProbe(Field(pre_stop, "httpGet"), container, ip, grace);
    } else if (pre_stop.contains("sleep")) {
      int64_t s = Int(Field(pre_stop, "sleep"), "seconds", 0);
      std::this_thread::sleep_for(std::min(grace, milliseconds(s * 1000)));
    }
    auto used = std::chrono::duration_cast<milliseconds>(Steady::now() - begin);
    runtime_->Stop(id, std::max(milliseconds(0), grace - used));
  });
}

void NodeAgent::Impl::Step(PodWorker* w) {
  const Json& meta = Field(w->pod, "metadata");
  const Json& spec = Field(w->pod, "spec");
  auto all_stop = [&](milliseconds grace, bool events) {
    for (auto* list : {&w->inits, &w->containers}) {
      for (ContainerRun& c : *list) {
        if (!c.running || c.stop_sent) continue;
        if (events) Event(w, "Normal", "Killing", "Stopping container " + c.name);
        StopContainer(w, &c, grace, events);
      }
    }
  };

  if (meta.contains("deletionTimestamp")) {
    if (!w->terminating) {
      w->terminating = true;
      all_stop(PodGrace(w), true);
    }
    return;
  }
  if (w->terminal) {
    all_stop(milliseconds(0), false);
    return;
  }
  if (w->start_time == SysTime{}) w->start_time = Clock::Real()->Now();

  // activeDeadlineSeconds counts from the Pod's start on this node.
  int64_t deadline = Int(spec, "activeDeadlineSeconds", -1);
  if (deadline >= 0) {
    auto end = w->start_time + std::chrono::seconds(deadline);
    auto now = Clock::Real()->Now();
    if (now >= end) {
      w->deadline_exceeded = true;
      w->terminal = true;
      Event(w, "Warning", "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline");
      all_stop(PodGrace(w), true);
      return;
    }
    queue_.AddAfter(w->key, std::chrono::duration_cast<milliseconds>(end - now) + milliseconds(1));
  }

  if (!w->prepared && !Prepare(w)) return;
  for (ContainerRun& c : w->containers) {
    if (c.adopted && c.running) {
      // Exec probes of an adopted container lack its environment until it restarts.
      c.adopted = false;
      c.run_spec.id = c.id;
      c.run_spec.hosts_file = w->dir + "/hosts";
      c.run_spec.hidden_paths = {o_.data_dir};
      c.run_spec.env = {std::string("PATH=") + kDefaultPath};
      ScheduleProbes(w, &c);
    }
  }

  // Init containers, one at a time, each to success.
  for (ContainerRun& c : w->inits) {
    if (c.running) return;
    if (c.term && c.term->exit_code == 0) continue;
    if (c.runs == 0 || !c.term) {
      StartContainer(w, &c);
      return;
    }
    if (ShouldRestart(w, c)) RestartOrWait(w, &c);
    return;  // failed for good (Never): the phase says Failed
  }
  for (ContainerRun& c : w->containers) {
    if (c.running) continue;
    if (c.runs == 0) {
      StartContainer(w, &c);
    } else if (ShouldRestart(w, c)) {
      RestartOrWait(w, &c);
    }
  }
  std::string phase = Phase(w);
  if (phase == "Succeeded" || phase == "Failed") {
    w->terminal = true;
    all_stop(milliseconds(0), false);
  }
}

void NodeAgent::Impl::RestartOrWait(PodWorker* w, ContainerRun* c) {
  auto now = Steady::now();
  if (c->backoff.count() > 0 && now < c->backoff_until) {
    if (c->waiting_reason != "CrashLoopBackOff") {
      Event(w, "Warning", "BackOff",
            "Back-off restarting failed container " + c->name + " in pod " + w->name + "_" + w->ns +
                "(" + w->uid + ")");
    }
    c->waiting_reason = "CrashLoopBackOff";
    c->waiting_message = "back-off " + GoDuration(c->backoff) +
                         " restarting failed container=" + c->name + " pod=" + w->name + "_" +
                         w->ns + "(" + w->uid + ")";
    queue_.AddAfter(
        w->key, std::chrono::duration_cast<milliseconds>(c->backoff_until - now) + milliseconds(1));
    return;
  }
  c->backoff =
      c->backoff.count() == 0 ? o_.backoff_initial : std::min(c->backoff * 2, o_.backoff_max);
  c->backoff_until = now + c->backoff;
  StartContainer(w, c);
}

// Creates the Pod's directory, address, hosts file and volumes. False (with the containers'
// waiting reason set) while something it needs is missing.
bool NodeAgent::Impl::Prepare(PodWorker* w) {
  const Json& spec = Field(w->pod, "spec");
  std::error_code ec;
  // One mkdir on the hot path (<data>/pods exists); the runtime creates the log directories.
  if (::mkdir(w->dir.c_str(), 0755) != 0 && errno != EEXIST) fs::create_directories(w->dir, ec);
  if (w->ip.empty()) {
    w->ip = AllocateIp(w->key);
    if (w->ip.empty()) {
      w->prepare_reason = "ContainerCreating";
      w->prepare_message = "no free Pod address in 127.0.2.0-127.0.255.255";
      return false;
    }
  }

  // GPUs: the most any init container needs, or the sum of the containers'.
  if (w->gpus.empty()) {
    int64_t want = 0, init_max = 0;
    for (const ContainerRun& c : w->containers) {
      want += static_cast<int64_t>(
          QuantityOf(Field(Field(Field(c.spec, "resources"), "limits"), "nvidia.com/gpu"))
              .value_or(0));
    }
    for (const ContainerRun& c : w->inits) {
      init_max = std::max(
          init_max,
          static_cast<int64_t>(
              QuantityOf(Field(Field(Field(c.spec, "resources"), "limits"), "nvidia.com/gpu"))
                  .value_or(0)));
    }
    want = std::max(want, init_max);
    if (want > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<int> free;
      for (int i = 0; i < static_cast<int>(machine_.gpus.size()); ++i) {
        auto owner = gpu_owner_.find(i);
        if (owner != gpu_owner_.end()) {
          // A finished Pod's devices go to the next Pod, as the kubelet's device manager
          // reclaims them; the Pod object may live on for a long time after it ended.
          auto key = key_by_uid_.find(owner->second);
          auto holder =
              key == key_by_uid_.end() ? workers_by_key_.end() : workers_by_key_.find(key->second);
          if (holder == workers_by_key_.end() || holder->second->terminal) {
            gpu_owner_.erase(owner);
          }
        }
        if (!gpu_owner_.count(i)) free.push_back(i);
      }
      if (static_cast<int64_t>(free.size()) < want) {
        w->terminal = true;
        w->fixed_reason = "UnexpectedAdmissionError";
        w->fixed_message =
            "Allocate failed due to requested number of devices unavailable for nvidia.com/gpu. "
            "Requested: " +
            std::to_string(want) + ", Available: " + std::to_string(free.size()) +
            ", which is unexpected";
        return false;
      }
      for (int64_t i = 0; i < want; ++i) {
        gpu_owner_[free[i]] = w->uid;
        w->gpus.push_back(free[i]);
      }
    }
  }

  EnvContext ctx{w->ip, "127.0.0.1", static_cast<double>(machine_.cpus),
                 static_cast<double>(machine_.memory_bytes)};
  w->volumes.clear();
  w->config_error = false;
  const Json& volumes = Field(spec, "volumes");
  if (volumes.is_array()) {
    for (const Json& v : volumes) {
      const std::string name = Str(v, "name");
      const std::string vdir = w->dir + "/volumes/" + name;
      if (v.contains("hostPath")) {
        const Json& hp = Field(v, "hostPath");
        std::string path = Str(hp, "path");
        std::string type = Str(hp, "type");
        struct stat st {};
        bool exists = ::stat(path.c_str(), &st) == 0;
        std::string err;
        if (type == "DirectoryOrCreate" && !exists) {
          fs::create_directories(path, ec);
          if (ec) err = "failed to create " + path + ": " + ec.message();
        } else if (type == "FileOrCreate" && !exists) {
          int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
          if (fd < 0) err = "failed to create " + path;
          if (fd >= 0) ::close(fd);
        } else if (type == "Directory" && (!exists || !S_ISDIR(st.st_mode))) {
          err = "hostPath type check failed: " + path + " is not a directory";
        } else if (type == "File" && (!exists || !S_ISREG(st.st_mode))) {
          err = "hostPath type check failed: " + path + " is not a file";
        } else if (type == "Socket" && (!exists || !S_ISSOCK(st.st_mode))) {
          err = "hostPath type check failed: " + path + " is not a socket file";
        } else if (type.empty() && !exists) {
          fs::create_directories(path, ec);  // upstream's "" type skips checks; bind needs a path
        }
        if (!err.empty()) {
          w->prepare_reason = "ContainerCreating";
          w->prepare_message = "MountVolume.SetUp failed for volume \"" + name + "\" : " + err;
          Event(w, "Warning", "FailedMount", w->prepare_message);
          return false;
        }
        w->volumes[name] = {path, false};
      } else if (v.contains("persistentVolumeClaim")) {
        std::string claim = Str(Field(v, "persistentVolumeClaim"), "claimName");
        auto got = CachedOrGet(claims_, kClaims, w->ns, claim);
        if (!got.ok()) {
          w->prepare_reason = "ContainerCreating";
          w->prepare_message = "persistentvolumeclaim \"" + claim + "\" not found";
          Event(w, "Warning", "FailedMount",
                "Unable to attach or mount volumes: unmounted volumes=[" + name +
                    "]: persistentvolumeclaim \"" + claim + "\" not found");
          return false;
        }
        std::string dir = ClaimDir(o_.data_dir, w->ns, claim);
        fs::create_directories(dir, ec);
        bool ro = Field(Field(v, "persistentVolumeClaim"), "readOnly").is_boolean() &&
                  Field(Field(v, "persistentVolumeClaim"), "readOnly").get<bool>();
        w->volumes[name] = {dir, ro};
      } else if (v.contains("configMap") || v.contains("secret") || v.contains("downwardAPI") ||
                 v.contains("projected")) {
        ConfigError cerr;
        auto files = VolumeFiles(w->pod, v, ctx, this, &cerr);
        if (!cerr.message.empty()) {
          w->config_error = true;
          w->prepare_reason = "CreateContainerConfigError";
          w->prepare_message = cerr.message;
          Event(w, "Warning", "FailedMount",
                "MountVolume.SetUp failed for volume \"" + name + "\" : " + cerr.message);
          return false;
        }
        Status s = WriteVolumeFiles(vdir, files);
        if (!s.ok()) {
          w->prepare_reason = "ContainerCreating";
          w->prepare_message = s.message();
          return false;
        }
        w->volumes[name] = {vdir, true};
      } else {
        // emptyDir (any medium) and volume types skiff cannot provide become empty directories.
        fs::create_directories(vdir, ec);
        w->volumes[name] = {vdir, false};
      }
    }
  }
  if (!PrepareServiceAccount(w)) return false;
  // Plain processes read the host's /etc/hosts; only sandboxed Pods get their own.
  if (!WantsPlainProcess(w->pod)) {
    w->hosts_content = HostsFor(w->pod, w->ip, w->key, NamespaceHosts(w->ns));
    WriteHostsInPlace(w, w->hosts_content);
  }
  w->prepared = true;
  w->prepare_reason.clear();
  w->prepare_message.clear();
  w->hosts_changed = true;
  return true;
}

// Writes the Pod's in-cluster credentials (token, ca.crt, namespace) unless it opts out, as the
// kubelet's projected service-account volume does. The ServiceAccount is read only when the Pod
// leaves the choice to it; one that does not exist (skiff creates none) does not stop the Pod.
bool NodeAgent::Impl::PrepareServiceAccount(PodWorker* w) {
  w->sa_dir.clear();
  if (o_.api_port == 0 || !o_.service_account_token) return true;
  const std::string account = ServiceAccountOf(w->pod);
  StatusOr<Json> sa = Status::NotFound("");
  if (!Field(Field(w->pod, "spec"), "automountServiceAccountToken").is_boolean()) {
    sa = client_->Get(kServiceAccounts, w->ns, account);
  }
  if (!AutomountsServiceAccountToken(w->pod, sa.ok() ? &*sa : nullptr)) return true;
  const std::string dir = w->dir + "/serviceaccount";
  Status s = WriteVolumeFiles(dir, {{"token", o_.service_account_token(w->ns, account), 0644},
                                    {"ca.crt", o_.api_ca_pem, 0644},
                                    {"namespace", w->ns, 0644}});
  if (!s.ok()) {
    w->prepare_reason = "ContainerCreating";
    w->prepare_message = "MountVolume.SetUp failed for the service-account token: " + s.message();
    return false;
  }
  w->sa_dir = dir;
  return true;
}

std::shared_ptr<const runtime::Catalog> NodeAgent::Impl::GetCatalog(std::string* error) {
  const std::string file = o_.data_dir + "/images.yaml";
  std::lock_guard<std::mutex> lock(catalog_mu_);
  struct stat st {};
  bool exists = ::stat(file.c_str(), &st) == 0;
  bool changed = !catalog_ || exists != catalog_file_existed_ ||
                 (exists && (st.st_mtim.tv_sec != catalog_mtime_.tv_sec ||
                             st.st_mtim.tv_nsec != catalog_mtime_.tv_nsec));
  if (changed) {
    auto loaded = runtime::Catalog::Load(file, o_.bin_dir, o_.data_dir + "/images");
    if (!loaded.ok()) {
      *error = loaded.status().message();
      if (!catalog_) return nullptr;
      return catalog_;  // keep the last good catalog
    }
    catalog_ = std::shared_ptr<const runtime::Catalog>(std::move(*loaded));
    catalog_file_existed_ = exists;
    if (exists) catalog_mtime_ = st.st_mtim;
  }
  return catalog_;
}

void NodeAgent::Impl::WatchCatalog() {
  // Runs on the timer thread, which the TimerQueue's destructor joins: `timers` stays valid here.
  TimerQueue* timers = timers_.get();
  if (!timers || stopping_) return;
  std::shared_ptr<const runtime::Catalog> before;
  {
    std::lock_guard<std::mutex> lock(catalog_mu_);
    before = catalog_;
  }
  std::string error;
  if (before && GetCatalog(&error) != before) {
    std::vector<std::string> waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [key, w] : workers_by_key_) waiting.push_back(key);
    }
    // Touch is cheap for Pods with nothing to do; those waiting for an image retry now.
    for (const std::string& key : waiting) Touch(key);
  }
  timers->RunAfter(milliseconds(1000), [this] { WatchCatalog(); });
}

void NodeAgent::Impl::StartContainer(PodWorker* w, ContainerRun* c) {
  const std::string image = Str(c->spec, "image");
  if (w->config_error || !w->prepared) return;
  // Image: a catalog entry or ErrImagePull / ImagePullBackOff.
  std::string catalog_error;
  auto catalog = GetCatalog(&catalog_error);
  StatusOr<runtime::ResolvedImage> resolved =
      catalog ? catalog->Resolve(image)
              : StatusOr<runtime::ResolvedImage>(Status::Internal(catalog_error));
  if (!resolved.ok()) {
    auto now = Steady::now();
    // Back off, unless the catalog changed since (the user mapped the image meanwhile).
    if (c->pull_backoff.count() > 0 && now < c->backoff_until &&
        catalog.get() == c->pull_failed_catalog) {
      c->waiting_reason = "ImagePullBackOff";
      c->waiting_message =
          "Back-off pulling image \"" + image + "\": " + resolved.status().message();
      queue_.AddAfter(w->key, std::chrono::duration_cast<milliseconds>(c->backoff_until - now) +
                                  milliseconds(1));
      return;
    }
    bool first = c->pull_backoff.count() == 0;
    c->pull_backoff = first ? o_.backoff_initial : std::min(c->pull_backoff * 2, o_.backoff_max);
    c->backoff_until = now + c->pull_backoff;
    c->waiting_reason = first ? "ErrImagePull" : "ImagePullBackOff";
    c->waiting_message = resolved.status().message();
    c->pull_failed_catalog = catalog.get();
    Event(w, "Warning", "Failed",
          "Failed to pull image \"" + image + "\": " + resolved.status().message());
    Event(w, "Warning", "Failed", "Error: ErrImagePull");
    queue_.AddAfter(w->key, c->pull_backoff);
    return;
  }
  c->pull_backoff = milliseconds(0);
  const runtime::ImageEntry& entry = *resolved->entry;
  c->image_id = entry.name;
  const auto& caps = runtime_->capabilities();
  const bool sandboxed = caps.bubblewrap;

  // Environment: PATH, HOSTNAME, HOME, the image's, skiff's conveniences, GPUs, then the
  // container's envFrom and env.
  std::string hostname = Str(Field(w->pod, "spec"), "hostname");
  if (hostname.empty()) hostname = w->name;
  std::vector<std::string> base;
  std::string path = kDefaultPath;
  bool image_home = false;
  for (const std::string& kv : entry.env) {
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
    if (kv.rfind("HOME=", 0) == 0) image_home = true;
  }
  if (!resolved->alias_dir.empty()) {
    path = std::string(sandboxed ? kAliasMount : resolved->alias_dir) + ":" + path;
  }
  base.push_back("PATH=" + path);
  base.push_back("HOSTNAME=" + hostname);
  if (!image_home)
    base.push_back(std::string("HOME=") + (sandboxed        ? "/root"
                                           : getenv("HOME") ? getenv("HOME")
                                                            : "/root"));
  for (const std::string& kv : entry.env) {
    if (kv.rfind("PATH=", 0) != 0) base.push_back(kv);
  }
  base.push_back("POD_IP=" + w->ip);
  // A wildcard bind() in the container becomes a bind to the Pod's address (shim/podnet.cc).
  if (!podnet_lib_.empty()) {
    base.push_back("SKIFF_POD_IP=" + w->ip);
    base.push_back("LD_PRELOAD=" + podnet_lib_);
  }
  base.push_back("POD_NAME=" + w->name);
  base.push_back("POD_NAMESPACE=" + w->ns);
  // The Pod's own env and envFrom come later in BuildEnv and win, as upstream.
  const bool mounts_apply = caps.bubblewrap && !WantsPlainProcess(w->pod);
  if (!w->sa_dir.empty()) {
    for (std::string& kv : KubernetesServiceEnv(o_.api_host, o_.api_port)) {
      base.push_back(std::move(kv));
    }
    // Plain processes ignore mounts: this says where the files are in either mode.
    base.push_back(std::string("SKIFF_SERVICE_ACCOUNT_DIR=") +
                   (mounts_apply ? kServiceAccountMountPath : w->sa_dir));
  }
  if (!machine_.gpus.empty()) {
    // This container's share of the Pod's GPUs, in container order.
    int64_t offset = 0;
    int64_t mine = static_cast<int64_t>(
        QuantityOf(Field(Field(Field(c->spec, "resources"), "limits"), "nvidia.com/gpu"))
            .value_or(0));
    if (!c->init) {
      for (const ContainerRun& o : w->containers) {
        if (&o == c) break;
        offset += static_cast<int64_t>(
            QuantityOf(Field(Field(Field(o.spec, "resources"), "limits"), "nvidia.com/gpu"))
                .value_or(0));
      }
    }
    std::string list;
    for (int64_t i = offset; i < offset + mine && i < static_cast<int64_t>(w->gpus.size()); ++i) {
      if (!list.empty()) list += ",";
      list += std::to_string(w->gpus[i]);
    }
    base.push_back("CUDA_VISIBLE_DEVICES=" + list);
    base.push_back("NVIDIA_VISIBLE_DEVICES=" + (list.empty() ? std::string("void") : list));
  }
  EnvContext ctx{w->ip, "127.0.0.1", static_cast<double>(machine_.cpus),
                 static_cast<double>(machine_.memory_bytes)};
  ConfigError cerr;
  auto env = BuildEnv(w->pod, c->spec, base, ctx, this, &cerr);
  if (!env.ok()) {
    if (c->waiting_reason != "CreateContainerConfigError" || c->waiting_message != cerr.message) {
      Event(w, "Warning", "Failed", "Error: " + cerr.message);
    }
    c->waiting_reason = "CreateContainerConfigError";
    c->waiting_message = cerr.message;
    return;
  }
  auto strings = [](const Json& arr) {
    std::vector<std::string> out;
    if (arr.is_array()) {
      for (const Json& a : arr) {
        if (a.is_string()) out.push_back(a.get<std::string>());
      }
    }
    return out;
  };
  auto argv = runtime::Catalog::Argv(entry, strings(Field(c->spec, "command")),
                                     strings(Field(c->spec, "args")), *env);
  if (!argv.ok()) {
    c->waiting_reason = "CreateContainerError";
    c->waiting_message = argv.status().message();
    Event(w, "Warning", "Failed", "Error: " + argv.status().message());
    return;
  }

  const int n = c->runs;
  runtime::ContainerSpec rs;
  rs.id = ContainerId(w->uid, c->name, n);
  rs.state_dir = ContainersRoot(o_.data_dir) + "/" + rs.id;
  rs.argv = std::move(*argv);
  rs.env = std::move(*env);
  rs.working_dir = Str(c->spec, "workingDir");
  rs.hosts_file = w->dir + "/hosts";
  rs.hostname = hostname;
  rs.hidden_paths = {o_.data_dir};
  rs.sandbox = !WantsPlainProcess(w->pod);
  if (!resolved->alias_dir.empty()) rs.mounts.push_back({resolved->alias_dir, kAliasMount, true});
  const Json& mounts = Field(c->spec, "volumeMounts");
  if (mounts.is_array()) {
    for (const Json& m : mounts) {
      auto v = w->volumes.find(Str(m, "name"));
      if (v == w->volumes.end()) continue;
      std::string host = v->second.first;
      std::string sub = Str(m, "subPath");
      if (!sub.empty() && sub.find("..") == std::string::npos && sub[0] != '/') {
        host += "/" + sub;
        std::error_code ec;
        if (!fs::exists(host, ec)) fs::create_directories(host, ec);
      }
      bool ro = v->second.second ||
                (Field(m, "readOnly").is_boolean() && Field(m, "readOnly").get<bool>());
      rs.mounts.push_back({host, Str(m, "mountPath"), ro});
    }
  }
  if (!w->sa_dir.empty()) {
    // The sandbox shows the host's /var read-only, where /var/run is usually a link to /run (a
    // tmpfs there): bind at the resolved path, which bubblewrap can create.
    static const std::string target = [] {
      std::error_code ec;
      fs::path resolved = fs::weakly_canonical(kServiceAccountMountPath, ec);
      return ec ? std::string(kServiceAccountMountPath) : resolved.string();
    }();
    // A container that mounts something of its own there keeps it (upstream's admission skips
    // such containers too).
    bool taken = false;
    for (const runtime::Mount& m : rs.mounts) {
      taken = taken || m.container_path == kServiceAccountMountPath || m.container_path == target;
    }
    if (!taken) rs.mounts.push_back({w->sa_dir, target, true});
  }
  const Json& limits = Field(Field(c->spec, "resources"), "limits");
  if (auto mem = QuantityOf(Field(limits, "memory"))) {
    rs.memory_limit_bytes = static_cast<int64_t>(*mem);
  }
  if (auto cpu = QuantityOf(Field(limits, "cpu"))) {
    rs.cpu_limit_millicores = static_cast<int64_t>(std::llround(*cpu * 1000));
  }
  rs.log_path = PodLogPath(w->dir, c->name, n);  // the runtime creates its directory

  if (c->image_id.empty() || c->runs == 0) {
    Event(w, "Normal", "Pulled", "Container image \"" + image + "\" already present on machine");
  }
  Event(w, "Normal", "Created", "Created container " + c->name);
  if (n >= 2) {
    // Like the kubelet, keep the current and the previous run (its exit record and log serve
    // lastState and `logs --previous`); older ones go.
    runtime_->Remove(ContainerId(w->uid, c->name, n - 2));
    std::error_code ec;
    fs::remove(PodLogPath(w->dir, c->name, n - 2), ec);
  }
  c->runs = n + 1;
  c->id = rs.id;
  c->waiting_reason.clear();
  c->waiting_message.clear();
  if (c->term) c->last_term = c->term;
  c->term.reset();
  c->ready = false;
  c->live_fail = c->start_fail = c->ready_succ = c->ready_fail = 0;
  c->stop_sent = false;
  c->run_spec = rs;
  auto st = runtime_->Start(rs);
  if (!st.ok()) {
    Terminated t;
    t.exit_code = 128;
    t.reason = "StartError";
    t.message = st.status().message();
    t.started = t.finished = Clock::Real()->Now();
    t.container_id = rs.id;
    c->term = t;
    Event(w, "Warning", "Failed", "Error: " + st.status().message());
    return;
  }
  c->running = true;
  w->just_started = true;
  c->started_at = st->started_at == SysTime{} ? Clock::Real()->Now() : st->started_at;
  c->started = !Field(c->spec, "startupProbe").is_object();
  Event(w, "Normal", "Started", "Started container " + c->name);
  ScheduleProbes(w, c);
}

// ---------------------------------------------------------------------------------- public

NodeAgent::NodeAgent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeAgent::~NodeAgent() = default;

StatusOr<std::unique_ptr<NodeAgent>> NodeAgent::Create(controllers::Manager& mgr,
                                                       client::Client* client,
                                                       runtime::Runtime* runtime,
                                                       AgentOptions options) {
  auto impl = std::make_unique<Impl>(mgr, client, runtime, std::move(options));
  Status s = impl->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<NodeAgent>(new NodeAgent(std::move(impl)));
}

void NodeAgent::Shutdown() { impl_->Shutdown(); }

Status NodeAgent::StreamLogs(const Json& pod, const std::string& container, bool previous,
                             runtime::LogReadOptions options,
                             const std::function<bool(const std::string&)>& sink) {
  return impl_->StreamLogs(pod, container, previous, std::move(options), sink);
}

const std::string& NodeAgent::node_name() const { return impl_->node_name(); }

}  // namespace skiff::node

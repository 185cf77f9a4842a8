// The node-wide parts of the agent: Pod addresses and hosts files, the Node object and its
// Lease, orphan containers, graceful node shutdown, and container logs.

#include "node/agent_impl.h"

namespace skiff::node {

// ---------------------------------------------------------------------------------- addresses

std::string NodeAgent::Impl::AllocateIp(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto existing = ip_by_key_.find(key);
  if (existing != ip_by_key_.end()) return existing->second;
  // 127.0.2.1 .. 127.0.255.254, skipping .0 and .255; a rotating cursor avoids handing out an
  // address that just went away (other Pods' hosts files may still name it for a moment).
  constexpr uint32_t kFirst = 2 * 256, kLast = 256 * 256;
  const uint32_t span = kLast - kFirst;
  for (uint32_t i = 0; i < span; ++i) {
    uint32_t v = kFirst + (ip_cursor_ + i) % span;
    uint32_t lo = v % 256;
    if (lo == 0 || lo == 255) continue;
    std::string ip = "127.0." + std::to_string(v / 256) + "." + std::to_string(lo);
    if (used_ips_.count(ip)) continue;
    used_ips_.insert(ip);
    ip_by_key_[key] = ip;
    ip_cursor_ = (ip_cursor_ + i + 1) % span;
    return ip;
  }
  return "";
}

std::vector<NodeAgent::Impl::NamedHost> NodeAgent::Impl::NamespaceHosts(const std::string& ns) {
  std::map<std::string, std::string> ips;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : ip_by_key_) {
      if (k.rfind(ns + "/", 0) == 0) ips[k] = v;
    }
  }
  std::vector<NamedHost> out;
  std::vector<ObjectPtr> pods = pods_ ? pods_->List(ns) : std::vector<ObjectPtr>{};
  std::vector<std::pair<ObjectPtr, std::string>> live;
  for (const ObjectPtr& p : pods) {
    std::string phase = PhaseOf(*p);
    if (phase == "Succeeded" || phase == "Failed") continue;
    std::string k = controllers::ObjectKeyOf(*p);
    std::string pip = Str(Field(*p, "status"), "podIP");
    auto mine = ips.find(k);
    if (mine != ips.end() && NodeNameOf(*p) == o_.node_name) pip = mine->second;
    if (pip.empty()) continue;
    live.emplace_back(p, pip);
    out.push_back({k, PodHostEntry(*p, pip)});
  }
  // A Service whose selector matches exactly one running Pod names that Pod (the training
  // operators create one headless Service per replica).
  if (services_ != nullptr) {
    for (const ObjectPtr& svc : services_->List(ns)) {
      std::string match_ip;
      int matches = 0;
      for (const auto& [p, pip] : live) {
        if (SelectorMatches(*svc, *p)) {
          ++matches;
          match_ip = pip;
        }
      }
      if (matches != 1) continue;
      std::string s = NameOf(*svc);
      out.push_back(
          {"",
           {match_ip,
            {s, s + "." + ns, s + "." + ns + ".svc", s + "." + ns + ".svc.cluster.local"}}});
    }
  }
  return out;
}

std::string NodeAgent::Impl::HostsFor(const Json& pod, const std::string& ip,
                                      const std::string& self_key,
                                      const std::vector<NamedHost>& ns_hosts) {
  std::vector<HostEntry> others;
  others.reserve(ns_hosts.size());
  for (const NamedHost& h : ns_hosts) {
    if (h.key.empty() || h.key != self_key) others.push_back(h.entry);
  }
  return HostsFile(pod, ip, others);
}

void NodeAgent::Impl::WriteHostsInPlace(PodWorker* w, const std::string& content) {
  // In place (truncate + write): the sandbox bind-mounts this very inode.
  const std::string path = w->dir + "/hosts";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

void NodeAgent::Impl::RewriteHosts(const std::string& ns) {
  std::vector<std::shared_ptr<PodWorker>> ws;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, w] : workers_by_key_) {
      if (w->ns == ns) ws.push_back(w);
    }
  }
  // The namespace's entries are computed once per rewrite (and only when some Pod needs them),
  // not once per Pod: a namespace with many Pods would otherwise cost the square of its size on
  // every address change.
  std::optional<std::vector<NamedHost>> ns_hosts;
  for (const auto& w : ws) {
    std::lock_guard<std::mutex> lock(w->mu);
    // Finished Pods run nothing that could read the file; plain processes use the host's.
    if (!w->prepared || w->deleted || w->terminal || WantsPlainProcess(w->pod)) continue;
    if (!ns_hosts) ns_hosts = NamespaceHosts(ns);
    std::string content = HostsFor(w->pod, w->ip, w->key, *ns_hosts);
    if (content == w->hosts_content) continue;
    w->hosts_content = content;
    WriteHostsInPlace(w.get(), content);
  }
}

// ---------------------------------------------------------------------------------- node

void NodeAgent::Impl::RegisterNode(bool force) {
  Json desired =
      NodeObject(o_.node_name, machine_, runtime_->capabilities().sandbox, Clock::Real()->Now());
  auto live = client_->Get(kNodes, "", o_.node_name);
  if (!live.ok()) {
    if (live.status().code() != Code::kNotFound) return;
    auto created = client_->Create(kNodes, "", desired);
    if (created.ok()) {
      last_node_write_ = Steady::now();
      return;
    }
    if (created.status().code() != Code::kAlreadyExists) return;
    live = client_->Get(kNodes, "", o_.node_name);
    if (!live.ok()) return;
  }
  Json node = *live;
  Json before_labels = node["metadata"].value("labels", Json::object());
  bool changed = MergeNodeStatus(desired, &node);
  if (!changed && !force) return;
  if (node["metadata"].value("labels", Json::object()) != before_labels) {
    auto updated = client_->Update(kNodes, "", node);
    if (updated.ok()) {
      Json status = node["status"];
      node = *updated;
      node["status"] = status;
    }
  }
  auto r = client_->UpdateStatus(kNodes, "", node);
  if (r.ok()) last_node_write_ = Steady::now();
}

void NodeAgent::Impl::RenewLease() {
  Json lease = NodeLease(o_.node_name, Clock::Real()->Now());
  auto live = client_->Get(kLeases, "kube-node-lease", o_.node_name);
  if (live.ok()) {
    Json l = *live;
    l["spec"] = lease["spec"];
    client_->Update(kLeases, "kube-node-lease", l);
    return;
  }
  if (live.status().code() != Code::kNotFound) return;
  auto created = client_->Create(kLeases, "kube-node-lease", lease);
  if (!created.ok() && created.status().code() == Code::kNotFound) {
    client_->Create(kNamespaces, "",
                    Json{{"apiVersion", "v1"},
                         {"kind", "Namespace"},
                         {"metadata", {{"name", "kube-node-lease"}}}});
    client_->Create(kLeases, "kube-node-lease", lease);
  }
}

// Containers of Pods that no longer exist (deleted while skiff was away) are stopped and removed.
void NodeAgent::Impl::ReapOrphans() {
  while (!stopping_ && pods_ != nullptr && !pods_->WaitForSync(milliseconds(200))) {
  }
  if (stopping_) return;
  std::set<std::string> uids;
  for (const ObjectPtr& p : pods_->List()) {
    if (NodeNameOf(*p) == o_.node_name) uids.insert(UidOf(*p));
  }
  std::vector<std::string> orphans;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = recovered_.begin(); it != recovered_.end();) {
      bool orphan = !uids.count(it->first);
      for (const auto& st : it->second) {
        if (orphan || SplitId(st.id).aux) orphans.push_back(st.id);
      }
      it = orphan ? recovered_.erase(it) : std::next(it);
    }
  }
  for (const std::string& id : orphans) {
    runtime_->Remove(id);
    SKIFF_LOG(Info) << "node agent: removed orphaned container " << id;
  }
}

void NodeAgent::Impl::HeartbeatLoop() {
  ReapOrphans();
  if (!o_.register_node) return;
  RegisterNode(true);
  RenewLease();
  std::unique_lock<std::mutex> lock(hb_mu_);
  while (!stopping_) {
    hb_cv_.wait_for(lock, o_.lease_renew, [&] { return stopping_.load(); });
    if (stopping_) break;
    lock.unlock();
    RenewLease();
    RegisterNode(Steady::now() - last_node_write_ >= o_.node_status_period);
    lock.lock();
  }
}

// ---------------------------------------------------------------------------------- shutdown

void NodeAgent::Impl::Shutdown() {
  if (threads_stopped_) return;
  shutting_down_ = true;
  std::vector<std::shared_ptr<PodWorker>> ws;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, w] : workers_by_key_) ws.push_back(w);
  }
  milliseconds longest(0);
  for (const auto& w : ws) {
    std::lock_guard<std::mutex> lock(w->mu);
    milliseconds grace = std::min(PodGrace(w.get()), o_.shutdown_grace);
    longest = std::max(longest, grace);
    for (auto* list : {&w->inits, &w->containers}) {
      for (ContainerRun& c : *list) {
        if (!c.running) continue;
        {
          std::lock_guard<std::mutex> l(mu_);
          shutdown_pending_.insert(c.id);
        }
        c.stop_sent = false;
        for (auto& p : c.probes) p->active = false;
        StopContainer(w.get(), &c, grace, true);
      }
    }
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    shutdown_cv_.wait_for(lock, longest + milliseconds(5000),
                          [&] { return shutdown_pending_.empty(); });
  }
  // Let in-flight syncs finish, then record what happened.
  queue_.ShutDown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (const auto& w : ws) {
    std::lock_guard<std::mutex> lock(w->mu);
    std::vector<Mail> mail;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = mail_.find(w->key);
      if (it != mail_.end()) {
        mail = std::move(it->second);
        mail_.erase(it);
      }
    }
    for (const Mail& m : mail) ApplyMail(w.get(), m);
    if (w->terminal || w->deleted) continue;
    std::string policy = Str(Field(w->pod, "spec"), "restartPolicy");
    if (policy != "Never") continue;  // restarted by the next agent
    w->shutdown_failed = true;
    w->terminal = true;
    Json status = ComputeStatus(w.get());
    if (status != w->last_status) WriteStatus(w.get(), status);
  }
  for (const auto& w : ws) {
    std::lock_guard<std::mutex> lock(w->mu);
    w->hosts_changed = false;
    FlushEvents(w.get());
  }
  if (events_) events_->Flush(milliseconds(2000));
  StopThreads();
}

// ---------------------------------------------------------------------------------- logs

Status NodeAgent::Impl::StreamLogs(const Json& pod, const std::string& container, bool previous,
                                   runtime::LogReadOptions options,
                                   const std::function<bool(const std::string&)>& sink) {
  const std::string key = controllers::ObjectKeyOf(pod);
  const std::string uid = UidOf(pod);
  const std::string dir = PodDir(o_.data_dir, NamespaceOf(pod), NameOf(pod), uid);
  const std::string pod_name = NameOf(pod);
  int runs = -1;
  std::string waiting_reason;
  std::shared_ptr<PodWorker> w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = workers_by_key_.find(key);
    if (it != workers_by_key_.end() && it->second->uid == uid) w = it->second;
  }
  if (w) {
    std::lock_guard<std::mutex> lock(w->mu);
    for (auto* list : {&w->inits, &w->containers}) {
      for (const ContainerRun& c : *list) {
        if (c.name != container) continue;
        runs = c.runs;
        waiting_reason = c.waiting_reason.empty() ? w->prepare_reason : c.waiting_reason;
      }
    }
  }
  if (runs < 0) {
    // Not (or no longer) ours: the status says how many runs there were.
    runs = 0;
    for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
      const Json& l = Field(Field(pod, "status"), list);
      if (!l.is_array()) continue;
      for (const Json& cs : l) {
        if (Str(cs, "name") != container) continue;
        const Json& st = Field(cs, "state");
        bool ran = st.contains("running") || st.contains("terminated") ||
                   Field(cs, "lastState").contains("terminated");
        runs = ran ? static_cast<int>(Int(cs, "restartCount", 0)) + 1 : 0;
        if (st.contains("waiting") && !st.contains("running") && !st.contains("terminated") &&
            !Field(cs, "lastState").contains("terminated")) {
          waiting_reason = Str(Field(st, "waiting"), "reason");
        }
      }
    }
  }
  if (previous) {
    std::string path = runs >= 2 ? PodLogPath(dir, container, runs - 2) : "";
    std::error_code ec;
    if (path.empty() || !fs::exists(path, ec)) {
      return Status::BadRequest("previous terminated container \"" + container + "\" in pod \"" +
                                pod_name + "\" not found");
    }
    options.follow = false;
    return runtime::ReadLog(path, options, sink);
  }
  if (runs <= 0) {
    // The kubelet's wording for the common reasons.
    if (waiting_reason.empty()) waiting_reason = "ContainerCreating";
    if (waiting_reason == "ErrImagePull") waiting_reason = "image can't be pulled";
    if (waiting_reason == "ImagePullBackOff") waiting_reason = "trying and failing to pull image";
    return Status::BadRequest("container \"" + container + "\" in pod \"" + pod_name +
                              "\" is waiting to start: " + waiting_reason);
  }
  const int n = runs - 1;
  const std::string path = PodLogPath(dir, container, n);
  if (options.follow) {
    std::weak_ptr<PodWorker> weak = w;
    auto user_finished = options.finished;
    const std::string id = ContainerId(uid, container, n);
    options.finished = [weak, container, n, user_finished, this, id] {
      if (user_finished && user_finished()) return true;
      auto sw = weak.lock();
      if (!sw) {
        auto st = runtime_->Inspect(id);
        return !st.ok() || st->exit.has_value();
      }
      std::lock_guard<std::mutex> lock(sw->mu);
      if (sw->deleted) return true;
      for (auto* list : {&sw->inits, &sw->containers}) {
        for (const ContainerRun& c : *list) {
          if (c.name == container) return !(c.running && c.runs - 1 == n);
        }
      }
      return true;
    };
  }
  return runtime::ReadLog(path, options, sink);
}

}  // namespace skiff::node

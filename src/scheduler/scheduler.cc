// Scheduling: a priority queue of pending Pods, in-memory node usage, filters, preemption and
// gangs. Decisions are made under one mutex; their API writes (bind, status, evict) run after.
#include "scheduler/scheduler.h"

#include <algorithm>
#include <limits>

#include "common/log.h"
#include "controllers/object_meta.h"
#include "scheduler/podgroup_controller.h"
#include "scheduler/quota_controller.h"

namespace skiff::scheduler {

namespace {

using controllers::ObjectPtr;
using std::chrono::steady_clock;

constexpr int64_t kOnePod = 1000;
constexpr int kWriteAttempts = 8;

std::string Str(const Json& obj, const char* path) {
  const Json* v = FindPath(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

// Sets a condition on status.conditions; lastTransitionTime moves only when the status does.
// Returns whether anything changed.
bool SetCondition(Json* obj, const std::string& type, const std::string& status,
                  const std::string& reason, const std::string& message) {
  Json& st = (*obj)["status"];
  if (!st.is_object()) st = Json::object();
  if (!st.contains("conditions") || !st["conditions"].is_array()) st["conditions"] = Json::array();
  const std::string now = FormatRfc3339(std::chrono::system_clock::now());
  for (Json& c : st["conditions"]) {
    if (!c.is_object() || c.value("type", "") != type) continue;
    const bool same = c.value("status", "") == status && c.value("reason", "") == reason &&
                      c.value("message", "") == message;
    if (same) return false;
    if (c.value("status", "") != status) c["lastTransitionTime"] = now;
    c["status"] = status;
    if (reason.empty())
      c.erase("reason");
    else
      c["reason"] = reason;
    if (message.empty())
      c.erase("message");
    else
      c["message"] = message;
    return true;
  }
  Json c = {
      {"type", type}, {"status", status}, {"lastProbeTime", nullptr}, {"lastTransitionTime", now}};
  if (!reason.empty()) c["reason"] = reason;
  if (!message.empty()) c["message"] = message;
  st["conditions"].push_back(std::move(c));
  return true;
}

int64_t Get(const ResourceList& l, const std::string& k) {
  auto it = l.find(k);
  return it == l.end() ? 0 : it->second;
}

ResourceList WithPod(const ResourceList& requests) {
  ResourceList r = requests;
  r["pods"] += kOnePod;
  return r;
}

// Upstream's default LeastAllocated score: prefer the node with the most cpu and memory left.
int64_t Score(const NodeState& n, const ResourceList& used, const ResourceList& req) {
  int64_t score = 0;
  for (const char* r : {"cpu", "memory"}) {
    const int64_t alloc = Get(n.allocatable, r);
    if (alloc <= 0) continue;
    const int64_t left = alloc - Get(used, r) - Get(req, r);
    score += static_cast<int64_t>(static_cast<double>(left) * 100.0 / static_cast<double>(alloc));
  }
  return score;
}

}  // namespace

Scheduler::Scheduler(controllers::Manager* mgr, client::Client* client, SchedulerOptions options)
    : mgr_(mgr),
      client_(client),
      options_(std::move(options)),
      recorder_(client, options_.scheduler_name, "", options_.clock) {
  pods_informer_ = mgr_->GetInformer(kPods);
  nodes_informer_ = mgr_->GetInformer(kNodes);
  groups_informer_ = mgr_->GetInformer(kPodGroups);
  classes_informer_ = mgr_->GetInformer(kPriorityClasses);
  pods_informer_->AddEventHandlers({[this](const ObjectPtr& o) { OnPod(o); },
                                    [this](const ObjectPtr&, const ObjectPtr& o) { OnPod(o); },
                                    [this](const ObjectPtr& o) { OnPodDelete(o); }});
  nodes_informer_->AddEventHandlers({[this](const ObjectPtr& o) { OnNode(o); },
                                     [this](const ObjectPtr&, const ObjectPtr& o) { OnNode(o); },
                                     [this](const ObjectPtr& o) { OnNodeDelete(o); }});
  groups_informer_->AddEventHandlers(
      {[this](const ObjectPtr& o) { OnPodGroup(o); },
       [this](const ObjectPtr&, const ObjectPtr& o) { OnPodGroup(o); }, nullptr});
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Run(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t Scheduler::bindings() const {
  std::lock_guard<std::mutex> l(mu_);
  return bindings_;
}

// ---------------------------------------------------------------------------- informer events

Scheduler::PodEntry Scheduler::MakeEntry(const ObjectPtr& obj) const {
  const Json& pod = *obj;
  PodEntry e;
  e.obj = obj;
  e.ns = controllers::NamespaceOf(pod);
  e.name = controllers::NameOf(pod);
  e.key = controllers::ObjectKey(e.ns, e.name);
  e.uid = controllers::UidOf(pod);
  e.node = NodeNameOf(pod);
  e.needs = PodNeedsFromJson(pod);
  e.created = Str(pod, "metadata.creationTimestamp");
  e.terminal = IsTerminal(pod);
  e.deleting = IsDeletingPod(pod);
  e.group = PodGroupOf(pod);
  e.nominated = Str(pod, "status.nominatedNodeName");
  std::string policy = Str(pod, "spec.preemptionPolicy");
  if (const Json* p = FindPath(pod, "spec.priority"); p && p->is_number_integer()) {
    e.priority = p->get<int64_t>();
  } else if (std::string cls = Str(pod, "spec.priorityClassName"); !cls.empty()) {
    // Pods created without the Priority admission plugin: resolve the class here.
    if (ObjectPtr pc = classes_informer_->Get("", cls)) {
      e.priority = pc->value("value", int64_t{0});
      if (policy.empty()) policy = pc->value("preemptionPolicy", "");
    }
  }
  e.never_preempt = policy == "Never";
  const std::string sched = Str(pod, "spec.schedulerName");
  e.ours =
      sched.empty() || sched == options_.scheduler_name ||
      std::find(options_.aliases.begin(), options_.aliases.end(), sched) != options_.aliases.end();
  const Json* gates = FindPath(pod, "spec.schedulingGates");
  e.gated = gates && gates->is_array() && !gates->empty();
  return e;
}

void Scheduler::Account(const PodEntry& e, int sign) {
  if (!e.Counted()) return;
  ResourceList& u = usage_[e.node];
  for (const auto& [k, v] : e.needs.requests) u[k] += sign * v;
  u["pods"] += sign * kOnePod;
  if (sign > 0) {
    node_pods_[e.node].insert(e.key);
  } else {
    auto it = node_pods_.find(e.node);
    if (it != node_pods_.end()) it->second.erase(e.key);
  }
}

void Scheduler::SetNominated(PodEntry& e, const std::string& node) {
  if (!e.nominated.empty()) {
    auto it = nominated_.find(e.nominated);
    if (it != nominated_.end()) it->second.erase(e.key);
  }
  e.nominated = node;
  if (!node.empty() && e.Pending()) nominated_[node].insert(e.key);
}

void Scheduler::OnPod(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> l(mu_);
  PodEntry e = MakeEntry(obj);
  bool was_counted = false;
  bool is_new = true;
  auto it = pods_.find(e.key);
  if (it != pods_.end()) {
    PodEntry& old = it->second;
    Account(old, -1);
    std::string nominated = e.nominated;
    SetNominated(old, "");
    e.nominated = nominated;
    if (old.uid == e.uid) {
      is_new = false;
      was_counted = old.Counted();
      // An event from before our binding landed: keep the assumption until it is confirmed.
      if (old.assumed && e.node.empty() && !e.terminal && !e.deleting) {
        e.node = old.node;
        e.assumed = true;
      }
    } else {
      was_counted = old.Counted();
      RemoveFromQueues(e.key);
      preempting_.erase(e.key);
    }
  }
  Account(e, +1);
  const std::string nominated = e.nominated;
  e.nominated.clear();
  SetNominated(e, nominated);
  const bool pending = e.Pending();
  const std::string ns = e.ns, group = e.group, key = e.key;
  PodEntry& stored = pods_[key] = std::move(e);
  if (pending) {
    if (!queued_.count(key) && !(backoff_.count(key) && backoff_[key].waiting)) Enqueue(stored);
    if (is_new && !group.empty()) WakeGroup(ns, group);
  } else {
    RemoveFromQueues(key);
  }
  if (was_counted && !stored.Counted()) WakeUnschedulable();  // a finished Pod freed resources
  cv_.notify_one();
}

void Scheduler::OnPodDelete(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> l(mu_);
  const std::string key = controllers::ObjectKeyOf(*obj);
  auto it = pods_.find(key);
  if (it == pods_.end() || it->second.uid != controllers::UidOf(*obj)) return;
  const bool counted = it->second.Counted();
  Account(it->second, -1);
  SetNominated(it->second, "");
  pods_.erase(it);
  RemoveFromQueues(key);
  preempting_.erase(key);
  if (counted) WakeUnschedulable();
  cv_.notify_one();
}

void Scheduler::OnNode(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> l(mu_);
  NodeState n = NodeStateFromJson(*obj);
  auto it = nodes_.find(n.name);
  // Heartbeats change nothing the filters read; only real changes retry pending Pods.
  const bool changed = it == nodes_.end() || it->second.allocatable != n.allocatable ||
                       it->second.unschedulable != n.unschedulable || it->second.ready != n.ready ||
                       it->second.taints != n.taints || it->second.labels != n.labels;
  if (!changed) return;
  nodes_[n.name] = std::move(n);
  WakeUnschedulable();
  cv_.notify_one();
}

void Scheduler::OnNodeDelete(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> l(mu_);
  nodes_.erase(controllers::NameOf(*obj));
}

void Scheduler::OnPodGroup(const ObjectPtr& obj) {
  std::lock_guard<std::mutex> l(mu_);
  WakeGroup(controllers::NamespaceOf(*obj), controllers::NameOf(*obj));
  cv_.notify_one();
}

// ---------------------------------------------------------------------------- queue

void Scheduler::Enqueue(const PodEntry& e) {
  if (queued_.count(e.key)) return;
  QueueKey qk{-e.priority, e.created, e.key};
  active_.insert(qk);
  queued_.emplace(e.key, qk);
  auto b = backoff_.find(e.key);
  if (b != backoff_.end()) b->second.waiting = false;
}

void Scheduler::RemoveFromQueues(const std::string& key) {
  auto q = queued_.find(key);
  if (q != queued_.end()) {
    active_.erase(q->second);
    queued_.erase(q);
  }
  backoff_.erase(key);
}

void Scheduler::MarkUnschedulable(const std::string& key) {
  auto q = queued_.find(key);
  if (q != queued_.end()) {
    active_.erase(q->second);
    queued_.erase(q);
  }
  Backoff& b = backoff_[key];
  b.delay =
      b.delay.count() == 0 ? options_.initial_backoff : std::min(b.delay * 2, options_.max_backoff);
  b.last_try = steady_clock::now();
  b.next_try = b.last_try + options_.unschedulable_resync;
  b.waiting = true;
}

void Scheduler::WakeUnschedulable() {
  for (auto& [key, b] : backoff_) {
    if (b.waiting) b.next_try = std::min(b.next_try, b.last_try + b.delay);
  }
  rescan_ = true;
}

void Scheduler::WakeGroup(const std::string& ns, const std::string& group) {
  for (auto& [key, b] : backoff_) {
    if (!b.waiting) continue;
    auto it = pods_.find(key);
    if (it != pods_.end() && it->second.ns == ns && it->second.group == group) {
      b.next_try = std::min(b.next_try, b.last_try + b.delay);
    }
  }
  rescan_ = true;
}

void Scheduler::Run() {
  // Decisions need the whole picture: wait for the caches (a Pod seen before its node would be
  // reported unschedulable for nothing).
  for (controllers::Informer* inf : {pods_informer_, nodes_informer_, groups_informer_}) {
    while (!inf->WaitForSync(std::chrono::milliseconds(100))) {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
    }
  }
  std::unique_lock<std::mutex> l(mu_);
  auto next_scan = steady_clock::now();
  while (!stop_) {
    auto now = steady_clock::now();
    if (rescan_ || now >= next_scan) {
      rescan_ = false;
      next_scan = now + std::chrono::seconds(1);
      std::vector<std::string> due;
      for (auto& [key, b] : backoff_) {
        if (!b.waiting) continue;
        if (b.next_try <= now) {
          due.push_back(key);
        } else {
          next_scan = std::min(next_scan, b.next_try);
        }
      }
      for (const std::string& key : due) {
        auto it = pods_.find(key);
        if (it != pods_.end() && it->second.Pending() && !it->second.assumed) {
          Enqueue(it->second);
        } else {
          backoff_.erase(key);
        }
      }
    }
    if (active_.empty()) {
      cv_.wait_until(l, next_scan);
      continue;
    }
    const std::string key = active_.begin()->key;
    active_.erase(active_.begin());
    queued_.erase(key);
    Plan plan;
    ScheduleOne(key, &plan);
    if (plan.bindings.empty() && plan.failures.empty() && plan.evictions.empty()) continue;
    l.unlock();
    Execute(plan);
    l.lock();
  }
}

// ---------------------------------------------------------------------------- decisions

ResourceList Scheduler::NominatedUsage(const std::string& node, int64_t priority,
                                       const std::string& except) const {
  ResourceList out;
  auto it = nominated_.find(node);
  if (it == nominated_.end()) return out;
  for (const std::string& key : it->second) {
    if (key == except) continue;
    auto p = pods_.find(key);
    if (p == pods_.end() || !p->second.Pending() || p->second.priority < priority) continue;
    Add(&out, WithPod(p->second.needs.requests));
  }
  return out;
}

std::string Scheduler::FindNode(const PodEntry& e, const std::map<std::string, ResourceList>& extra,
                                std::map<std::string, std::vector<std::string>>* reasons) const {
  std::string best;
  int64_t best_score = std::numeric_limits<int64_t>::min();
  for (const auto& [name, node] : nodes_) {
    ResourceList used;
    if (auto u = usage_.find(name); u != usage_.end()) used = u->second;
    Add(&used, NominatedUsage(name, e.priority, e.key));
    if (auto x = extra.find(name); x != extra.end()) Add(&used, x->second);
    std::vector<std::string> failures = FitFailures(e.needs, node, used);
    if (!failures.empty()) {
      (*reasons)[name] = std::move(failures);
      continue;
    }
    const int64_t score = Score(node, used, e.needs.requests);
    if (score > best_score) {
      best = name;
      best_score = score;
    }
  }
  return best;
}

void Scheduler::Assume(PodEntry& e, const std::string& node) {
  SetNominated(e, "");
  e.node = node;
  e.assumed = true;
  Account(e, +1);
  RemoveFromQueues(e.key);
}

void Scheduler::Forget(const std::string& key, const std::string& uid) {
  auto it = pods_.find(key);
  if (it == pods_.end() || it->second.uid != uid || !it->second.assumed) return;
  Account(it->second, -1);
  it->second.node.clear();
  it->second.assumed = false;
  if (it->second.Pending()) MarkUnschedulable(key);
  WakeUnschedulable();
  cv_.notify_one();
}

void Scheduler::ScheduleOne(const std::string& key, Plan* plan) {
  auto it = pods_.find(key);
  if (it == pods_.end() || !it->second.Pending() || it->second.assumed) return;
  PodEntry& e = it->second;
  if (!e.group.empty()) {
    ScheduleGroup(e, plan);
    return;
  }
  std::map<std::string, std::vector<std::string>> reasons;
  const std::string node = FindNode(e, {}, &reasons);
  if (!node.empty()) {
    Assume(e, node);
    plan->bindings.push_back({e.key, e.ns, e.name, node, e.obj});
    return;
  }
  const std::string before = e.nominated;
  const std::string post = nodes_.empty() ? "" : Preempt(e, reasons, plan);
  std::map<std::string, int> histogram;
  for (const auto& [n, rs] : reasons) {
    for (const std::string& r : rs) ++histogram[r];
  }
  Failure f{e.key, e.obj, UnschedulableMessage(static_cast<int>(nodes_.size()), histogram, post),
            e.nominated != before ? e.nominated : ""};
  MarkUnschedulable(e.key);
  plan->failures.push_back(std::move(f));
}

std::string Scheduler::Preempt(PodEntry& e,
                               const std::map<std::string, std::vector<std::string>>& reasons,
                               Plan* plan) {
  if (e.never_preempt) return "preemption: not eligible due to preemptionPolicy=Never.";
  auto lower_on = [&](const std::string& node) {
    std::vector<const PodEntry*> out;
    auto np = node_pods_.find(node);
    if (np == node_pods_.end()) return out;
    for (const std::string& k : np->second) {
      auto p = pods_.find(k);
      if (p != pods_.end() && p->second.Counted() && p->second.priority < e.priority) {
        out.push_back(&p->second);
      }
    }
    return out;
  };
  // Victims chosen earlier are still going away: wait for them rather than preempt more.
  if (!e.nominated.empty()) {
    for (const PodEntry* p : lower_on(e.nominated)) {
      if (p->deleting || preempting_.count(p->key)) {
        return "preemption: not eligible due to a terminating pod on the nominated node.";
      }
    }
  }
  struct Candidate {
    std::string node;
    std::vector<const PodEntry*> victims;
    int64_t max_priority = std::numeric_limits<int64_t>::min();
    int64_t sum_priority = 0;
  };
  std::vector<Candidate> candidates;
  std::map<std::string, int> verdicts;
  for (const auto& [name, node] : nodes_) {
    auto r = reasons.find(name);
    if (r == reasons.end()) continue;
    if (!OnlyResourceFailures(r->second)) {
      ++verdicts["Preemption is not helpful for scheduling"];
      continue;
    }
    std::vector<const PodEntry*> lower;
    for (const PodEntry* p : lower_on(name)) {
      if (!p->deleting && !preempting_.count(p->key)) lower.push_back(p);
    }
    ResourceList used;
    if (auto u = usage_.find(name); u != usage_.end()) used = u->second;
    Add(&used, NominatedUsage(name, e.priority, e.key));
    for (const PodEntry* p : lower) Subtract(&used, WithPod(p->needs.requests));
    if (lower.empty() || !FitFailures(e.needs, node, used).empty()) {
      ++verdicts["No preemption victims found for incoming pod"];
      continue;
    }
    // Reprieve the most important Pods first; whatever cannot stay is a victim.
    std::sort(lower.begin(), lower.end(), [](const PodEntry* a, const PodEntry* b) {
      if (a->priority != b->priority) return a->priority > b->priority;
      return a->created < b->created;
    });
    Candidate c;
    c.node = name;
    for (const PodEntry* p : lower) {
      Add(&used, WithPod(p->needs.requests));
      if (!FitFailures(e.needs, node, used).empty()) {
        Subtract(&used, WithPod(p->needs.requests));
        c.victims.push_back(p);
        c.max_priority = std::max(c.max_priority, p->priority);
        c.sum_priority += p->priority;
      }
    }
    candidates.push_back(std::move(c));
  }
  if (candidates.empty()) {
    return "preemption: " + UnschedulableMessage(static_cast<int>(nodes_.size()), verdicts);
  }
  // Upstream's order: lowest highest-victim priority, then smallest priority sum, then fewest.
  const Candidate& best = *std::min_element(candidates.begin(), candidates.end(),
                                            [](const Candidate& a, const Candidate& b) {
                                              if (a.max_priority != b.max_priority)
                                                return a.max_priority < b.max_priority;
                                              if (a.sum_priority != b.sum_priority)
                                                return a.sum_priority < b.sum_priority;
                                              if (a.victims.size() != b.victims.size())
                                                return a.victims.size() < b.victims.size();
                                              return a.node < b.node;
                                            });
  const std::string sched = Str(*e.obj, "spec.schedulerName").empty()
                                ? options_.scheduler_name
                                : Str(*e.obj, "spec.schedulerName");
  for (const PodEntry* v : best.victims) {
    preempting_.insert(v->key);
    plan->evictions.push_back({v->obj, e.uid, best.node, sched});
  }
  SetNominated(e, best.node);
  return "";
}

void Scheduler::ScheduleGroup(const PodEntry& trigger, Plan* plan) {
  const std::string ns = trigger.ns;
  const std::string group = trigger.group;
  std::vector<PodEntry*> members;
  for (auto& [key, p] : pods_) {
    if (p.ns == ns && p.group == group && !p.terminal && !p.deleting) members.push_back(&p);
  }
  std::vector<PodEntry*> pending;
  int64_t bound = 0;
  for (PodEntry* m : members) {
    if (!m->node.empty()) {
      ++bound;
    } else if (m->Pending()) {
      pending.push_back(m);
    }
  }
  std::sort(pending.begin(), pending.end(), [](const PodEntry* a, const PodEntry* b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    if (a->created != b->created) return a->created < b->created;
    return a->key < b->key;
  });
  auto fail_all = [&](const std::string& message) {
    for (PodEntry* m : pending) {
      MarkUnschedulable(m->key);
      plan->failures.push_back({m->key, m->obj, message, ""});
    }
  };
  ObjectPtr pg = groups_informer_->Get(ns, group);
  if (!pg) {
    fail_all("pod group \"" + group + "\" not found: create the PodGroup (" + kPodGroups.group +
             "/" + kPodGroups.version + ") named in the pod's " + kPodGroupLabel + " label");
    return;
  }
  int64_t min_member = 1;
  if (const Json* m = FindPath(*pg, "spec.minMember"); m && m->is_number_integer()) {
    min_member = std::max<int64_t>(1, m->get<int64_t>());
  }
  const int64_t total = static_cast<int64_t>(members.size());
  if (total < min_member) {
    fail_all(std::to_string(total) + "/" + std::to_string(min_member) + " pods of pod group \"" +
             group + "\" exist, waiting for " + std::to_string(min_member - total) + " more");
    return;
  }
  // Simulate placing every pending member, each seeing the ones placed before it.
  std::map<std::string, ResourceList> extra;
  std::vector<std::pair<PodEntry*, std::string>> placed;
  std::vector<std::pair<PodEntry*, std::string>> unplaced;  // with its own message
  for (PodEntry* m : pending) {
    std::map<std::string, std::vector<std::string>> reasons;
    const std::string node = FindNode(*m, extra, &reasons);
    if (!node.empty()) {
      Add(&extra[node], WithPod(m->needs.requests));
      placed.emplace_back(m, node);
      continue;
    }
    std::map<std::string, int> histogram;
    for (const auto& [n, rs] : reasons) {
      for (const std::string& r : rs) ++histogram[r];
    }
    unplaced.emplace_back(m, UnschedulableMessage(static_cast<int>(nodes_.size()), histogram));
  }
  if (unplaced.empty() || bound + static_cast<int64_t>(placed.size()) >= min_member) {
    for (auto& [m, node] : placed) {
      Assume(*m, node);
      plan->bindings.push_back({m->key, m->ns, m->name, node, m->obj});
    }
    for (auto& [m, message] : unplaced) {
      MarkUnschedulable(m->key);
      plan->failures.push_back({m->key, m->obj, message, ""});
    }
    return;
  }
  fail_all("pod group \"" + group + "\" needs " + std::to_string(min_member) + " pods, " +
           std::to_string(total) + " exist; they do not fit together: " + unplaced[0].second);
}

// ---------------------------------------------------------------------------- API writes

void Scheduler::Execute(const Plan& plan) {
  for (const Binding& b : plan.bindings) {
    if (!Bind(b)) {
      std::lock_guard<std::mutex> l(mu_);
      Forget(b.key, controllers::UidOf(*b.obj));
    }
  }
  for (const Eviction& e : plan.evictions) Evict(e);
  for (const Failure& f : plan.failures) WriteFailure(f);
}

bool Scheduler::Bind(const Binding& b) {
  Json pod = *b.obj;
  bool bound = false;
  for (int attempt = 0; attempt < kWriteAttempts && !bound; ++attempt) {
    const std::string current = NodeNameOf(pod);
    if (!current.empty()) {
      if (current != b.node) return false;  // someone else bound it
      bound = true;
      break;
    }
    if (IsDeletingPod(pod) || IsTerminal(pod)) return false;
    pod["spec"]["nodeName"] = b.node;
    auto updated = client_->Update(kPods, b.ns, pod);
    if (updated.ok()) {
      pod = std::move(*updated);
      bound = true;
    } else if (updated.status().code() == Code::kConflict) {
      auto live = client_->Get(kPods, b.ns, b.name);
      if (!live.ok() || controllers::UidOf(*live) != controllers::UidOf(*b.obj)) return false;
      pod = std::move(*live);
    } else {
      SKIFF_LOG(Warn) << "scheduler: binding " << b.key << " to " << b.node
                      << " failed: " << updated.status().ToString();
      return false;
    }
  }
  if (!bound) return false;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++bindings_;
  }
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    Json next = pod;
    bool changed = SetCondition(&next, "PodScheduled", "True", "", "");
    if (next["status"].contains("nominatedNodeName")) {
      next["status"].erase("nominatedNodeName");
      changed = true;
    }
    if (!changed) break;
    auto updated = client_->UpdateStatus(kPods, b.ns, next);
    if (updated.ok()) break;
    if (updated.status().code() != Code::kConflict) break;
    auto live = client_->Get(kPods, b.ns, b.name);
    if (!live.ok()) break;
    pod = std::move(*live);
  }
  recorder_.Event(pod, "Normal", "Scheduled",
                  "Successfully assigned " + b.ns + "/" + b.name + " to " + b.node);
  return true;
}

void Scheduler::WriteFailure(const Failure& f) {
  Json pod = *f.obj;
  const std::string ns = controllers::NamespaceOf(pod);
  const std::string name = controllers::NameOf(pod);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    if (!NodeNameOf(pod).empty()) return;  // bound meanwhile
    Json next = pod;
    bool changed = SetCondition(&next, "PodScheduled", "False", "Unschedulable", f.message);
    if (!f.nominate.empty() && Str(next, "status.nominatedNodeName") != f.nominate) {
      next["status"]["nominatedNodeName"] = f.nominate;
      changed = true;
    }
    if (!changed) break;  // nothing new to say: no write
    auto updated = client_->UpdateStatus(kPods, ns, next);
    if (updated.ok()) {
      pod = std::move(*updated);
      break;
    }
    if (updated.status().code() != Code::kConflict) {
      if (updated.status().code() == Code::kNotFound) return;
      break;
    }
    auto live = client_->Get(kPods, ns, name);
    if (!live.ok() || controllers::UidOf(*live) != controllers::UidOf(*f.obj)) return;
    pod = std::move(*live);
  }
  recorder_.Event(pod, "Warning", "FailedScheduling", f.message);
}

void Scheduler::Evict(const Eviction& ev) {
  Json victim = *ev.victim;
  const std::string ns = controllers::NamespaceOf(victim);
  const std::string name = controllers::NameOf(victim);
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    Json next = victim;
    if (!SetCondition(&next, "DisruptionTarget", "True", "PreemptionByScheduler",
                      ev.scheduler_name + ": preempting to accommodate a higher priority pod")) {
      break;
    }
    auto updated = client_->UpdateStatus(kPods, ns, next);
    if (updated.ok()) {
      victim = std::move(*updated);
      break;
    }
    if (updated.status().code() == Code::kNotFound) return;
    if (updated.status().code() != Code::kConflict) break;
    auto live = client_->Get(kPods, ns, name);
    if (!live.ok() || controllers::UidOf(*live) != controllers::UidOf(*ev.victim)) return;
    victim = std::move(*live);
  }
  recorder_.Event(victim, "Normal", "Preempted",
                  "Preempted by pod " + ev.preemptor_uid + " on node " + ev.node);
  client::DeleteOptions options;
  options.precondition_uid = controllers::UidOf(*ev.victim);
  auto deleted = client_->Delete(kPods, ns, name, options);
  if (!deleted.ok() && deleted.status().code() != Code::kNotFound) {
    SKIFF_LOG(Warn) << "scheduler: preempting " << ns << "/" << name
                    << " failed: " << deleted.status().ToString();
    std::lock_guard<std::mutex> l(mu_);
    preempting_.erase(controllers::ObjectKey(ns, name));
  }
}

// ---------------------------------------------------------------------------- wiring

Status StartScheduler(controllers::Manager& mgr, client::Client* client, SchedulerOptions options) {
  QuotaControllerOptions qo;
  qo.resync = options.quota_resync;
  qo.registry = options.registry;
  SKIFF_RETURN_IF_ERROR(StartQuotaController(mgr, client, qo));
  SKIFF_RETURN_IF_ERROR(StartPodGroupController(mgr, client));
  mgr.Add(std::make_unique<Scheduler>(&mgr, client, std::move(options)));
  return Status::Ok();
}

}  // namespace skiff::scheduler

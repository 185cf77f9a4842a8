// Node filters with upstream's failure reasons.
#include "scheduler/fit.h"

#include <algorithm>

namespace skiff::scheduler {

namespace {

std::string Str(const Json& obj, const char* key) {
  if (!obj.is_object()) return "";
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string TaintText(const Json& taint) {
  return "{" + Str(taint, "key") + ": " + Str(taint, "value") + "}";
}

bool BlockingEffect(const std::string& effect) {
  return effect == "NoSchedule" || effect == "NoExecute";
}

}  // namespace

NodeState NodeStateFromJson(const Json& node) {
  NodeState n;
  if (const Json* name = FindPath(node, "metadata.name"); name && name->is_string()) {
    n.name = name->get<std::string>();
  }
  if (const Json* labels = FindPath(node, "metadata.labels"); labels && labels->is_object()) {
    n.labels = *labels;
  }
  n.allocatable = ParseResourceList(FindPath(node, "status.allocatable"));
  if (n.allocatable.empty()) n.allocatable = ParseResourceList(FindPath(node, "status.capacity"));
  if (const Json* u = FindPath(node, "spec.unschedulable"); u && u->is_boolean()) {
    n.unschedulable = u->get<bool>();
  }
  if (const Json* t = FindPath(node, "spec.taints"); t && t->is_array()) n.taints = *t;
  if (const Json* conds = FindPath(node, "status.conditions"); conds && conds->is_array()) {
    for (const Json& c : *conds) {
      if (Str(c, "type") == "Ready") n.ready = Str(c, "status") == "True";
    }
  }
  return n;
}

PodNeeds PodNeedsFromJson(const Json& pod) {
  PodNeeds p;
  p.requests = PodRequests(pod);
  if (const Json* t = FindPath(pod, "spec.tolerations"); t && t->is_array()) p.tolerations = *t;
  if (const Json* s = FindPath(pod, "spec.nodeSelector"); s && s->is_object()) {
    p.node_selector = *s;
  }
  return p;
}

bool Tolerates(const Json& tolerations, const Json& taint) {
  const std::string key = Str(taint, "key");
  const std::string value = Str(taint, "value");
  const std::string effect = Str(taint, "effect");
  for (const Json& t : tolerations) {
    const std::string t_effect = Str(t, "effect");
    if (!t_effect.empty() && t_effect != effect) continue;
    const std::string t_key = Str(t, "key");
    const std::string op = Str(t, "operator").empty() ? "Equal" : Str(t, "operator");
    if (t_key.empty()) {
      if (op == "Exists") return true;  // an empty key with Exists tolerates everything
      continue;
    }
    if (t_key != key) continue;
    if (op == "Exists" || (op == "Equal" && Str(t, "value") == value)) return true;
  }
  return false;
}

std::vector<std::string> FitFailures(const PodNeeds& pod, const NodeState& node,
                                     const ResourceList& used) {
  if (node.unschedulable) {
    const Json cordon = {{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}};
    if (!Tolerates(pod.tolerations, cordon)) return {"node(s) were unschedulable"};
  }
  Json taints = node.taints;
  if (!node.ready) {
    // The node lifecycle controller taints a node that is not Ready; skiff has none, so the taint
    // is implied here.
    bool present = false;
    for (const Json& t : taints) present |= Str(t, "key") == "node.kubernetes.io/not-ready";
    if (!present) {
      taints.push_back({{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}});
    }
  }
  for (const Json& t : taints) {
    if (!BlockingEffect(Str(t, "effect"))) continue;
    if (!Tolerates(pod.tolerations, t)) {
      return {"node(s) had untolerated taint " + TaintText(t)};
    }
  }
  for (auto& [k, v] : pod.node_selector.items()) {
    const std::string want = v.is_string() ? v.get<std::string>() : v.dump();
    if (Str(node.labels, k.c_str()) != want || !node.labels.contains(k)) {
      return {"node(s) didn't match Pod's node affinity/selector"};
    }
  }

  auto get = [](const ResourceList& l, const std::string& k) {
    auto it = l.find(k);
    return it == l.end() ? int64_t{0} : it->second;
  };
  std::vector<std::string> out;
  if (get(used, "pods") + 1000 > get(node.allocatable, "pods")) {
    out.push_back("Too many pods");
  }
  // cpu and memory first, then the rest by name, as upstream lists them.
  std::vector<std::string> names;
  for (const char* first : {"cpu", "memory", "ephemeral-storage"}) {
    if (pod.requests.count(first)) names.push_back(first);
  }
  for (const auto& [k, v] : pod.requests) {
    if (k != "cpu" && k != "memory" && k != "ephemeral-storage" && k != "pods") names.push_back(k);
  }
  for (const std::string& r : names) {
    const int64_t want = get(pod.requests, r);
    if (want <= 0) continue;
    if (get(used, r) + want > get(node.allocatable, r)) {
      out.push_back("Insufficient " + r);
    }
  }
  return out;
}

bool OnlyResourceFailures(const std::vector<std::string>& failures) {
  for (const std::string& f : failures) {
    if (f != "Too many pods" && f.rfind("Insufficient ", 0) != 0) return false;
  }
  return !failures.empty();
}

std::string UnschedulableMessage(int num_nodes, const std::map<std::string, int>& reasons,
                                 const std::string& postfilter) {
  if (num_nodes == 0) return "no nodes available to schedule pods";
  std::vector<std::string> parts;
  for (const auto& [reason, count] : reasons) parts.push_back(std::to_string(count) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string msg = "0/" + std::to_string(num_nodes) + " nodes are available:";
  if (!parts.empty()) {
    msg += " ";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += ".";
  }
  if (!postfilter.empty()) msg += " " + postfilter;
  return msg;
}

}  // namespace skiff::scheduler

// The scheduler's filters and their upstream wording: whether a Pod may go to a node (cordon,
// readiness, taints, nodeSelector, resources) and the "0/N nodes are available: ..." message that
// sums up why it went nowhere.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/json.h"
#include "scheduler/resources.h"

namespace skiff::scheduler {

// The scheduler's view of one node: what it offers and what bound Pods already take.
struct NodeState {
  std::string name;
  Json labels = Json::object();
  ResourceList allocatable;  // "pods" included, 1000 per Pod
  bool unschedulable = false;
  bool ready = false;
  Json taints = Json::array();
};

// Reads a Node object.
NodeState NodeStateFromJson(const Json& node);

// What the filters need to know of a Pod.
struct PodNeeds {
  ResourceList requests;  // effective requests, without "pods"
  Json tolerations = Json::array();
  Json node_selector = Json::object();
};
PodNeeds PodNeedsFromJson(const Json& pod);

// Why `pod` cannot go to `node` when `used` is already taken there ("pods" counts bound Pods,
// 1000 each): empty if it can.
// The non-resource filters run first and report alone, as upstream's filter plugins do; the
// resource filter reports every insufficient resource ("Too many pods", "Insufficient cpu").
std::vector<std::string> FitFailures(const PodNeeds& pod, const NodeState& node,
                                     const ResourceList& used);
// True when `failures` are all about resources, so that removing Pods could help.
bool OnlyResourceFailures(const std::vector<std::string>& failures);

// Whether `tolerations` tolerate the NoSchedule/NoExecute taint `taint`.
bool Tolerates(const Json& tolerations, const Json& taint);

// Counts of each failure reason over all nodes -> "0/3 nodes are available: 1 Insufficient cpu,
// 2 node(s) were unschedulable." (reasons sorted as strings, as upstream). `postfilter` (e.g. the
// preemption verdict) is appended as its own sentence. No nodes: "no nodes available to schedule
// pods".
std::string UnschedulableMessage(int num_nodes, const std::map<std::string, int>& reasons,
                                 const std::string& postfilter = "");

}  // namespace skiff::scheduler

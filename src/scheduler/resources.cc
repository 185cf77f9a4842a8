// Effective Pod requests and limits, as upstream's resource helpers compute them.
#include "scheduler/resources.h"

#include <algorithm>

#include "scheduler/quantity.h"

namespace skiff::scheduler {

namespace {

void MaxInto(ResourceList* into, const ResourceList& x) {
  for (const auto& [k, v] : x) {
    auto& cur = (*into)[k];
    cur = std::max(cur, v);
  }
}

// A container's requests (defaulted from limits) or limits.
ResourceList ContainerAmounts(const Json& c, bool limits) {
  const Json* res = c.is_object() ? FindPath(c, "resources") : nullptr;
  if (!res || !res->is_object()) return {};
  ResourceList lim = ParseResourceList(res->contains("limits") ? &(*res)["limits"] : nullptr);
  if (limits) return lim;
  ResourceList req = ParseResourceList(res->contains("requests") ? &(*res)["requests"] : nullptr);
  for (const auto& [k, v] : lim) req.emplace(k, v);  // keeps an explicit request
  return req;
}

ResourceList PodAmounts(const Json& pod, bool limits) {
  const Json* spec = FindPath(pod, "spec");
  if (!spec || !spec->is_object()) return {};
  ResourceList sum;
  if (const Json* cs = FindPath(*spec, "containers"); cs && cs->is_array()) {
    for (const Json& c : *cs) Add(&sum, ContainerAmounts(c, limits));
  }
  ResourceList init_max;
  ResourceList sidecars;
  if (const Json* cs = FindPath(*spec, "initContainers"); cs && cs->is_array()) {
    for (const Json& c : *cs) {
      ResourceList own = ContainerAmounts(c, limits);
      const bool sidecar = c.is_object() && c.value("restartPolicy", "") == "Always";
      if (sidecar) {
        Add(&sidecars, own);
        MaxInto(&init_max, sidecars);
      } else {
        ResourceList with = sidecars;
        Add(&with, own);
        MaxInto(&init_max, with);
      }
    }
  }
  Add(&sum, sidecars);
  MaxInto(&sum, init_max);
  if (const Json* overhead = FindPath(*spec, "overhead")) Add(&sum, ParseResourceList(overhead));
  for (auto it = sum.begin(); it != sum.end();) {
    it = it->second == 0 ? sum.erase(it) : std::next(it);
  }
  return sum;
}

void DefaultContainers(Json* containers) {
  if (!containers || !containers->is_array()) return;
  for (Json& c : *containers) {
    if (!c.is_object() || !c.contains("resources") || !c["resources"].is_object()) continue;
    Json& res = c["resources"];
    if (!res.contains("limits") || !res["limits"].is_object() || res["limits"].empty()) continue;
    if (!res.contains("requests") || !res["requests"].is_object()) res["requests"] = Json::object();
    for (auto& [k, v] : res["limits"].items()) {
      if (!res["requests"].contains(k)) res["requests"][k] = v;
    }
  }
}

}  // namespace

ResourceList ParseResourceList(const Json* list) {
  ResourceList out;
  if (!list || !list->is_object()) return out;
  for (auto& [k, v] : list->items()) {
    auto q = ParseQuantityJson(v);
    if (q.ok()) out[k] = q->milli;
  }
  return out;
}

void DefaultRequestsFromLimits(Json* pod) {
  if (!pod->contains("spec") || !(*pod)["spec"].is_object()) return;
  Json& spec = (*pod)["spec"];
  if (spec.contains("containers")) DefaultContainers(&spec["containers"]);
  if (spec.contains("initContainers")) DefaultContainers(&spec["initContainers"]);
}

ResourceList PodRequests(const Json& pod) { return PodAmounts(pod, false); }
ResourceList PodLimits(const Json& pod) { return PodAmounts(pod, true); }

void Add(ResourceList* into, const ResourceList& x) {
  for (const auto& [k, v] : x) (*into)[k] += v;
}

void Subtract(ResourceList* from, const ResourceList& x) {
  for (const auto& [k, v] : x) (*from)[k] -= v;
}

std::string FormatResource(const std::string& resource, int64_t milli) {
  const bool bytes = resource.find("memory") != std::string::npos ||
                     resource.find("storage") != std::string::npos ||
                     resource.rfind("hugepages-", 0) == 0;
  if (!bytes) return FormatQuantityMilli(milli, QuantityFormat::kDecimalSI);
  std::string decimal = FormatQuantityMilli(milli, QuantityFormat::kDecimalSI);
  std::string binary = FormatQuantityMilli(milli, QuantityFormat::kBinarySI);
  return binary.size() <= decimal.size() ? binary : decimal;
}

std::string PodPhase(const Json& pod) {
  const Json* p = FindPath(pod, "status.phase");
  return p && p->is_string() ? p->get<std::string>() : "";
}

bool IsTerminal(const Json& pod) {
  const std::string phase = PodPhase(pod);
  return phase == "Succeeded" || phase == "Failed";
}

std::string NodeNameOf(const Json& pod) {
  const Json* n = FindPath(pod, "spec.nodeName");
  return n && n->is_string() ? n->get<std::string>() : "";
}

bool IsDeletingPod(const Json& pod) {
  const Json* d = FindPath(pod, "metadata.deletionTimestamp");
  return d && !d->is_null();
}

}  // namespace skiff::scheduler

// Pod defaulting, Priority and ResourceQuota admission, with upstream's refusals word for word.
#include "scheduler/admission.h"

#include <algorithm>

#include "api/schema.h"
#include "scheduler/quantity.h"
#include "scheduler/quota.h"
#include "scheduler/resources.h"

namespace skiff::scheduler {

namespace {

using apiserver::Operation;

bool IsPod(const api::ResourceInfo& res) { return res.group.empty() && res.kind == "Pod"; }

std::string NameOf(const Json& obj) {
  const Json* n = FindPath(obj, "metadata.name");
  return n && n->is_string() ? n->get<std::string>() : "";
}

// Every object of a collection in `ns` ("" = cluster-scoped or all), read through the ObjectApi.
StatusOr<std::vector<Json>> ListObjects(apiserver::ObjectApi* api, const std::string& group,
                                        const std::string& plural, const std::string& ns) {
  api::ResourcePtr res;
  for (const api::ResourcePtr& r : api->registry()->All()) {
    if (r->group == group && r->plural == plural && r->stored) {
      res = r;
      break;
    }
  }
  if (!res) return Status::NotFound("the server could not find the requested resource");
  auto listed = api->List(AdmissionContext(), *res, ns, {});
  if (!listed.ok()) return listed.status();
  std::vector<Json> out;
  out.reserve(listed->items.size());
  for (const std::string& raw : listed->items) {
    auto obj = ParseJson(raw);
    if (obj.ok()) out.push_back(std::move(*obj));
  }
  return out;
}

}  // namespace

apiserver::RequestContext AdmissionContext() {
  return {{"system:admission", {"system:masters"}}, "skiff-admission"};
}

Status ForbiddenError(const api::ResourceInfo& res, const std::string& name,
                      const std::string& why) {
  Status s = Status::Forbidden(res.GroupResource() + " \"" + name + "\" is forbidden: " + why);
  s.WithDetails(name, res.group, res.plural);
  return s;
}

void InstallSchedulingAdmission(apiserver::ObjectApi* api) {
  api->AddAdmissionPlugin(std::make_unique<PodDefaultingAdmission>());
  api->AddAdmissionPlugin(std::make_unique<PriorityAdmission>(api));
  api->AddAdmissionPlugin(std::make_unique<QuotaAdmission>(api));
}

// ---------------------------------------------------------------------------- Pod defaulting

namespace {

// Upstream's QoS rule: Guaranteed when every container has cpu and memory limits equal to its
// requests, BestEffort when none has any, else Burstable.
std::string QosClass(const Json& pod) {
  bool any = false, guaranteed = true;
  for (const char* field : {"initContainers", "containers"}) {
    const Json* list = FindPath(pod, std::string("spec.") + field);
    if (!list || !list->is_array()) continue;
    for (const Json& c : *list) {
      const Json* req = FindPath(c, "resources.requests");
      const Json* lim = FindPath(c, "resources.limits");
      for (const char* r : {"cpu", "memory"}) {
        const bool has_req = req && req->is_object() && req->contains(r);
        const bool has_lim = lim && lim->is_object() && lim->contains(r);
        any = any || has_req || has_lim;
        if (!has_lim) {
          guaranteed = false;
        } else if (has_req) {
          auto a = ParseQuantityJson((*req)[r]);
          auto b = ParseQuantityJson((*lim)[r]);
          if (!a.ok() || !b.ok() || a->milli != b->milli) guaranteed = false;
        }
      }
    }
  }
  if (!any) return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

}  // namespace

Status PodDefaultingAdmission::Admit(const apiserver::RequestContext&, Operation op,
                                     const api::ResourceInfo& res, Json* object, const Json*) {
  if (op != Operation::kCreate || !IsPod(res) || !object) return Status::Ok();
  DefaultRequestsFromLimits(object);
  // As the API server's pod strategy: a new Pod's status is Pending with its QoS class, whatever
  // the request said.
  (*object)["status"] = {{"phase", "Pending"}, {"qosClass", QosClass(*object)}};
  return Status::Ok();
}

// ---------------------------------------------------------------------------- Priority

Status PriorityAdmission::Admit(const apiserver::RequestContext&, Operation op,
                                const api::ResourceInfo& res, Json* object, const Json* old) {
  if (!object || op == Operation::kDelete) return Status::Ok();
  if (IsPod(res) && op == Operation::kCreate) return AdmitPod(res, object);
  if (res.group == "scheduling.k8s.io" && res.kind == "PriorityClass") {
    return AdmitPriorityClass(op, res, object, old);
  }
  return Status::Ok();
}

Status PriorityAdmission::AdmitPod(const api::ResourceInfo& res, Json* pod) {
  if (!(*pod)["spec"].is_object()) return Status::Ok();
  Json& spec = (*pod)["spec"];
  std::string class_name = spec.value("priorityClassName", "");
  int64_t priority = 0;
  std::string policy = "PreemptLowerPriority";
  auto take = [&](const Json& pc) {
    priority = pc.value("value", int64_t{0});
    policy = pc.value("preemptionPolicy", "PreemptLowerPriority");
  };

  if (class_name.empty()) {
    auto classes = ListObjects(api_, "scheduling.k8s.io", "priorityclasses", "");
    if (classes.ok()) {
      // Several defaults can only come from a race; upstream then takes the lowest value.
      const Json* chosen = nullptr;
      for (const Json& pc : *classes) {
        if (!pc.value("globalDefault", false)) continue;
        if (!chosen || pc.value("value", int64_t{0}) < chosen->value("value", int64_t{0})) {
          chosen = &pc;
        }
      }
      if (chosen) {
        take(*chosen);
        spec["priorityClassName"] = NameOf(*chosen);
      }
    }
  } else {
    api::ResourcePtr pc_res = api_->registry()->Find("scheduling.k8s.io", "v1", "priorityclasses");
    StatusOr<Json> pc = Status::NotFound("");
    if (pc_res) pc = api_->Get(AdmissionContext(), *pc_res, "", class_name);
    if (pc.ok()) {
      take(*pc);
    } else if (class_name == "system-cluster-critical") {
      priority = kSystemClusterCritical;
    } else if (class_name == "system-node-critical") {
      priority = kSystemNodeCritical;
    } else {
      return ForbiddenError(res, NameOf(*pod),
                            "no PriorityClass with name " + class_name + " was found");
    }
  }

  if (const Json* given = FindPath(spec, "priority"); given && !given->is_null()) {
    if (!given->is_number_integer() || given->get<int64_t>() != priority) {
      return ForbiddenError(res, NameOf(*pod),
                            "the integer value of priority (" + given->dump() +
                                ") must not be provided in pod spec; priority admission "
                                "controller computed " +
                                std::to_string(priority) + " from the given PriorityClass name");
    }
  }
  if (const Json* given = FindPath(spec, "preemptionPolicy"); given && given->is_string()) {
    if (given->get<std::string>() != policy) {
      return ForbiddenError(res, NameOf(*pod),
                            "the string value of PreemptionPolicy (" + given->get<std::string>() +
                                ") must not be provided in pod spec; priority admission "
                                "controller computed " +
                                policy + " from the given PriorityClass name");
    }
  }
  spec["priority"] = priority;
  spec["preemptionPolicy"] = policy;
  return Status::Ok();
}

Status PriorityAdmission::AdmitPriorityClass(Operation op, const api::ResourceInfo& res, Json* pc,
                                             const Json* old) {
  const std::string name = NameOf(*pc);
  const int64_t value = pc->value("value", int64_t{0});
  if (op == Operation::kUpdate && old && old->value("value", int64_t{0}) != value) {
    return api::InvalidStatus(
        res.GroupKind(), name,
        {{"FieldValueForbidden", "Forbidden: may not be changed in an update.", "value"}});
  }
  if (value > kHighestUserDefinablePriority && name.rfind("system-", 0) != 0) {
    return api::InvalidStatus(res.GroupKind(), name,
                              {{"FieldValueForbidden",
                                "Forbidden: maximum allowed value of a user defined priority is " +
                                    std::to_string(kHighestUserDefinablePriority),
                                "value"}});
  }
  if (pc->value("globalDefault", false)) {
    auto classes = ListObjects(api_, "scheduling.k8s.io", "priorityclasses", "");
    if (!classes.ok()) return classes.status();
    for (const Json& other : *classes) {
      if (NameOf(other) != name && other.value("globalDefault", false)) {
        return ForbiddenError(res, name,
                              "PriorityClass " + NameOf(other) +
                                  " is already marked as default. Only one default can exist");
      }
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------- ResourceQuota

std::mutex* QuotaAdmission::NamespaceLock(const std::string& ns) {
  std::lock_guard<std::mutex> l(locks_mu_);
  auto& m = locks_[ns];
  if (!m) m = std::make_unique<std::mutex>();
  return m.get();
}

Status QuotaAdmission::Admit(const apiserver::RequestContext&, Operation op,
                             const api::ResourceInfo& res, Json* object, const Json*) {
  if (op != Operation::kCreate || !object || !res.namespaced) return Status::Ok();
  const Json* ns_field = FindPath(*object, "metadata.namespace");
  if (!ns_field || !ns_field->is_string()) return Status::Ok();
  const std::string ns = ns_field->get<std::string>();
  const std::string name = NameOf(*object);
  const Collection collection{res.group, res.plural};
  auto keys_of = [](const Json& quota) {
    std::vector<std::string> keys;
    if (const Json* hard = FindPath(quota, "spec.hard"); hard && hard->is_object()) {
      for (auto& [k, v] : hard->items()) keys.push_back(k);
    }
    return keys;
  };
  auto list_quotas = [&]() -> StatusOr<std::vector<Json>> {
    auto quotas = ListObjects(api_, "", "resourcequotas", ns);
    if (!quotas.ok()) return quotas;
    std::sort(quotas->begin(), quotas->end(),
              [](const Json& a, const Json& b) { return NameOf(a) < NameOf(b); });
    return quotas;
  };

  // A cheap first pass outside the lock: most creates touch no quota at all.
  auto quotas = list_quotas();
  if (!quotas.ok() || quotas->empty()) return Status::Ok();
  bool charged_somewhere = false;
  for (const Json& q : *quotas) {
    const std::vector<std::string> keys = keys_of(q);
    if (IsPod(res) && !IsTerminal(*object)) {
      const std::string missing = MissingPodConstraints(*object, keys);
      if (!missing.empty()) {
        return ForbiddenError(res, name,
                              "failed quota: " + NameOf(q) + ": must specify " + missing);
      }
    }
    charged_somewhere |= !ObjectUsage(collection, *object, keys).empty();
  }
  if (!charged_somewhere) return Status::Ok();

  std::lock_guard<std::mutex> ns_lock(*NamespaceLock(ns));
  api::ResourcePtr quota_res = api_->registry()->Find("", "v1", "resourcequotas");
  if (!quota_res) return Status::Ok();
  CollectionLister lister = [this](const Collection& c, const std::string& in_ns) {
    return ListObjects(api_, c.group, c.plural, in_ns);
  };
  std::vector<std::string> done;  // quotas already charged (a retry must not charge them twice)
  for (int attempt = 0; attempt < 16; ++attempt) {
    quotas = list_quotas();
    if (!quotas.ok()) return quotas.status();
    bool conflict = false;
    for (Json& q : *quotas) {
      const std::string qname = NameOf(q);
      if (std::find(done.begin(), done.end(), qname) != done.end()) continue;
      const std::vector<std::string> keys = keys_of(q);
      const ResourceList delta = ObjectUsage(collection, *object, keys);
      if (delta.empty()) continue;
      const ResourceList hard = ParseResourceList(FindPath(q, "spec.hard"));
      ResourceList used = ParseResourceList(FindPath(q, "status.used"));
      std::vector<std::string> unknown;
      for (const std::string& k : keys) {
        if (!used.count(k)) unknown.push_back(k);
      }
      // The quota controller has not counted these yet: count them now.
      if (!unknown.empty()) {
        for (const auto& [k, v] : NamespaceUsage(unknown, ns, lister)) used[k] = v;
      }
      ResourceList requested, used_x, limited;
      for (const auto& [k, v] : delta) {
        auto h = hard.find(k);
        if (h == hard.end()) continue;
        if (used[k] + v > h->second) {
          requested[k] = v;
          used_x[k] = used[k];
          limited[k] = h->second;
        }
      }
      if (!requested.empty()) {
        return ForbiddenError(
            res, name,
            "exceeded quota: " + qname + ", requested: " + PrettyPrint(requested) +
                ", used: " + PrettyPrint(used_x) + ", limited: " + PrettyPrint(limited));
      }
      ResourceList next;
      for (const std::string& k : keys) next[k] = used[k];
      for (const auto& [k, v] : delta) {
        if (next.count(k)) next[k] += v;
      }
      q["status"]["hard"] = q["spec"]["hard"];
      q["status"]["used"] = ResourceListToJson(next);
      // Noted before the write: the controller must not see the charge without the note.
      QuotaChargeLog::Record(ns, qname);
      auto written =
          api_->Update(AdmissionContext(), *quota_res, ns, qname, q, {}, /*status=*/true);
      if (!written.ok()) {
        if (written.status().code() == Code::kConflict) {
          conflict = true;
          break;
        }
        if (written.status().code() == Code::kNotFound) continue;  // quota deleted meanwhile
        return written.status();
      }
      done.push_back(qname);
    }
    if (!conflict) return Status::Ok();
  }
  return ForbiddenError(res, name, "status unknown for quota: too many concurrent updates");
}

}  // namespace skiff::scheduler

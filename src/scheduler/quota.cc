// Quota keys, per-object usage and namespace usage, following upstream's quota evaluators.
#include "scheduler/quota.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "scheduler/quantity.h"

namespace skiff::scheduler {

namespace {

constexpr char kStorageClassSuffix[] = ".storageclass.storage.k8s.io/";
constexpr int64_t kOne = 1000;

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

bool IsPodComputeKey(const std::string& key) {
  return key == "cpu" || key == "memory" || key == "ephemeral-storage" || key == "pods" ||
         StartsWith(key, "hugepages-") ||
         (StartsWith(key, "requests.") && key != "requests.storage") || StartsWith(key, "limits.");
}

int64_t Get(const ResourceList& l, const std::string& k) {
  auto it = l.find(k);
  return it == l.end() ? 0 : it->second;
}

std::string Str(const Json& obj, const char* path) {
  const Json* v = FindPath(obj, path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

}  // namespace

bool CollectionOfKey(const std::string& key, Collection* out) {
  if (StartsWith(key, "count/")) {
    const std::string rest = key.substr(6);
    const size_t dot = rest.find('.');
    *out = dot == std::string::npos ? Collection{"", rest}
                                    : Collection{rest.substr(dot + 1), rest.substr(0, dot)};
    return !out->plural.empty();
  }
  if (key == "requests.storage" || key == "persistentvolumeclaims" ||
      key.find(kStorageClassSuffix) != std::string::npos) {
    *out = {"", "persistentvolumeclaims"};
    return true;
  }
  if (key == "services" || key == "services.loadbalancers" || key == "services.nodeports") {
    *out = {"", "services"};
    return true;
  }
  for (const char* legacy : {"configmaps", "secrets", "resourcequotas", "replicationcontrollers"}) {
    if (key == legacy) {
      *out = {"", legacy};
      return true;
    }
  }
  if (IsPodComputeKey(key)) {
    *out = {"", "pods"};
    return true;
  }
  return false;
}

ResourceList ObjectUsage(const Collection& c, const Json& obj,
                         const std::vector<std::string>& keys) {
  ResourceList out;
  const bool pod = c.group.empty() && c.plural == "pods";
  if (pod && IsTerminal(obj)) return out;
  const std::string count_key = "count/" + (c.group.empty() ? c.plural : c.plural + "." + c.group);
  ResourceList requests, limits;
  if (pod) {
    requests = PodRequests(obj);
    limits = PodLimits(obj);
  }
  for (const std::string& key : keys) {
    Collection kc;
    if (!CollectionOfKey(key, &kc) || kc.group != c.group || kc.plural != c.plural) continue;
    int64_t v = 0;
    if (key == count_key || key == c.plural) {
      v = kOne;
    } else if (pod) {
      if (key == "cpu" || key == "memory" || key == "ephemeral-storage" ||
          StartsWith(key, "hugepages-")) {
        v = Get(requests, key);
      } else if (StartsWith(key, "requests.")) {
        v = Get(requests, key.substr(9));
      } else if (StartsWith(key, "limits.")) {
        v = Get(limits, key.substr(7));
      }
    } else if (c.plural == "persistentvolumeclaims") {
      const std::string cls = Str(obj, "spec.storageClassName");
      const std::string storage_prefix = cls + kStorageClassSuffix;
      int64_t storage = 0;
      if (const Json* s = FindPath(obj, "spec.resources.requests")) {
        storage = Get(ParseResourceList(s), "storage");
      }
      if (key == "requests.storage" || key == storage_prefix + "requests.storage") v = storage;
      if (key == storage_prefix + "persistentvolumeclaims") v = kOne;
    } else if (c.plural == "services") {
      const std::string type = Str(obj, "spec.type");
      if (key == "services.loadbalancers" && type == "LoadBalancer") v = kOne;
      if (key == "services.nodeports" && (type == "NodePort" || type == "LoadBalancer")) {
        const Json* ports = FindPath(obj, "spec.ports");
        v = ports && ports->is_array() ? kOne * static_cast<int64_t>(ports->size()) : 0;
      }
    }
    if (v != 0) out[key] = v;
  }
  return out;
}

std::string MissingPodConstraints(const Json& pod, const std::vector<std::string>& keys) {
  static const std::set<std::string> kValidated = {
      "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"};
  std::set<std::string> required;
  for (const std::string& k : keys) {
    if (kValidated.count(k)) required.insert(k);
  }
  if (required.empty()) return "";
  std::map<std::string, std::set<std::string>> missing;  // resource -> container names
  for (const char* field : {"spec.containers", "spec.initContainers"}) {
    const Json* cs = FindPath(pod, field);
    if (!cs || !cs->is_array()) continue;
    for (const Json& c : *cs) {
      const Json* req = FindPath(c, "resources.requests");
      const Json* lim = FindPath(c, "resources.limits");
      ResourceList r = ParseResourceList(req);
      ResourceList l = ParseResourceList(lim);
      auto has = [](const Json* list, const ResourceList& parsed, const char* name) {
        return list && list->is_object() && list->contains(name) && parsed.count(name);
      };
      std::set<std::string> present;
      if (has(req, r, "cpu")) present.insert({"cpu", "requests.cpu"});
      if (has(req, r, "memory")) present.insert({"memory", "requests.memory"});
      if (has(lim, l, "cpu")) present.insert("limits.cpu");
      if (has(lim, l, "memory")) present.insert("limits.memory");
      for (const std::string& k : required) {
        if (!present.count(k)) missing[k].insert(c.value("name", ""));
      }
    }
  }
  std::string out;
  for (const auto& [resource, names] : missing) {
    if (!out.empty()) out += "; ";
    out += resource + " for: ";
    bool first = true;
    for (const std::string& n : names) {
      out += (first ? "" : ",") + n;
      first = false;
    }
  }
  return out;
}

ResourceList NamespaceUsage(const std::vector<std::string>& keys, const std::string& ns,
                            const CollectionLister& list) {
  std::map<Collection, std::vector<std::string>> by_collection;
  for (const std::string& k : keys) {
    Collection c;
    if (CollectionOfKey(k, &c)) by_collection[c].push_back(k);
  }
  ResourceList out;
  for (const auto& [c, ks] : by_collection) {
    auto objects = list(c, ns);
    if (!objects.ok()) continue;
    for (const std::string& k : ks) out[k] = 0;
    for (const Json& obj : *objects) Add(&out, ObjectUsage(c, obj, ks));
  }
  return out;
}

Json ResourceListToJson(const ResourceList& list) {
  Json out = Json::object();
  for (const auto& [k, v] : list) out[k] = FormatResource(k, v);
  return out;
}

std::string PrettyPrint(const ResourceList& list) {
  std::string out;
  for (const auto& [k, v] : list) {  // std::map: sorted by name
    if (!out.empty()) out += ",";
    out += k + "=" + FormatResource(k, v);
  }
  return out;
}

namespace {
std::mutex charge_mu;
std::map<std::string, std::chrono::steady_clock::time_point>& Charges() {
  static auto* charges = new std::map<std::string, std::chrono::steady_clock::time_point>();
  return *charges;
}
}  // namespace

void QuotaChargeLog::Record(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> l(charge_mu);
  Charges()[ns + "/" + name] = std::chrono::steady_clock::now();
}

bool QuotaChargeLog::ChargedWithin(const std::string& ns, const std::string& name,
                                   std::chrono::milliseconds window) {
  std::lock_guard<std::mutex> l(charge_mu);
  auto it = Charges().find(ns + "/" + name);
  return it != Charges().end() && std::chrono::steady_clock::now() - it->second < window;
}

}  // namespace skiff::scheduler

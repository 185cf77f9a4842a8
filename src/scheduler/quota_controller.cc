// Recounts ResourceQuota usage: Pods from the shared informer, other kinds by listing them.
#include "scheduler/quota_controller.h"

#include "controllers/object_meta.h"
#include "scheduler/quota.h"
#include "scheduler/scheduler.h"

namespace skiff::scheduler {

namespace {

// A charge younger than this may be for an object not stored yet; usage is not lowered meanwhile.
constexpr std::chrono::milliseconds kChargeGrace{2000};

class QuotaReconciler : public controllers::Reconciler {
 public:
  QuotaReconciler(controllers::Manager* mgr, client::Client* client, QuotaControllerOptions o)
      : mgr_(mgr), client_(client), options_(o), pods_(mgr->GetInformer(kPods)) {}

  StatusOr<controllers::Result> Reconcile(const controllers::Request& req) override {
    const controllers::Result again{false, options_.resync};
    auto live = client_->Get(kResourceQuotas, req.ns, req.name);
    if (!live.ok()) {
      if (live.status().code() == Code::kNotFound) return controllers::Result{};
      return live.status();
    }
    Json quota = std::move(*live);
    std::vector<std::string> keys;
    const Json* hard = FindPath(quota, "spec.hard");
    if (hard && hard->is_object()) {
      for (auto& [k, v] : hard->items()) keys.push_back(k);
    }
    const ResourceList old_used = ParseResourceList(FindPath(quota, "status.used"));
    ResourceList counted = NamespaceUsage(
        keys, req.ns, [this](const Collection& c, const std::string& ns) { return List(c, ns); });
    ResourceList used;
    bool lowered = false;
    for (const std::string& k : keys) {
      auto it = counted.find(k);
      auto old = old_used.find(k);
      // Kinds that cannot be listed keep what admission charged.
      used[k] = it != counted.end() ? it->second : (old != old_used.end() ? old->second : 0);
      lowered |= old != old_used.end() && used[k] < old->second;
    }
    if (lowered && QuotaChargeLog::ChargedWithin(req.ns, req.name, kChargeGrace)) {
      return controllers::Result{false, kChargeGrace};
    }
    const Json hard_json = hard && hard->is_object() ? *hard : Json::object();
    const Json* status_hard = FindPath(quota, "status.hard");
    const bool same_hard = ParseResourceList(status_hard) == ParseResourceList(&hard_json) &&
                           (status_hard ? status_hard->size() : 0) == hard_json.size();
    const Json* status_used = FindPath(quota, "status.used");
    const bool same_used =
        old_used == used && (status_used ? status_used->size() : 0) == used.size();
    if (same_hard && same_used) return again;
    quota["status"]["hard"] = hard_json;
    quota["status"]["used"] = ResourceListToJson(used);
    auto written = client_->UpdateStatus(kResourceQuotas, req.ns, quota);
    if (!written.ok()) {
      if (written.status().code() == Code::kNotFound) return controllers::Result{};
      return written.status();  // a conflict: recount from the newer quota
    }
    return again;
  }

 private:
  StatusOr<std::vector<Json>> List(const Collection& c, const std::string& ns) {
    std::vector<Json> out;
    if (c.group.empty() && c.plural == "pods") {
      for (const controllers::ObjectPtr& p : pods_->List(ns)) out.push_back(*p);
      return out;
    }
    const std::string version = VersionOf(c);
    if (version.empty()) return Status::NotFound("unknown resource " + c.plural + "." + c.group);
    auto listed = client_->List({c.group, version, c.plural}, ns, {});
    if (!listed.ok()) return listed.status();
    if (listed->contains("items") && (*listed)["items"].is_array()) {
      for (Json& item : (*listed)["items"]) out.push_back(std::move(item));
    }
    return out;
  }

  std::string VersionOf(const Collection& c) const {
    if (options_.registry) {
      for (const api::ResourcePtr& r : options_.registry->All()) {
        if (r->group == c.group && r->plural == c.plural && r->stored) return r->version;
      }
      return "";
    }
    for (const char* g : {"", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io",
                          "policy", "autoscaling"}) {
      if (c.group == g) return c.group == "autoscaling" ? "v2" : "v1";
    }
    return "";
  }

  controllers::Manager* const mgr_;
  client::Client* const client_;
  const QuotaControllerOptions options_;
  controllers::Informer* const pods_;
};

}  // namespace

Status StartQuotaController(controllers::Manager& mgr, client::Client* client,
                            QuotaControllerOptions options) {
  controllers::Manager* m = &mgr;
  auto quotas_in_namespace = [m](const Json& obj) {
    std::vector<controllers::Request> out;
    const std::string ns = controllers::NamespaceOf(obj);
    for (const controllers::ObjectPtr& q : m->GetInformer(kResourceQuotas)->List(ns)) {
      out.push_back({ns, controllers::NameOf(*q)});
    }
    return out;
  };
  mgr.NewController("resourcequota")
      .For(kResourceQuotas)
      .Watches(kPods, quotas_in_namespace)
      .Complete(std::make_unique<QuotaReconciler>(&mgr, client, options));
  return Status::Ok();
}

}  // namespace skiff::scheduler

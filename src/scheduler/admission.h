// Scheduling-related admission, as kube-apiserver's plugins of the same names: Pod defaulting
// (requests from limits), Priority (priorityClassName -> spec.priority, PriorityClass rules) and
// ResourceQuota (refuse creates beyond a namespace's quota, charging it before allowing).
//
// The plugins read PriorityClasses, ResourceQuotas and counted objects straight from the
// ObjectApi as a system user, so they see writes at once (no cache lag).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "apiserver/object_api.h"

namespace skiff::scheduler {

// Adds, in order: Pod defaulting, Priority, ResourceQuota. `api` must outlive the plugins.
void InstallSchedulingAdmission(apiserver::ObjectApi* api);

// The built-in classes every cluster has, resolvable even when not stored.
inline constexpr int32_t kSystemClusterCritical = 2000000000;
inline constexpr int32_t kSystemNodeCritical = 2000001000;
// The highest value a user's PriorityClass may take (upstream's HighestUserDefinablePriority).
inline constexpr int64_t kHighestUserDefinablePriority = 1000000000;

// The request context the plugins (and nothing else) use for their own reads and writes.
apiserver::RequestContext AdmissionContext();

// `<resource> "<name>" is forbidden: <why>` (403, reason Forbidden), as admission.NewForbidden.
Status ForbiddenError(const api::ResourceInfo& res, const std::string& name,
                      const std::string& why);

// Requests default to limits on Pod create (upstream's defaulting), so quota and the scheduler
// see what the Pod will be charged.
class PodDefaultingAdmission : public apiserver::AdmissionPlugin {
 public:
  Status Admit(const apiserver::RequestContext& ctx, apiserver::Operation op,
               const api::ResourceInfo& res, Json* object, const Json* old) override;
};

// Resolves a Pod's priority from its PriorityClass (or the global default) on create, and
// validates PriorityClasses: one global default, immutable value, user range.
class PriorityAdmission : public apiserver::AdmissionPlugin {
 public:
  explicit PriorityAdmission(apiserver::ObjectApi* api) : api_(api) {}
  Status Admit(const apiserver::RequestContext& ctx, apiserver::Operation op,
               const api::ResourceInfo& res, Json* object, const Json* old) override;

 private:
  Status AdmitPod(const api::ResourceInfo& res, Json* pod);
  Status AdmitPriorityClass(apiserver::Operation op, const api::ResourceInfo& res, Json* pc,
                            const Json* old);
  apiserver::ObjectApi* const api_;
};

// Refuses creates that would exceed a ResourceQuota of the namespace, and charges the quota's
// status.used (compare-and-swap on its resourceVersion) before allowing one, so two concurrent
// creates cannot both take the last unit. Admissions of one namespace are serialised. The quota
// controller later recomputes the truth (a charged create that then failed is released there).
class QuotaAdmission : public apiserver::AdmissionPlugin {
 public:
  explicit QuotaAdmission(apiserver::ObjectApi* api) : api_(api) {}
  Status Admit(const apiserver::RequestContext& ctx, apiserver::Operation op,
               const api::ResourceInfo& res, Json* object, const Json* old) override;

 private:
  std::mutex* NamespaceLock(const std::string& ns);

  apiserver::ObjectApi* const api_;
  std::mutex locks_mu_;
  std::map<std::string, std::unique_ptr<std::mutex>> locks_;  // GUARDED_BY(locks_mu_)
};

}  // namespace skiff::scheduler

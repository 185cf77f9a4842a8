// PodGroup status from the Pods of the group, read from the shared Pod informer.
#include "scheduler/podgroup_controller.h"

#include "controllers/object_meta.h"
#include "scheduler/resources.h"
#include "scheduler/scheduler.h"

namespace skiff::scheduler {

std::string PodGroupOf(const Json& pod) {
  const Json* labels = FindPath(pod, "metadata.labels");
  if (labels && labels->is_object()) {
    auto it = labels->find(kPodGroupLabel);
    if (it != labels->end() && it->is_string() && !it->get<std::string>().empty()) return *it;
  }
  const Json* annotations = FindPath(pod, "metadata.annotations");
  if (annotations && annotations->is_object()) {
    auto it = annotations->find(kVolcanoGroupAnnotation);
    if (it != annotations->end() && it->is_string()) return *it;
  }
  return "";
}

namespace {

class PodGroupReconciler : public controllers::Reconciler {
 public:
  PodGroupReconciler(controllers::Manager* mgr, client::Client* client)
      : client_(client), groups_(mgr->GetInformer(kPodGroups)), pods_(mgr->GetInformer(kPods)) {}

  StatusOr<controllers::Result> Reconcile(const controllers::Request& req) override {
    controllers::ObjectPtr cached = groups_->Get(req.ns, req.name);
    if (!cached) return controllers::Result{};
    const Json& pg = *cached;
    int64_t min_member = 1;
    if (const Json* m = FindPath(pg, "spec.minMember"); m && m->is_number_integer()) {
      min_member = std::max<int64_t>(1, m->get<int64_t>());
    }
    int64_t total = 0, scheduled = 0, running = 0, succeeded = 0, failed = 0;
    std::string occupied_by;
    for (const controllers::ObjectPtr& p : pods_->List(req.ns)) {
      if (PodGroupOf(*p) != req.name) continue;
      ++total;
      if (!NodeNameOf(*p).empty()) ++scheduled;
      const std::string phase = PodPhase(*p);
      running += phase == "Running";
      succeeded += phase == "Succeeded";
      failed += phase == "Failed";
      if (occupied_by.empty()) {
        for (const controllers::OwnerRef& o : controllers::OwnerRefs(*p)) {
          if (o.controller) occupied_by = req.ns + "/" + o.name;
        }
      }
    }
    std::string phase = "Pending";
    if (succeeded >= min_member) {
      phase = "Finished";
    } else if (failed > 0 && failed + running + succeeded >= min_member) {
      phase = "Failed";
    } else if (running + succeeded >= min_member) {
      phase = "Running";
    } else if (scheduled >= min_member) {
      phase = "Scheduled";
    } else if (total >= min_member) {
      phase = "Scheduling";
    }
    Json status = pg.contains("status") && pg["status"].is_object() ? pg["status"] : Json::object();
    Json next = status;
    next["phase"] = phase;
    next["scheduled"] = scheduled;
    next["running"] = running;
    next["succeeded"] = succeeded;
    next["failed"] = failed;
    if (!occupied_by.empty()) next["occupiedBy"] = occupied_by;
    if (phase != "Pending" && !next.contains("scheduleStartTime")) {
      next["scheduleStartTime"] = FormatRfc3339(std::chrono::system_clock::now());
    }
    if (next == status) return controllers::Result{};
    Json updated = pg;
    updated["status"] = next;
    auto written = client_->UpdateStatus(kPodGroups, req.ns, updated);
    if (!written.ok() && written.status().code() != Code::kNotFound) return written.status();
    return controllers::Result{};
  }

 private:
  client::Client* const client_;
  controllers::Informer* const groups_;
  controllers::Informer* const pods_;
};

}  // namespace

Status StartPodGroupController(controllers::Manager& mgr, client::Client* client) {
  mgr.NewController("podgroup")
      .For(kPodGroups)
      .Watches(kPods,
               [](const Json& pod) {
                 std::vector<controllers::Request> out;
                 std::string group = PodGroupOf(pod);
                 if (!group.empty()) out.push_back({controllers::NamespaceOf(pod), group});
                 return out;
               })
      .Complete(std::make_unique<PodGroupReconciler>(&mgr, client));
  return Status::Ok();
}

}  // namespace skiff::scheduler

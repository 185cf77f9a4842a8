// The PodGroup status controller (scheduler-plugins coscheduling's): counts a gang's Pods and
// moves its phase Pending -> Scheduling -> Scheduled -> Running -> Finished (or Failed).
#pragma once

#include <string>

#include "client/client.h"
#include "common/json.h"
#include "controllers/manager.h"

namespace skiff::scheduler {

// The PodGroup a Pod belongs to (label scheduling.x-k8s.io/pod-group, or Volcano's annotation
// scheduling.k8s.io/group-name), or "".
std::string PodGroupOf(const Json& pod);

// Registers the controller (For PodGroups, woken by their Pods).
Status StartPodGroupController(controllers::Manager& mgr, client::Client* client);

}  // namespace skiff::scheduler

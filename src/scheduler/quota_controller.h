// The quota controller: keeps every ResourceQuota's status.hard (a copy of spec.hard) and
// status.used (recounted from live objects) true. Admission charges quotas optimistically; this
// controller is the source of truth that releases usage when Pods finish or objects go.
#pragma once

#include <chrono>

#include "api/resource.h"
#include "client/client.h"
#include "controllers/manager.h"

namespace skiff::scheduler {

struct QuotaControllerOptions {
  // Every quota is recounted at least this often (objects without a watch, e.g. ConfigMaps,
  // are released by this resync).
  std::chrono::milliseconds resync{30000};
  // Resolves versions for `count/<resource>.<group>` keys; without it only well-known groups.
  const api::ResourceRegistry* registry = nullptr;
};

// Registers the controller (For ResourceQuotas, woken by Pod changes in their namespace).
Status StartQuotaController(controllers::Manager& mgr, client::Client* client,
                            QuotaControllerOptions options = {});

}  // namespace skiff::scheduler

// The controllers every skiff (and every Kubernetes) control plane runs regardless of workload:
// the garbage collector, the namespace controller and the expiry of Events. `skiff up` registers
// them with its Manager.
#pragma once

#include "api/resource.h"
#include "client/client.h"
#include "controllers/event_ttl.h"
#include "controllers/gc_controller.h"
#include "controllers/manager.h"

namespace skiff::controllers {

struct CoreControllerOptions {
  GcOptions gc;
  int namespace_workers = 2;
  EventTtlOptions event_ttl;  // Events are deleted an hour after they last happened
};

// Registers the garbage collector (as a Runnable) and the namespace controller with `mgr`; they
// start with mgr.Start() (or at once if it already runs) and stop with mgr.Stop(). They act through
// `client` (usually mgr.client()) and enumerate kinds from `registry`; both must outlive `mgr`.
Status StartCoreControllers(Manager& mgr, client::Client* client, api::ResourceRegistry* registry,
                            CoreControllerOptions options = {});

}  // namespace skiff::controllers

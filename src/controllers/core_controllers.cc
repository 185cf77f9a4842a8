#include "controllers/core_controllers.h"

#include "controllers/event_ttl.h"
#include "controllers/namespace_controller.h"

namespace skiff::controllers {

Status StartCoreControllers(Manager& mgr, client::Client* client, api::ResourceRegistry* registry,
                            CoreControllerOptions options) {
  if (!client || !registry)
    return Status::Internal("core controllers need a client and a registry");
  if (!registry->Find("", "v1", "namespaces")) {
    return Status::Internal("the registry does not serve core/v1 namespaces");
  }
  mgr.Add(std::make_unique<GarbageCollector>(client, registry, options.gc));
  mgr.NewController("namespace")
      .For(kNamespacesResource, Scope::kCluster)
      .WithWorkers(options.namespace_workers)
      .Complete(std::make_unique<NamespaceReconciler>(client, registry));
  mgr.Add(std::make_unique<EventTtlCollector>(client, options.event_ttl));
  return Status::Ok();
}

}  // namespace skiff::controllers

// Wiring: one controller per Training Operator kind, each For its job and Owns Pods and Services.
#include "training/training_controllers.h"

#include "training/job_controller.h"
#include "training/trainjob_controller.h"

namespace skiff::training {

Status StartTrainingControllers(controllers::Manager& mgr, client::Client* client) {
  for (const JobKind* kind : AllJobKinds()) {
    mgr.NewController(Lower(kind->kind))
        .For(kind->resource)
        .Owns(kPods)
        .Owns(kServices)
        .WithWorkers(2)
        .Complete(std::make_unique<JobReconciler>(*kind, &mgr, client));
  }
  return StartTrainJobController(mgr, client);
}

}  // namespace skiff::training

// The Training Operator v1 controllers (TFJob, PyTorchJob, XGBoostJob) on a Manager.
#pragma once

#include "client/client.h"
#include "controllers/manager.h"

namespace skiff::training {

// Registers one controller per kind: For the job, Owns its Pods and Services. `client` must
// outlive `mgr`'s controllers.
Status StartTrainingControllers(controllers::Manager& mgr, client::Client* client);

}  // namespace skiff::training

// The local volume provisioner (in the spirit of local-path-provisioner, the default storage of
// single-node clusters): binds every PersistentVolumeClaim to a directory under
// $SKIFF_HOME/volumes/<ns>/<claim>, reports it Bound with the requested capacity, and deletes the
// directory when the claim is deleted (reclaim policy Delete, as for dynamically provisioned
// volumes).
#pragma once

#include <string>

#include "common/status.h"
#include "controllers/manager.h"

namespace skiff::node {

// Registers the provisioner with `mgr`; `data_dir` is $SKIFF_HOME.
Status StartVolumeProvisioner(controllers::Manager& mgr, const std::string& data_dir);

}  // namespace skiff::node

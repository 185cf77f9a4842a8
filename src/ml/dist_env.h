// Who am I in a distributed training job: rank, world size and the rendezvous address, read from
// the PyTorchJob env (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK) or TFJob's TF_CONFIG.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"

namespace skiff::ml {

struct DistConfig {
  int rank = 0;
  int world_size = 1;
  std::string master_addr;  // where rank 0 listens for the rendezvous
  int master_port = 0;
  std::string source = "none";  // "pytorchjob", "tf_config" or "none"
};

using GetEnv = std::function<const char*(const char*)>;

// TF_CONFIG wins when set. With TF_CONFIG the chief (if any) is rank 0 and workers follow in index
// order; the chief's (else worker 0's) address is the rendezvous point. Parameter-server clusters
// are refused with a one-line reason.
StatusOr<DistConfig> DistConfigFromEnv(const GetEnv& getenv);
StatusOr<DistConfig> DistConfigFromEnv();

}  // namespace skiff::ml

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
  // Parameter servers (TF_CONFIG `ps`): the last num_ps ranks hold the parameters and apply the
  // updates; ranks below world_size - num_ps are the trainers (chief first, then workers).
  int num_ps = 0;

  int trainers() const { return world_size - num_ps; }
  bool is_ps() const { return rank >= trainers(); }
};

using GetEnv = std::function<const char*(const char*)>;

// TF_CONFIG wins when set. With TF_CONFIG the chief (if any) is rank 0, workers follow in index
// order, then the ps replicas; the chief's (else worker 0's) address is the rendezvous point.
StatusOr<DistConfig> DistConfigFromEnv(const GetEnv& getenv);
StatusOr<DistConfig> DistConfigFromEnv();

}  // namespace skiff::ml

// Collective operations across training replicas over flat float buffers, so callers need not
// include torch. The implementation is c10d's ProcessGroupGloo with a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT (rank 0 hosts the store).
//
// Not thread-safe: one training loop drives it. Every rank must make the same calls in the same
// order with the same sizes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/status.h"
#include "ml/dist_env.h"

namespace skiff::ml {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sums `data` element-wise across ranks, in place; every rank ends with the same bytes.
  virtual Status AllReduceSum(float* data, size_t n) = 0;
  // Sums `data` element-wise into rank `root`'s buffer (other ranks' buffers are left undefined).
  virtual Status ReduceSum(float* data, size_t n, int root) = 0;
  // Copies rank `root`'s `data` to every rank.
  virtual Status Broadcast(float* data, size_t n, int root) = 0;
};

// Joins the job described by `config` (world_size > 1); waits up to `timeout` for all ranks.
StatusOr<std::unique_ptr<Collective>> ConnectGloo(const DistConfig& config,
                                                  std::chrono::seconds timeout);

}  // namespace skiff::ml

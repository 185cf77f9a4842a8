// c10d ProcessGroupGloo behind the torch-free Collective interface.
#include "ml/collective.h"

#include <torch/torch.h>

#include <cstdlib>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace skiff::ml {
namespace {

class GlooCollective : public Collective {
 public:
  GlooCollective(c10::intrusive_ptr<c10d::Store> store,
                 c10::intrusive_ptr<c10d::ProcessGroupGloo> group, int rank, int world)
      : store_(std::move(store)), group_(std::move(group)), rank_(rank), world_(world) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

  Status AllReduceSum(float* data, size_t n) override {
    return Run(
        "all-reduce",
        [&](std::vector<at::Tensor>& t) {
          c10d::AllreduceOptions opts;
          opts.reduceOp = c10d::ReduceOp::SUM;
          return group_->allreduce(t, opts);
        },
        data, n);
  }

  Status ReduceSum(float* data, size_t n, int root) override {
    return Run(
        "reduce",
        [&](std::vector<at::Tensor>& t) {
          c10d::ReduceOptions opts;
          opts.reduceOp = c10d::ReduceOp::SUM;
          opts.rootRank = root;
          return group_->reduce(t, opts);
        },
        data, n);
  }

  Status Broadcast(float* data, size_t n, int root) override {
    return Run(
        "broadcast",
        [&](std::vector<at::Tensor>& t) {
          c10d::BroadcastOptions opts;
          opts.rootRank = root;
          return group_->broadcast(t, opts);
        },
        data, n);
  }

 private:
  template <typename Op>
  Status Run(const char* what, Op op, float* data, size_t n) {
    try {
      std::vector<at::Tensor> tensors = {
          torch::from_blob(data, {static_cast<int64_t>(n)}, torch::kFloat32)};
      op(tensors)->wait();
      return Status::Ok();
    } catch (const std::exception& e) {
      // A peer died or timed out: the whole job must restart, so surface it as unavailable.
      std::string msg = e.what();
      return Status::Unavailable(std::string(what) + " failed: " + msg.substr(0, msg.find('\n')));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  int rank_, world_;
};

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

StatusOr<std::unique_ptr<Collective>> ConnectGloo(const DistConfig& config,
                                                  std::chrono::seconds timeout) {
  try {
    c10d::TCPStoreOptions store_opts;
    store_opts.port = static_cast<uint16_t>(config.master_port);
    store_opts.isServer = config.rank == 0;
    store_opts.numWorkers = config.world_size;
    store_opts.waitWorkers = true;
    store_opts.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(config.master_addr, store_opts);

    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    // Which address the gloo transport binds: GLOO_SOCKET_IFNAME as upstream, loopback when the
    // whole job is local, else this host's name.
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (IsLoopback(config.master_addr)) {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    opts->threads = 1;  // one buffer per step; more threads only compete with compute
    auto group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, config.rank, config.world_size, opts);
    return std::unique_ptr<Collective>(
        new GlooCollective(store, group, config.rank, config.world_size));
  } catch (const std::exception& e) {
    std::string msg = e.what();
    return Status::Unavailable("cannot join the training job at " + config.master_addr + ":" +
                               std::to_string(config.master_port) + ": " +
                               msg.substr(0, msg.find('\n')));
  }
}

}  // namespace skiff::ml

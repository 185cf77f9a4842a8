// An in-process machine for controller tests that run real Pods: the local runtime, a node agent
// (fast back-off) and the scheduler on one Manager over an InProcessEnv's API. A test fixture
// registers its own controllers between SetUpNode() and StartNode().
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "../client/test_util.h"
#include "controllers/manager.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"

namespace skiff::testing {

class LocalNode {
 public:
  // `bin_dir` is where the image catalog finds skiff's own programs ("" for its default).
  void SetUpNode(InProcessEnv& env, const std::string& data_dir, const std::string& bin_dir = "") {
    using std::chrono::milliseconds;
    runtime::RuntimeOptions ro;
    ro.shim_path = SKIFF_SHIM;
    auto rt = runtime::NewLocalRuntime(ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = std::move(*rt);
    mgr_ = std::make_unique<controllers::Manager>(env.client.get());
    node::AgentOptions o;
    o.node_name = "test-node";
    o.data_dir = data_dir;
    if (!bin_dir.empty()) o.bin_dir = bin_dir;
    o.backoff_initial = milliseconds(300);
    o.backoff_max = milliseconds(1200);
    o.shutdown_grace = milliseconds(2000);
    auto agent = node::NodeAgent::Create(*mgr_, env.client.get(), rt_.get(), o);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
    scheduler::SchedulerOptions so;
    so.registry = &env.registry;
    so.initial_backoff = milliseconds(20);
    so.max_backoff = milliseconds(200);
    ASSERT_TRUE(scheduler::StartScheduler(*mgr_, env.client.get(), so).ok());
  }
  void StartNode() { mgr_->Start(); }
  // Graceful node shutdown first (Pods stopped), then `before_stop` (the fixture's own servers),
  // then the controllers; nothing is destroyed yet (see ReleaseNode).
  template <typename F>
  void StopNode(F before_stop) {
    if (agent_) agent_->Shutdown();
    before_stop();
    if (mgr_) mgr_->Stop();
  }
  void ReleaseNode() {
    agent_.reset();
    mgr_.reset();
    rt_.reset();
  }
  void TearDownNode() {
    StopNode([] {});
    ReleaseNode();
  }

 protected:
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<controllers::Manager> mgr_;
  std::unique_ptr<node::NodeAgent> agent_;
};

}  // namespace skiff::testing

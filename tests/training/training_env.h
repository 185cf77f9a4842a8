// A fixture for training controller tests: an in-process API server with the real scheduler, node
// agent, runtime and training controllers, so jobs run their busybox replicas for real.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "../client/test_util.h"
#include "controllers/manager.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "training/training_controllers.h"

namespace skiff::training {

class TrainingEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using std::chrono::milliseconds;
    runtime::RuntimeOptions ro;
    ro.shim_path = SKIFF_SHIM;
    auto rt = runtime::NewLocalRuntime(ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = std::move(*rt);
    mgr_ = std::make_unique<controllers::Manager>(env_.client.get());
    node::AgentOptions o;
    o.node_name = "test-node";
    o.data_dir = data_.path();
    o.backoff_initial = milliseconds(300);
    o.backoff_max = milliseconds(1200);
    o.shutdown_grace = milliseconds(2000);
    auto agent = node::NodeAgent::Create(*mgr_, env_.client.get(), rt_.get(), o);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
    scheduler::SchedulerOptions so;
    so.registry = &env_.registry;
    so.initial_backoff = milliseconds(20);
    so.max_backoff = milliseconds(200);
    ASSERT_TRUE(scheduler::StartScheduler(*mgr_, env_.client.get(), so).ok());
    ASSERT_TRUE(StartTrainingControllers(*mgr_, env_.client.get()).ok());
    mgr_->Start();
  }
  void TearDown() override {
    if (agent_) agent_->Shutdown();
    if (mgr_) mgr_->Stop();
    agent_.reset();
    mgr_.reset();
    rt_.reset();
  }

  client::Client* c() { return env_.client.get(); }

  skiff::testing::InProcessEnv env_;
  skiff::testing::TempDir data_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<controllers::Manager> mgr_;
  std::unique_ptr<node::NodeAgent> agent_;
};

}  // namespace skiff::training

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

inline const client::Resource kPodsResource{"", "v1", "pods"};
inline const client::Resource kEventsResource{"", "v1", "events"};

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

  // Waits until Pod `pod` in "default" reaches `phase`; returns the Pod.
  Json WaitPhase(const std::string& pod, const std::string& phase) {
    Json last;
    bool ok = skiff::testing::Eventually([&] {
      auto got = c()->Get(kPodsResource, "default", pod);
      last = got.ok() ? *got : Json();
      const Json* p = FindPath(last, "status.phase");
      return p && *p == phase;
    });
    EXPECT_TRUE(ok) << pod << " never reached " << phase << "; last: " << last.dump(2);
    return last;
  }
  // The log of the Pod's first container, through the node agent.
  std::string Logs(const Json& pod) {
    std::string out;
    Status s = agent_->StreamLogs(pod, pod["spec"]["containers"][0]["name"], false, {},
                                  [&](const std::string& chunk) {
                                    out += chunk;
                                    return true;
                                  });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  // Whether an Event in "default" has `reason` and a message containing `text`.
  bool HasEvent(const std::string& reason, const std::string& text = "") {
    auto list = c()->List(kEventsResource, "default", {});
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"]) {
      if (e.value("reason", "") == reason &&
          e.value("message", "").find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  skiff::testing::InProcessEnv env_;
  skiff::testing::TempDir data_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<controllers::Manager> mgr_;
  std::unique_ptr<node::NodeAgent> agent_;
};

}  // namespace skiff::training

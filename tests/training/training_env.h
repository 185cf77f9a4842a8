// A fixture for training controller tests: an in-process API server with the real scheduler, node
// agent, runtime and training controllers, so jobs run their busybox replicas for real.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "../client/test_util.h"
#include "../node/local_node.h"
#include "controllers/manager.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "training/training_controllers.h"

namespace skiff::training {

inline const client::Resource kPodsResource{"", "v1", "pods"};
inline const client::Resource kEventsResource{"", "v1", "events"};

class TrainingEnvTest : public ::testing::Test, protected skiff::testing::LocalNode {
 protected:
  void SetUp() override {
    SetUpNode(env_, data_.path());
    if (HasFatalFailure()) return;
    ASSERT_TRUE(StartTrainingControllers(*mgr_, env_.client.get()).ok());
    StartNode();
  }
  void TearDown() override { TearDownNode(); }

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
};

}  // namespace skiff::training

// Shared by the scheduler tests: an in-process API server with a Manager running the scheduler,
// and builders for Nodes, Pods and PodGroups.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "../client/test_util.h"
#include "controllers/manager.h"
#include "scheduler/admission.h"
#include "scheduler/scheduler.h"

namespace skiff::scheduler::testing {

using skiff::testing::Eventually;
using skiff::testing::InProcessEnv;

inline const client::Resource kEvents{"", "v1", "events"};

inline Json MakeNode(const std::string& name, const std::string& cpu = "2",
                     const std::string& memory = "8Gi", const std::string& pods = "110") {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}}},
          {"status",
           {{"allocatable", {{"cpu", cpu}, {"memory", memory}, {"pods", pods}}},
            {"capacity", {{"cpu", cpu}, {"memory", memory}, {"pods", pods}}},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})}}}};
}

// A Pod of one container "main" with the given requests (and optional limits).
inline Json MakePod(const std::string& name, Json requests, Json limits = nullptr) {
  Json resources = {{"requests", std::move(requests)}};
  if (!limits.is_null()) resources["limits"] = std::move(limits);
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"containers",
         Json::array(
             {{{"name", "main"}, {"image", "busybox"}, {"resources", std::move(resources)}}})}}}};
}

inline const Json* Condition(const Json& pod, const std::string& type) {
  const Json* conds = FindPath(pod, "status.conditions");
  if (!conds || !conds->is_array()) return nullptr;
  for (const Json& c : *conds) {
    if (c.value("type", "") == type) return &c;
  }
  return nullptr;
}

class SchedulerFixture : public ::testing::Test {
 protected:
  void StartAll(bool admission) {
    if (admission) InstallSchedulingAdmission(env_.api.get());
    mgr_ = std::make_unique<controllers::Manager>(env_.client.get());
    SchedulerOptions o;
    o.registry = &env_.registry;
    o.initial_backoff = std::chrono::milliseconds(20);
    o.max_backoff = std::chrono::milliseconds(200);
    o.quota_resync = std::chrono::milliseconds(500);
    Status s = StartScheduler(*mgr_, env_.client.get(), o);
    ASSERT_TRUE(s.ok()) << s.ToString();
    mgr_->Start();
  }
  void TearDown() override {
    if (mgr_) mgr_->Stop();
  }

  client::Client* c() { return env_.client.get(); }

  void CreateNode(const Json& node) {
    auto created = c()->Create(kNodes, "", node);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  Json CreatePod(const Json& pod, const std::string& ns = "default") {
    auto created = c()->Create(kPods, ns, pod);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }
  Json GetPod(const std::string& name, const std::string& ns = "default") {
    auto got = c()->Get(kPods, ns, name);
    return got.ok() ? *got : Json();
  }
  std::string NodeOf(const std::string& name) {
    const Json pod = GetPod(name);
    const Json* n = FindPath(pod, "spec.nodeName");
    return n && n->is_string() ? n->get<std::string>() : "";
  }
  bool EventuallyBound(const std::string& name, const std::string& node = "node1") {
    return Eventually([&] { return NodeOf(name) == node; }, std::chrono::seconds(10));
  }
  // The PodScheduled=False message, once it is `want` (or the last one seen).
  std::string EventuallyUnschedulable(const std::string& name, const std::string& want) {
    std::string last;
    Eventually(
        [&] {
          Json pod = GetPod(name);
          const Json* cond = Condition(pod, "PodScheduled");
          if (!cond || cond->value("status", "") != "False") return false;
          last = cond->value("message", "");
          return last == want && cond->value("reason", "") == "Unschedulable";
        },
        std::chrono::seconds(10));
    return last;
  }
  bool HasEvent(const std::string& involved, const std::string& reason, const std::string& message,
                const std::string& type) {
    auto events = c()->List(kEvents, "default", {});
    if (!events.ok()) return false;
    for (const Json& e : (*events)["items"]) {
      if (e["involvedObject"].value("name", "") == involved && e.value("reason", "") == reason &&
          e.value("message", "") == message && e.value("type", "") == type) {
        return true;
      }
    }
    return false;
  }
  bool EventuallyEvent(const std::string& involved, const std::string& reason,
                       const std::string& message, const std::string& type = "Normal") {
    return Eventually([&] { return HasEvent(involved, reason, message, type); },
                      std::chrono::seconds(10));
  }

  InProcessEnv env_;
  std::unique_ptr<controllers::Manager> mgr_;
};

}  // namespace skiff::scheduler::testing

// The scheduler against an in-process API server: binding, unschedulable messages, retries when
// resources free up, preemption and gang scheduling, observed through the API as a user would.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <thread>

#include "controllers/object_meta.h"
#include "scheduler_test_util.h"

namespace skiff::scheduler::testing {
namespace {

constexpr char kNoVictims[] =
    " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

class SchedulerTest : public SchedulerFixture {
 protected:
  // The nodes present before the scheduler starts (so it never sees an older state of them).
  virtual std::vector<Json> Nodes() { return {MakeNode("node1")}; }
  void SetUp() override {
    for (const Json& n : Nodes()) CreateNode(n);
    StartAll(/*admission=*/false);
  }
  // What the node agent does once a Pod it ran has stopped: remove it for good.
  void FinishDeletion(const std::string& name) {
    ASSERT_TRUE(Eventually([&] { return IsDeletingPod(GetPod(name)); }));
    client::DeleteOptions now;
    now.grace_period_seconds = 0;
    auto deleted = c()->Delete(kPods, "default", name, now);
    ASSERT_TRUE(deleted.ok() || deleted.status().code() == Code::kNotFound);
  }
};

TEST_F(SchedulerTest, BindsAPodThatFits) {
  CreatePod(MakePod("small", {{"cpu", "500m"}, {"memory", "256Mi"}}));
  ASSERT_TRUE(EventuallyBound("small")) << GetPod("small").dump();
  ASSERT_TRUE(Eventually([&] {
    const Json pod = GetPod("small");
    const Json* cond = Condition(pod, "PodScheduled");
    return cond && cond->value("status", "") == "True" && cond->contains("lastTransitionTime");
  }));
  EXPECT_TRUE(
      EventuallyEvent("small", "Scheduled", "Successfully assigned default/small to node1"));
  auto events = c()->List(kEvents, "default", {});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)["items"][0]["source"].value("component", ""), "default-scheduler");
}

TEST_F(SchedulerTest, LeavesOtherSchedulersPodsAlone) {
  Json pod = MakePod("other", {{"cpu", "100m"}});
  pod["spec"]["schedulerName"] = "someone-else";
  CreatePod(pod);
  Json gang = MakePod("volcano", {{"cpu", "100m"}});
  gang["spec"]["schedulerName"] = "volcano";  // an alias of ours
  CreatePod(gang);
  ASSERT_TRUE(EventuallyBound("volcano"));
  EXPECT_EQ(NodeOf("other"), "");
}

TEST_F(SchedulerTest, OversizedPodStaysPendingWithUpstreamMessage) {
  CreatePod(MakePod("big", {{"cpu", "3"}}));
  const std::string want = std::string("0/1 nodes are available: 1 Insufficient cpu.") + kNoVictims;
  EXPECT_EQ(EventuallyUnschedulable("big", want), want);
  EXPECT_TRUE(EventuallyEvent("big", "FailedScheduling", want, "Warning"));
  EXPECT_EQ(NodeOf("big"), "");
}

TEST_F(SchedulerTest, ReportsEveryInsufficientResource) {
  CreatePod(MakePod("huge", {{"cpu", "3"}, {"memory", "9Gi"}}));
  const std::string want =
      std::string("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory.") +
      kNoVictims;
  EXPECT_EQ(EventuallyUnschedulable("huge", want), want);

  CreatePod(MakePod("gpu", {{"nvidia.com/gpu", "1"}}));
  const std::string gpu =
      std::string("0/1 nodes are available: 1 Insufficient nvidia.com/gpu.") + kNoVictims;
  EXPECT_EQ(EventuallyUnschedulable("gpu", gpu), gpu);
}

class CrowdedNodesTest : public SchedulerTest {
 protected:
  std::vector<Json> Nodes() override {
    Json cordoned = MakeNode("node1");
    cordoned["spec"]["unschedulable"] = true;
    return {cordoned, MakeNode("tiny", "4", "8Gi", "1")};
  }
};

TEST_F(CrowdedNodesTest, CountsPods) {
  CreatePod(MakePod("first", {{"cpu", "100m"}}));
  ASSERT_TRUE(EventuallyBound("first", "tiny"));
  CreatePod(MakePod("second", {{"cpu", "100m"}}));
  const std::string want =
      "0/2 nodes are available: 1 Too many pods, 1 node(s) were unschedulable. preemption: 0/2 "
      "nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not "
      "helpful for scheduling.";
  EXPECT_EQ(EventuallyUnschedulable("second", want), want);
}

class TaintedNodesTest : public SchedulerTest {
 protected:
  std::vector<Json> Nodes() override {
    Json tainted = MakeNode("node1");
    tainted["spec"]["taints"] =
        Json::array({{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}});
    Json not_ready = MakeNode("node2");
    not_ready["status"]["conditions"][0]["status"] = "False";
    return {tainted, not_ready};
  }
};

TEST_F(TaintedNodesTest, SkipsNotReadyAndTaintedNodes) {
  CreatePod(MakePod("p", {{"cpu", "100m"}}));
  const std::string want =
      "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had "
      "untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/2 nodes are available: "
      "2 Preemption is not helpful for scheduling.";
  EXPECT_EQ(EventuallyUnschedulable("p", want), want);

  Json tolerant = MakePod("tolerant", {{"cpu", "100m"}});
  tolerant["spec"]["tolerations"] =
      Json::array({{{"key", "dedicated"}, {"operator", "Equal"}, {"value", "gpu"}}});
  CreatePod(tolerant);
  EXPECT_TRUE(EventuallyBound("tolerant", "node1"));
}

TEST_F(SchedulerTest, BackToBackPodsDoNotShareTheLastCpu) {
  for (const char* name : {"a", "b", "c"}) CreatePod(MakePod(name, {{"cpu", "1"}}));
  ASSERT_TRUE(Eventually([&] {
    int bound = !NodeOf("a").empty() + !NodeOf("b").empty() + !NodeOf("c").empty();
    const Json pod = GetPod("c");
    return bound == 2 && Condition(pod, "PodScheduled") != nullptr;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(!NodeOf("a").empty() + !NodeOf("b").empty() + !NodeOf("c").empty(), 2);
  EXPECT_EQ(NodeOf("c"), "");  // same priority: first come, first served
}

TEST_F(SchedulerTest, BindsOnceAnotherPodFinishes) {
  CreatePod(MakePod("running", {{"cpu", "1500m"}}));
  ASSERT_TRUE(EventuallyBound("running"));
  CreatePod(MakePod("waiting", {{"cpu", "1"}}));
  const std::string want = std::string("0/1 nodes are available: 1 Insufficient cpu.") + kNoVictims;
  ASSERT_EQ(EventuallyUnschedulable("waiting", want), want);

  Json done = GetPod("running");
  done["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(c()->UpdateStatus(kPods, "default", done).ok());
  EXPECT_TRUE(EventuallyBound("waiting"));
}

TEST_F(SchedulerTest, BindsQuickly) {
  // Warm up: the first bind pays for informer start-up.
  CreatePod(MakePod("warm", {{"cpu", "10m"}}));
  ASSERT_TRUE(EventuallyBound("warm"));
  const auto start = std::chrono::steady_clock::now();
  CreatePod(MakePod("fast", {{"cpu", "10m"}}));
  while (NodeOf("fast").empty() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
  }
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(NodeOf("fast"), "node1");
  // ~1 ms on an idle machine; generous here because the test machine is shared.
  EXPECT_LT(took, std::chrono::milliseconds(100))
      << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us";
}

TEST_F(SchedulerTest, HigherPriorityPreemptsLower) {
  Json low = MakePod("low", {{"cpu", "1500m"}});
  low["spec"]["priority"] = 0;
  CreatePod(low);
  ASSERT_TRUE(EventuallyBound("low"));
  Json high = MakePod("high", {{"cpu", "1500m"}});
  high["spec"]["priority"] = 1000;
  const std::string high_uid = controllers::UidOf(CreatePod(high));

  ASSERT_TRUE(Eventually([&] {
    const Json pod = GetPod("low");
    const Json* cond = Condition(pod, "DisruptionTarget");
    return cond && cond->value("status", "") == "True" &&
           cond->value("reason", "") == "PreemptionByScheduler" &&
           cond->value("message", "") ==
               "default-scheduler: preempting to accommodate a higher priority pod";
  }));
  EXPECT_TRUE(
      EventuallyEvent("low", "Preempted", "Preempted by pod " + high_uid + " on node node1"));
  EXPECT_TRUE(Eventually([&] {
    const Json pod = GetPod("high");
    const Json* n = FindPath(pod, "status.nominatedNodeName");
    return n && *n == "node1";
  }));
  EXPECT_EQ(NodeOf("high"), "");  // not before the victim is gone
  FinishDeletion("low");
  EXPECT_TRUE(EventuallyBound("high"));
  EXPECT_FALSE(c()->Get(kPods, "default", "low").ok());
}

TEST_F(SchedulerTest, PreemptsOnlyWhatIsNeeded) {
  for (int i = 0; i < 4; ++i) {
    Json p = MakePod("low" + std::to_string(i), {{"cpu", "500m"}});
    p["spec"]["priority"] = i;  // low0 is the least important
    CreatePod(p);
    ASSERT_TRUE(EventuallyBound("low" + std::to_string(i)));
  }
  Json high = MakePod("high", {{"cpu", "1"}});
  high["spec"]["priority"] = 100;
  CreatePod(high);
  FinishDeletion("low0");
  FinishDeletion("low1");
  EXPECT_TRUE(EventuallyBound("high"));
  EXPECT_FALSE(IsDeletingPod(GetPod("low2")));
  EXPECT_FALSE(IsDeletingPod(GetPod("low3")));
}

TEST_F(SchedulerTest, PreemptionPolicyNeverDoesNotPreempt) {
  Json low = MakePod("low", {{"cpu", "1500m"}});
  low["spec"]["priority"] = 0;
  CreatePod(low);
  ASSERT_TRUE(EventuallyBound("low"));
  Json polite = MakePod("polite", {{"cpu", "1500m"}});
  polite["spec"]["priority"] = 1000;
  polite["spec"]["preemptionPolicy"] = "Never";
  CreatePod(polite);
  const std::string want =
      "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to "
      "preemptionPolicy=Never.";
  EXPECT_EQ(EventuallyUnschedulable("polite", want), want);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(IsDeletingPod(GetPod("low")));
  const Json low_now = GetPod("low");
  EXPECT_EQ(Condition(low_now, "DisruptionTarget"), nullptr);
}

TEST_F(SchedulerTest, EqualPriorityIsNotPreempted) {
  CreatePod(MakePod("first", {{"cpu", "1500m"}}));
  ASSERT_TRUE(EventuallyBound("first"));
  CreatePod(MakePod("second", {{"cpu", "1500m"}}));
  const std::string want = std::string("0/1 nodes are available: 1 Insufficient cpu.") + kNoVictims;
  EXPECT_EQ(EventuallyUnschedulable("second", want), want);
  EXPECT_FALSE(IsDeletingPod(GetPod("first")));
}

// ------------------------------------------------------------------------------ gangs

Json PodGroup(const std::string& name, int min_member) {
  return {{"apiVersion", "scheduling.x-k8s.io/v1alpha1"},
          {"kind", "PodGroup"},
          {"metadata", {{"name", name}}},
          {"spec", {{"minMember", min_member}}}};
}

Json GangPod(const std::string& name, const std::string& group, bool volcano = false) {
  Json p = MakePod(name, {{"cpu", "1"}});
  if (volcano) {
    p["metadata"]["annotations"] = {{"scheduling.k8s.io/group-name", group}};
    p["spec"]["schedulerName"] = "volcano";
  } else {
    p["metadata"]["labels"] = {{"scheduling.x-k8s.io/pod-group", group}};
  }
  return p;
}

TEST_F(SchedulerTest, GangThatDoesNotFitTogetherBindsNone) {
  ASSERT_TRUE(c()->Create(kPodGroups, "default", PodGroup("pg1", 3)).ok());
  CreatePod(GangPod("w0", "pg1"));
  const std::string waiting = "1/3 pods of pod group \"pg1\" exist, waiting for 2 more";
  EXPECT_EQ(EventuallyUnschedulable("w0", waiting), waiting);
  CreatePod(GangPod("w1", "pg1"));
  CreatePod(GangPod("w2", "pg1"));
  const std::string want =
      "pod group \"pg1\" needs 3 pods, 3 exist; they do not fit together: 0/1 nodes are "
      "available: 1 Insufficient cpu.";
  for (const char* name : {"w0", "w1", "w2"}) EXPECT_EQ(EventuallyUnschedulable(name, want), want);
  EXPECT_EQ(NodeOf("w0") + NodeOf("w1") + NodeOf("w2"), "");
  EXPECT_TRUE(Eventually([&] {
    auto pg = c()->Get(kPodGroups, "default", "pg1");
    return pg.ok() && FindPath(*pg, "status.phase") && (*pg)["status"]["phase"] == "Scheduling";
  }));
}

TEST_F(SchedulerTest, GangThatFitsBindsTogether) {
  ASSERT_TRUE(c()->Create(kPodGroups, "default", PodGroup("pg2", 2)).ok());
  CreatePod(GangPod("m0", "pg2"));
  const std::string waiting = "1/2 pods of pod group \"pg2\" exist, waiting for 1 more";
  EXPECT_EQ(EventuallyUnschedulable("m0", waiting), waiting);
  EXPECT_EQ(NodeOf("m0"), "");
  CreatePod(GangPod("m1", "pg2", /*volcano=*/true));
  EXPECT_TRUE(EventuallyBound("m0"));
  EXPECT_TRUE(EventuallyBound("m1"));
  EXPECT_TRUE(Eventually([&] {
    auto pg = c()->Get(kPodGroups, "default", "pg2");
    return pg.ok() && FindPath(*pg, "status.phase") && (*pg)["status"]["phase"] == "Scheduled" &&
           (*pg)["status"].value("scheduled", 0) == 2 &&
           (*pg)["status"].contains("scheduleStartTime");
  }));
  // Running once the node agent reports it.
  for (const char* name : {"m0", "m1"}) {
    Json p = GetPod(name);
    p["status"]["phase"] = "Running";
    ASSERT_TRUE(c()->UpdateStatus(kPods, "default", p).ok());
  }
  EXPECT_TRUE(Eventually([&] {
    auto pg = c()->Get(kPodGroups, "default", "pg2");
    return pg.ok() && (*pg)["status"]["phase"] == "Running" &&
           (*pg)["status"].value("running", 0) == 2;
  }));
}

TEST_F(SchedulerTest, PodOfAMissingGroupWaitsWithAClearMessage) {
  CreatePod(GangPod("orphan", "nope"));
  EXPECT_TRUE(Eventually([&] {
    const Json pod = GetPod("orphan");
    const Json* cond = Condition(pod, "PodScheduled");
    return cond && cond->value("message", "").find("pod group \"nope\" not found") == 0;
  }));
  ASSERT_TRUE(c()->Create(kPodGroups, "default", PodGroup("nope", 1)).ok());
  EXPECT_TRUE(EventuallyBound("orphan"));
}

class SchedulerNoNodesTest : public SchedulerFixture {
 protected:
  void SetUp() override { StartAll(/*admission=*/false); }
};

TEST_F(SchedulerNoNodesTest, SaysNoNodesAvailable) {
  CreatePod(MakePod("lonely", {{"cpu", "1"}}));
  EXPECT_EQ(EventuallyUnschedulable("lonely", "no nodes available to schedule pods"),
            "no nodes available to schedule pods");
  CreateNode(MakeNode("node1"));
  EXPECT_TRUE(EventuallyBound("lonely"));
}

}  // namespace
}  // namespace skiff::scheduler::testing

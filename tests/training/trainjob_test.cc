// The TrainJob controller with the real scheduler, node agent and runtime against an in-process
// API server: runtimes resolved, node Pods run busybox for real, observed as a user would.
#include <gtest/gtest.h>

#include <map>

#include "../client/test_util.h"
#include "controllers/manager.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "training/builtin_runtimes.h"
#include "training/job_controller.h"
#include "training/training_controllers.h"
#include "training/trainjob_controller.h"
#include "training_env.h"

namespace skiff::training {
namespace {

using skiff::testing::Eventually;
using std::chrono::milliseconds;

// A runtime whose `node` job runs `script` in busybox, with `num_nodes` by default.
Json Runtime(const std::string& kind, const std::string& name, const std::string& script,
             int num_nodes = 1, const std::string& restart = "") {
  Json pod_spec = {{"terminationGracePeriodSeconds", 1},
                   {"containers", Json::array({{{"name", "node"},
                                                {"image", "busybox"},
                                                {"command", Json::array({"sh", "-c", script})}}})}};
  if (!restart.empty()) pod_spec["restartPolicy"] = restart;
  Json node = {{"name", "node"}, {"template", {{"spec", {{"template", {{"spec", pod_spec}}}}}}}};
  Json meta = {{"name", name}};
  if (kind == "TrainingRuntime") meta["namespace"] = "default";
  return {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
          {"kind", kind},
          {"metadata", meta},
          {"spec",
           {{"mlPolicy", {{"numNodes", num_nodes}, {"torch", Json::object()}}},
            {"template", {{"spec", {{"replicatedJobs", Json::array({node})}}}}}}}};
}

Json TrainJob(const std::string& name, const std::string& runtime, const std::string& kind,
              Json trainer = Json::object()) {
  Json ref = {{"name", runtime}};
  if (!kind.empty()) ref["kind"] = kind;
  Json spec = {{"runtimeRef", ref}};
  if (!trainer.empty()) spec["trainer"] = std::move(trainer);
  return {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
          {"kind", "TrainJob"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", spec}};
}

std::map<std::string, std::string> EnvOf(const Json& pod) {
  std::map<std::string, std::string> out;
  for (const Json& v : pod["spec"]["containers"][0].value("env", Json::array())) {
    out[v["name"]] = v.value("value", "");
  }
  return out;
}

TEST(TrainJobPlanTest, TrainerOverridesTheRuntimesNodeJob) {
  Json runtime = Runtime("ClusterTrainingRuntime", "rt", "exit 7", 3, "OnFailure");
  runtime["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["spec"]
         ["containers"][0]["env"] = Json::array(
             {{{"name", "A"}, {"value", "runtime"}}, {{"name", "B"}, {"value", "runtime"}}});
  Json job = TrainJob("tj", "rt", "",
                      {{"image", "skiff/ml"},
                       {"args", Json::array({"train"})},
                       {"env", Json::array({{{"name", "B"}, {"value", "job"}}})},
                       {"numProcPerNode", 4}});
  auto plan = PlanTrainJob(job, runtime);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->num_nodes, 3);  // mlPolicy.numNodes when the trainer says nothing
  EXPECT_EQ(plan->num_proc_per_node, 4);
  EXPECT_EQ(plan->restart_policy, "OnFailure");
  EXPECT_EQ(plan->container, "node");
  const Json& c = plan->pod_template["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "skiff/ml");
  EXPECT_EQ(c["args"], Json::array({"train"}));
  EXPECT_EQ(c["env"],
            Json::parse(R"([{"name":"A","value":"runtime"},{"name":"B","value":"job"}])"));

  job["spec"]["trainer"]["numNodes"] = 2;
  EXPECT_EQ(PlanTrainJob(job, runtime)->num_nodes, 2);
  Json env = NodeEnv("tj", *PlanTrainJob(job, runtime), 1);
  std::map<std::string, std::string> vars;
  for (const Json& v : env) vars[v["name"]] = v["value"];
  EXPECT_EQ(vars["PET_NNODES"], "2");
  EXPECT_EQ(vars["PET_NPROC_PER_NODE"], "4");
  EXPECT_EQ(vars["PET_NODE_RANK"], "1");
  EXPECT_EQ(vars["PET_MASTER_ADDR"], "tj-node-0-0");
  EXPECT_EQ(vars["PET_MASTER_PORT"], "29400");
  EXPECT_EQ(vars["MASTER_ADDR"], "tj-node-0-0");
  EXPECT_EQ(vars["WORLD_SIZE"], "2");
  EXPECT_EQ(vars["RANK"], "1");

  Json bad = runtime;
  bad["spec"]["template"]["spec"]["replicatedJobs"][0]["name"] = "launcher";
  auto planned = PlanTrainJob(job, bad);
  ASSERT_FALSE(planned.ok());
  EXPECT_NE(planned.status().message().find("no replicated job named \"node\""), std::string::npos);
  EXPECT_EQ(PlanTrainJob(TrainJob("tj", "rt", ""), Runtime("ClusterTrainingRuntime", "rt", ""))
                ->restart_policy,
            "Never");
}

TEST(TrainJobPlanTest, RuntimePatchesMergeIntoTheNodePodTemplate) {
  Json runtime = Runtime("ClusterTrainingRuntime", "rt", "true");
  Json& jobs = runtime["spec"]["template"]["spec"]["replicatedJobs"];
  jobs.insert(jobs.begin(), Json{{"name", "dataset-initializer"}, {"template", Json::object()}});
  Json job = TrainJob("tj", "rt", "", {{"env", Json::array({{{"name", "B"}, {"value", "job"}}})}});
  job["spec"]["runtimePatches"] = Json::parse(R"([{
    "manager": "example.io/platform",
    "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [
      {"name": "dataset-initializer", "template": {"spec": {"template": {"spec": {
        "serviceAccountName": "not-for-node"}}}}},
      {"name": "node", "template": {"spec": {"template": {
        "metadata": {"labels": {"team": "ml"}},
        "spec": {
          "tolerations": [{"key": "gpu", "operator": "Exists"}],
          "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
          "containers": [{"name": "node",
                          "env": [{"name": "B", "value": "patch"}, {"name": "C", "value": "patch"}],
                          "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}}}}}]}}}}])");
  auto plan = PlanTrainJob(job, runtime);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->skipped_jobs, std::vector<std::string>{"dataset-initializer"});
  const Json& pod = plan->pod_template;
  EXPECT_EQ(pod["metadata"]["labels"]["team"], "ml");
  EXPECT_FALSE(pod["spec"].contains("serviceAccountName"));
  EXPECT_EQ(pod["spec"]["tolerations"].size(), 1u);
  EXPECT_EQ(pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "data");
  const Json& c = pod["spec"]["containers"];
  ASSERT_EQ(c.size(), 1u);  // merged into the runtime's container by name, not appended
  EXPECT_EQ(c[0]["image"], "busybox");
  EXPECT_EQ(c[0]["volumeMounts"][0]["mountPath"], "/data");
  // The trainer's env wins over the patch's.
  EXPECT_EQ(c[0]["env"],
            Json::parse(R"([{"name":"B","value":"job"},{"name":"C","value":"patch"}])"));
}

TEST(TrainJobPlanTest, BuiltinTorchDistributedRunsSkiffMl) {
  Json runtime = TorchDistributedRuntime();
  auto plan = PlanTrainJob(TrainJob("tj", kTorchDistributedRuntime, ""), runtime);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->num_nodes, 1);
  EXPECT_EQ(plan->container, "node");
  EXPECT_EQ(plan->pod_template["spec"]["containers"][0]["image"], "skiff/ml");
}

class TrainJobTest : public TrainingEnvTest {
 protected:
  void Create(const client::Resource& r, const Json& obj) {
    const std::string ns = r.plural == kClusterTrainingRuntimes.plural ? "" : "default";
    auto created = c()->Create(r, ns, obj);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  Json Get(const client::Resource& r, const std::string& name) {
    auto got = c()->Get(r, r.plural == kClusterTrainingRuntimes.plural ? "" : "default", name);
    return got.ok() ? *got : Json();
  }
  static const Json* Cond(const Json& job, const std::string& type) {
    const Json* list = FindPath(job, "status.conditions");
    if (!list || !list->is_array()) return nullptr;
    for (const Json& cnd : *list) {
      if (cnd.value("type", "") == type) return &cnd;
    }
    return nullptr;
  }
  // Waits until the TrainJob's `type` condition has `status`; returns the job.
  Json WaitCondition(const std::string& name, const std::string& type,
                     const std::string& status = "True") {
    Json last;
    bool ok = Eventually(
        [&] {
          last = Get(kTrainJobs, name);
          const Json* cnd = last.is_null() ? nullptr : Cond(last, type);
          return cnd && cnd->value("status", "") == status;
        },
        milliseconds(40000));
    EXPECT_TRUE(ok) << name << " never got " << type << "=" << status << "; last: " << last.dump(2);
    return last;
  }
  int PodsOf(const std::string& trainjob) {
    auto list = c()->List(kPods, "default",
                          {.label_selector = std::string(kTrainJobNameLabel) + "=" + trainjob});
    return list.ok() ? static_cast<int>((*list)["items"].size()) : -1;
  }
};

TEST_F(TrainJobTest, TrainJobRunsOnePodPerNodeWithTorchRanks) {
  // The runtime's own command would fail: the TrainJob's trainer.command replaces it.
  Create(kTrainingRuntimes, Runtime("TrainingRuntime", "busybox-rt", "exit 7"));
  Create(kTrainJobs,
         TrainJob("tj", "busybox-rt", "TrainingRuntime",
                  {{"numNodes", 2},
                   {"command", Json::array({"sh", "-c",
                                            "echo $PET_NODE_RANK $PET_NNODES $PET_MASTER_ADDR "
                                            "$RANK $WORLD_SIZE $FOO"})},
                   {"env", Json::array({{{"name", "FOO"}, {"value", "bar"}}})}}));
  Json job = WaitCondition("tj", "Complete");
  EXPECT_EQ((*Cond(job, "Complete"))["reason"], "AllJobsCompleted");
  EXPECT_EQ((*Cond(job, "Complete"))["message"],
            "TrainJob default/tj completed: all 2 node(s) succeeded");
  EXPECT_EQ((*Cond(job, "Created"))["reason"], "JobsCreationSucceeded");
  EXPECT_EQ(job["status"]["conditions"].back()["type"], "Complete");  // the STATE column
  EXPECT_EQ(job["status"]["jobsStatus"],
            Json::parse(R"([{"name":"node","ready":0,"succeeded":2,"failed":0,"active":0,
                            "suspended":0}])"));
  for (int i = 0; i < 2; ++i) {
    const std::string name = "tj-node-0-" + std::to_string(i);
    Json pod = WaitPhase(name, "Succeeded");
    EXPECT_EQ(Logs(pod), std::to_string(i) + " 2 tj-node-0-0 " + std::to_string(i) + " 2 bar\n");
    const Json& labels = pod["metadata"]["labels"];
    EXPECT_EQ(labels[kTrainJobNameLabel], "tj");
    EXPECT_EQ(labels[kJobSetNameLabel], "tj");
    EXPECT_EQ(labels[kReplicatedJobNameLabel], "node");
    EXPECT_EQ(labels[kCompletionIndexLabel], std::to_string(i));
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "TrainJob");
    EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
    EXPECT_EQ(EnvOf(pod)["PET_MASTER_PORT"], "29400");
    Json svc = Get(kServices, name);
    ASSERT_FALSE(svc.is_null()) << name;
    EXPECT_EQ(svc["spec"]["clusterIP"], "None");
    EXPECT_EQ(svc["spec"]["selector"][kCompletionIndexLabel], std::to_string(i));
  }
  EXPECT_TRUE(HasEvent("SuccessfulCreatePod", "Created pod: tj-node-0-1"));
  EXPECT_TRUE(HasEvent("TrainJobComplete"));
}

TEST_F(TrainJobTest, AFailedNodeFailsTheTrainJob) {
  Create(kClusterTrainingRuntimes,
         Runtime("ClusterTrainingRuntime", "flaky",
                 "if [ \"$PET_NODE_RANK\" = 1 ]; then exit 3; fi; sleep 60", 2));
  Create(kTrainJobs, TrainJob("bad", "flaky", ""));  // kind defaults to ClusterTrainingRuntime
  Json job = WaitCondition("bad", "Failed");
  EXPECT_EQ((*Cond(job, "Failed"))["reason"], "FailedJobs");
  EXPECT_EQ((*Cond(job, "Failed"))["message"],
            "TrainJob default/bad failed: node 1 (Pod bad-node-0-1) failed with exit code 3; see "
            "`kubectl logs bad-node-0-1`");
  EXPECT_EQ(job["status"]["jobsStatus"][0]["failed"], 1);
  EXPECT_EQ(Cond(job, "Complete"), nullptr);
  // The node still running is stopped; the failed one stays for its logs.
  EXPECT_TRUE(Eventually([&] { return Get(kPods, "bad-node-0-0").is_null(); }));
  EXPECT_FALSE(Get(kPods, "bad-node-0-1").is_null());
  EXPECT_TRUE(HasEvent("TrainJobFailed", "exit code 3"));
}

TEST_F(TrainJobTest, ATrainerThatCannotStartFailsWithTheRuntimesReason) {
  Create(kClusterTrainingRuntimes, Runtime("ClusterTrainingRuntime", "rt", "true"));
  Create(kTrainJobs,
         TrainJob("nocmd", "rt", "", {{"command", Json::array({"no-such-binary-xyz"})}}));
  Json job = WaitCondition("nocmd", "Failed");
  const std::string message = (*Cond(job, "Failed"))["message"];
  EXPECT_NE(message.find("node 0 (Pod nocmd-node-0-0) failed with exit code"), std::string::npos)
      << message;
  EXPECT_NE(message.find("no-such-binary-xyz"), std::string::npos) << message;
}

TEST_F(TrainJobTest, AMissingRuntimeIsReportedAndARuntimeCreatedLaterIsUsed) {
  Create(kTrainJobs, TrainJob("lost", "no-such-runtime", ""));
  Json job = WaitCondition("lost", "Created", "False");
  EXPECT_EQ((*Cond(job, "Created"))["reason"], "RuntimeNotFound");
  EXPECT_EQ((*Cond(job, "Created"))["message"],
            "ClusterTrainingRuntime \"no-such-runtime\" not found; list the runtimes with "
            "`kubectl get clustertrainingruntimes`");
  EXPECT_TRUE(HasEvent("RuntimeNotFound", "no-such-runtime"));
  EXPECT_EQ(PodsOf("lost"), 0);

  Create(kTrainJobs, TrainJob("lost-ns", "no-such-runtime", "TrainingRuntime"));
  job = WaitCondition("lost-ns", "Created", "False");
  EXPECT_NE((*Cond(job, "Created"))["message"].get<std::string>().find(
                "not found in namespace default; list the runtimes with `kubectl get "
                "trainingruntimes -n default`"),
            std::string::npos);

  // Creating the runtime wakes the job: no resubmission needed.
  Create(kClusterTrainingRuntimes, Runtime("ClusterTrainingRuntime", "no-such-runtime", "true"));
  job = WaitCondition("lost", "Complete");
  EXPECT_EQ((*Cond(job, "Created"))["reason"], "JobsCreationSucceeded");
}

TEST_F(TrainJobTest, ASuspendedTrainJobRunsNothingUntilResumed) {
  Create(kTrainingRuntimes, Runtime("TrainingRuntime", "rt", "echo rank $PET_NODE_RANK", 2));
  Json tj = TrainJob("held", "rt", "TrainingRuntime");
  tj["spec"]["suspend"] = true;
  Create(kTrainJobs, tj);
  Json job = WaitCondition("held", "Suspended");
  EXPECT_EQ((*Cond(job, "Suspended"))["reason"], "Suspended");
  EXPECT_EQ(job["status"]["jobsStatus"][0]["suspended"], 1);
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(PodsOf("held"), 0);
  EXPECT_TRUE(Get(kServices, "held-node-0-0").is_null());

  job["spec"]["suspend"] = false;
  auto updated = c()->Update(kTrainJobs, "default", job);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  job = WaitCondition("held", "Complete");
  EXPECT_EQ((*Cond(job, "Suspended"))["status"], "False");
  EXPECT_EQ((*Cond(job, "Suspended"))["reason"], "Resumed");
  EXPECT_EQ(Logs(WaitPhase("held-node-0-1", "Succeeded")), "rank 1\n");
}

TEST_F(TrainJobTest, TheBuiltinRuntimeIsCreatedButAUsersEditIsKept) {
  Json rt = Get(kClusterTrainingRuntimes, kTorchDistributedRuntime);
  ASSERT_FALSE(rt.is_null()) << "torch-distributed was not created at start";
  EXPECT_EQ(rt["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]
              ["spec"]["containers"][0]["image"],
            "skiff/ml");
  rt["spec"]["mlPolicy"]["numNodes"] = 4;
  ASSERT_TRUE(c()->Update(kClusterTrainingRuntimes, "", rt).ok());
  ASSERT_TRUE(EnsureBuiltinRuntimes(c()).ok());
  EXPECT_EQ(Get(kClusterTrainingRuntimes, kTorchDistributedRuntime)["spec"]["mlPolicy"]["numNodes"],
            4);
}

}  // namespace
}  // namespace skiff::training

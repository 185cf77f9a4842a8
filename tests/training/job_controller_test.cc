// The training-job controllers with the real scheduler, node agent and runtime against an
// in-process API server: jobs run busybox replicas for real, observed as a user would.
#include "training/job_controller.h"

#include <gtest/gtest.h>

#include <map>

#include "../client/test_util.h"
#include "controllers/manager.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"
#include "training/training_controllers.h"
#include "training_env.h"

namespace skiff::training {
namespace {

using skiff::testing::Eventually;
using skiff::testing::TempDir;
using std::chrono::milliseconds;

const client::Resource kTfJobs{"kubeflow.org", "v1", "tfjobs"};
const client::Resource kPyTorchJobs{"kubeflow.org", "v1", "pytorchjobs"};
const client::Resource kXgBoostJobs{"kubeflow.org", "v1", "xgboostjobs"};

Json Replica(int replicas, const std::string& container, const std::string& script,
             const std::string& restart = "") {
  Json spec = {
      {"replicas", replicas},
      {"template",
       {{"spec",
         {{"terminationGracePeriodSeconds", 1},
          {"containers", Json::array({{{"name", container},
                                       {"image", "busybox"},
                                       {"command", Json::array({"sh", "-c", script})}}})}}}}}};
  if (!restart.empty()) spec["restartPolicy"] = restart;
  return spec;
}

Json Job(const std::string& kind, const std::string& name, const std::string& field, Json specs) {
  return {{"apiVersion", "kubeflow.org/v1"},
          {"kind", kind},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{field, std::move(specs)}}}};
}

std::map<std::string, std::string> EnvOf(const Json& pod) {
  std::map<std::string, std::string> out;
  for (const Json& v : pod["spec"]["containers"][0].value("env", Json::array())) {
    out[v["name"]] = v.value("value", "");
  }
  return out;
}

class TrainingTest : public TrainingEnvTest {
 protected:
  void Create(const client::Resource& r, const Json& job) {
    auto created = c()->Create(r, "default", job);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  Json Get(const client::Resource& r, const std::string& name) {
    auto got = c()->Get(r, "default", name);
    return got.ok() ? *got : Json();
  }
  Json Pod(const std::string& name) { return Get(kPods, name); }

  static const Json* Cond(const Json& job, const std::string& type) {
    const Json* list = FindPath(job, "status.conditions");
    if (!list || !list->is_array()) return nullptr;
    for (const Json& cnd : *list) {
      if (cnd.value("type", "") == type) return &cnd;
    }
    return nullptr;
  }
  static std::string CondStatus(const Json& job, const std::string& type) {
    const Json* cnd = Cond(job, type);
    return cnd ? cnd->value("status", "") : "";
  }
  static std::vector<std::string> CondTypes(const Json& job) {
    std::vector<std::string> out;
    const Json* list = FindPath(job, "status.conditions");
    if (list && list->is_array()) {
      for (const Json& cnd : *list) out.push_back(cnd["type"]);
    }
    return out;
  }
  // Waits until the job's `type` condition is True; returns the job.
  Json WaitCondition(const client::Resource& r, const std::string& name, const std::string& type,
                     milliseconds timeout = milliseconds(40000)) {
    Json last;
    bool ok = Eventually(
        [&] {
          last = Get(r, name);
          return !last.is_null() && CondStatus(last, type) == "True";
        },
        timeout);
    EXPECT_TRUE(ok) << name << " never got " << type << "; last: " << last.dump(2);
    return last;
  }
  bool Gone(const client::Resource& r, const std::string& name) {
    return Eventually([&] { return !c()->Get(r, "default", name).ok(); });
  }
};

TEST_F(TrainingTest, PyTorchJobRunsMasterAndWorkersWithTheirRanks) {
  const std::string script = "echo $RANK $WORLD_SIZE $MASTER_ADDR";
  Create(kPyTorchJobs, Job("PyTorchJob", "pt", "pytorchReplicaSpecs",
                           {{"Master", Replica(1, "pytorch", script + "; sleep 2")},
                            {"Worker", Replica(2, "pytorch", script)}}));
  Json job = WaitCondition(kPyTorchJobs, "pt", "Succeeded");
  EXPECT_EQ(CondTypes(job), (std::vector<std::string>{"Created", "Running", "Succeeded"}));
  EXPECT_EQ(CondStatus(job, "Running"), "False");
  EXPECT_EQ((*Cond(job, "Succeeded"))["reason"], "PyTorchJobSucceeded");
  EXPECT_EQ((*Cond(job, "Succeeded"))["message"], "PyTorchJob default/pt successfully completed.");
  EXPECT_EQ((*Cond(job, "Running"))["message"], "PyTorchJob default/pt is running.");
  EXPECT_EQ((*Cond(job, "Created"))["reason"], "PyTorchJobCreated");
  EXPECT_EQ(job["status"]["replicaStatuses"]["Master"]["succeeded"], 1);
  EXPECT_EQ(job["status"]["replicaStatuses"]["Worker"]["selector"],
            "training.kubeflow.org/job-name=pt,training.kubeflow.org/operator-name="
            "pytorchjob-controller,training.kubeflow.org/replica-type=worker");
  EXPECT_TRUE(job["status"].contains("startTime"));
  EXPECT_TRUE(job["status"].contains("completionTime"));

  const std::map<std::string, std::string> want = {{"pt-master-0", "0 3 pt-master-0\n"},
                                                   {"pt-worker-0", "1 3 pt-master-0\n"},
                                                   {"pt-worker-1", "2 3 pt-master-0\n"}};
  for (const auto& [name, log] : want) {
    Json pod = WaitPhase(name, "Succeeded");
    EXPECT_EQ(Logs(pod), log) << name;
    const Json& labels = pod["metadata"]["labels"];
    EXPECT_EQ(labels["training.kubeflow.org/job-name"], "pt");
    EXPECT_EQ(labels["training.kubeflow.org/operator-name"], "pytorchjob-controller");
    EXPECT_EQ(labels["training.kubeflow.org/replica-index"], name.substr(name.size() - 1));
    EXPECT_EQ(labels.contains("training.kubeflow.org/job-role"), name == "pt-master-0");
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "PyTorchJob");
    EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["controller"], true);
    EXPECT_EQ(pod["spec"]["restartPolicy"], "OnFailure");
    EXPECT_EQ(EnvOf(pod)["MASTER_PORT"], "23456");
    Json svc = Get(kServices, name);
    ASSERT_FALSE(svc.is_null()) << name;
    EXPECT_EQ(svc["spec"]["clusterIP"], "None");
    EXPECT_EQ(svc["spec"]["selector"]["training.kubeflow.org/replica-index"],
              labels["training.kubeflow.org/replica-index"]);
    EXPECT_EQ(svc["spec"]["ports"][0]["name"], "pytorchjob-port");
    EXPECT_EQ(svc["spec"]["ports"][0]["port"], 23456);
  }
  EXPECT_EQ(Pod("pt-worker-1")["metadata"]["labels"]["training.kubeflow.org/replica-type"],
            "worker");
  EXPECT_TRUE(HasEvent("SuccessfulCreatePod", "Created pod: pt-worker-1"));
  EXPECT_TRUE(HasEvent("SuccessfulCreateService", "Created service: pt-master-0"));
  EXPECT_TRUE(HasEvent("PyTorchJobSucceeded"));
}

TEST_F(TrainingTest, TfJobReplicasGetTfConfigAndRunningPodsAreCleanedUp) {
  Json tf = Job("TFJob", "mnist", "tfReplicaSpecs",
                {{"PS", Replica(1, "tensorflow", "sleep 60")},
                 {"Worker", Replica(2, "tensorflow", "echo \"$TF_CONFIG\"")}});
  // Else worker 0 alone decides, and worker 1 may be cleaned up while still running.
  tf["spec"]["successPolicy"] = "AllWorkers";
  tf["spec"]["runPolicy"] = {{"cleanPodPolicy", "Running"}};
  Create(kTfJobs, tf);
  Json job = WaitCondition(kTfJobs, "mnist", "Succeeded");
  EXPECT_EQ((*Cond(job, "Succeeded"))["message"], "TFJob default/mnist successfully completed.");
  Json worker = WaitPhase("mnist-worker-1", "Succeeded");
  auto config = ParseJson(EnvOf(worker)["TF_CONFIG"]);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config, Json::parse(R"({
    "cluster": {"ps": ["mnist-ps-0.default.svc:2222"],
                "worker": ["mnist-worker-0.default.svc:2222", "mnist-worker-1.default.svc:2222"]},
    "task": {"type": "worker", "index": 1}, "environment": "cloud"})"));
  EXPECT_EQ(ParseJson(Logs(worker)).value(), *config);
  EXPECT_EQ(worker["spec"]["restartPolicy"], "Never");
  // cleanPodPolicy Running: the still-running PS goes, finished workers stay.
  EXPECT_TRUE(Gone(kPods, "mnist-ps-0"));
  EXPECT_TRUE(Gone(kServices, "mnist-ps-0"));
  EXPECT_FALSE(Pod("mnist-worker-0").is_null());
}

TEST_F(TrainingTest, APermanentExitCodeFailsTheJobWithoutRetry) {
  Create(kTfJobs, Job("TFJob", "bad", "tfReplicaSpecs",
                      {{"Worker", Replica(1, "tensorflow", "exit 1", "ExitCode")}}));
  Json job = WaitCondition(kTfJobs, "bad", "Failed");
  EXPECT_EQ((*Cond(job, "Failed"))["reason"], "TFJobFailed");
  EXPECT_EQ((*Cond(job, "Failed"))["message"],
            "TFJob default/bad has failed because 1 Worker replica(s) failed.");
  EXPECT_EQ(job["status"]["replicaStatuses"]["Worker"]["failed"], 1);
  const std::string uid = Pod("bad-worker-0")["metadata"]["uid"];
  EXPECT_TRUE(Eventually([&] { return HasEvent("ExitedWithCode", "exited with code 1"); }));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(Pod("bad-worker-0")["metadata"]["uid"], uid);
  EXPECT_FALSE(HasEvent("TFJobRestarting"));
}

TEST_F(TrainingTest, ARetryableExitCodeRecreatesThePod) {
  TempDir shared;
  Json spec = Replica(1, "tensorflow",
                      "if [ -e /data/once ]; then echo second run; exit 0; fi; "
                      "touch /data/once; kill -9 $$$$",
                      "ExitCode");
  spec["template"]["spec"]["volumes"] =
      Json::array({{{"name", "data"}, {"hostPath", {{"path", shared.path()}}}}});
  spec["template"]["spec"]["containers"][0]["volumeMounts"] =
      Json::array({{{"name", "data"}, {"mountPath", "/data"}}});
  Create(kTfJobs, Job("TFJob", "flaky", "tfReplicaSpecs", {{"Worker", spec}}));
  Json job = WaitCondition(kTfJobs, "flaky", "Succeeded");
  EXPECT_EQ(CondStatus(job, "Failed"), "");
  EXPECT_TRUE(HasEvent("ExitedWithCode", "exited with code 137"));
  EXPECT_TRUE(
      HasEvent("TFJobRestarting", "TFJob flaky is restarting because 1 Worker replica(s) failed."));
  Json pod = WaitPhase("flaky-worker-0", "Succeeded");
  EXPECT_EQ(Logs(pod), "second run\n");
}

TEST_F(TrainingTest, ActiveDeadlineFailsTheJob) {
  Json job = Job("PyTorchJob", "slow", "pytorchReplicaSpecs",
                 {{"Master", Replica(1, "pytorch", "sleep 60")}});
  job["spec"]["runPolicy"] = {{"activeDeadlineSeconds", 2}, {"cleanPodPolicy", "Running"}};
  Create(kPyTorchJobs, job);
  Json got = WaitCondition(kPyTorchJobs, "slow", "Failed");
  EXPECT_EQ((*Cond(got, "Failed"))["reason"], "DeadlineExceeded");
  EXPECT_EQ((*Cond(got, "Failed"))["message"],
            "PyTorchJob slow has failed because it was active longer than specified deadline");
  EXPECT_TRUE(Gone(kPods, "slow-master-0"));
}

TEST_F(TrainingTest, SuspendRemovesPodsAndResumeRecreatesThem) {
  Create(kPyTorchJobs, Job("PyTorchJob", "sus", "pytorchReplicaSpecs",
                           {{"Master", Replica(1, "pytorch", "sleep 60")}}));
  WaitCondition(kPyTorchJobs, "sus", "Running");
  auto patched = c()->Patch(kPyTorchJobs, "default", "sus", client::PatchType::kMerge,
                            R"({"spec":{"runPolicy":{"suspend":true}}})");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  Json job = WaitCondition(kPyTorchJobs, "sus", "Suspended");
  EXPECT_EQ((*Cond(job, "Suspended"))["reason"], "PyTorchJobSuspended");
  EXPECT_TRUE(Gone(kPods, "sus-master-0"));
  EXPECT_TRUE(Gone(kServices, "sus-master-0"));
  patched = c()->Patch(kPyTorchJobs, "default", "sus", client::PatchType::kMerge,
                       R"({"spec":{"runPolicy":{"suspend":false}}})");
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  job = WaitCondition(kPyTorchJobs, "sus", "Running");
  EXPECT_EQ(CondStatus(job, "Suspended"), "False");
  EXPECT_EQ((*Cond(job, "Suspended"))["reason"], "PyTorchJobResumed");
  WaitPhase("sus-master-0", "Running");
}

TEST_F(TrainingTest, CleanPodPolicyAllRemovesEveryPod) {
  Json job =
      Job("PyTorchJob", "tidy", "pytorchReplicaSpecs",
          {{"Master", Replica(1, "pytorch", "true")}, {"Worker", Replica(1, "pytorch", "true")}});
  job["spec"]["runPolicy"] = {{"cleanPodPolicy", "All"}};
  Create(kPyTorchJobs, job);
  WaitCondition(kPyTorchJobs, "tidy", "Succeeded");
  for (const char* name : {"tidy-master-0", "tidy-worker-0"}) {
    EXPECT_TRUE(Gone(kPods, name)) << name;
    EXPECT_TRUE(Gone(kServices, name)) << name;
  }
}

TEST_F(TrainingTest, SchedulingPolicyCreatesAPodGroup) {
  Json job =
      Job("PyTorchJob", "gang", "pytorchReplicaSpecs",
          {{"Master", Replica(1, "pytorch", "true")}, {"Worker", Replica(2, "pytorch", "true")}});
  job["spec"]["runPolicy"] = {{"schedulingPolicy", {{"minAvailable", 2}}}};
  Create(kPyTorchJobs, job);
  ASSERT_TRUE(Eventually([&] { return !Get(kPodGroups, "gang").is_null(); }));
  Json group = Get(kPodGroups, "gang");
  EXPECT_EQ(group["spec"]["minMember"], 2);
  EXPECT_EQ(group["metadata"]["ownerReferences"][0]["name"], "gang");
  ASSERT_TRUE(Eventually([&] { return !Pod("gang-worker-1").is_null(); }));
  EXPECT_EQ(Pod("gang-worker-1")["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"], "gang");
  WaitCondition(kPyTorchJobs, "gang", "Succeeded");
}

TEST_F(TrainingTest, XgBoostJobSucceedsWhenItsMasterDoes) {
  const std::string script = "echo $RANK $WORLD_SIZE $MASTER_ADDR:$MASTER_PORT $WORKER_ADDRS";
  Create(kXgBoostJobs, Job("XGBoostJob", "xg", "xgbReplicaSpecs",
                           {{"Master", Replica(1, "xgboost", script + "; sleep 1")},
                            {"Worker", Replica(1, "xgboost", script)}}));
  Json job = WaitCondition(kXgBoostJobs, "xg", "Succeeded");
  EXPECT_EQ((*Cond(job, "Succeeded"))["message"], "XGBoostJob default/xg successfully completed.");
  EXPECT_EQ(Logs(WaitPhase("xg-worker-0", "Succeeded")), "1 2 xg-master-0:9999 xg-worker-0\n");
  EXPECT_EQ(Logs(WaitPhase("xg-master-0", "Succeeded")), "0 2 xg-master-0:9999 xg-worker-0\n");
  EXPECT_EQ(Get(kServices, "xg-master-0")["spec"]["ports"][0]["name"], "xgboostjob-port");
}

}  // namespace
}  // namespace skiff::training

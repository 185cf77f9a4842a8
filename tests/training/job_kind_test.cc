// The per-kind environment contracts, checked against the upstream operator's values.
#include "training/job_kind.h"

#include <gtest/gtest.h>

#include <map>

namespace skiff::training {
namespace {

Json Replica(int replicas, const std::string& container, int port = 0,
             const std::string& port_name = "") {
  Json c = {{"name", container}, {"image", "busybox"}};
  if (port) c["ports"] = Json::array({{{"name", port_name}, {"containerPort", port}}});
  return {{"replicas", replicas}, {"template", {{"spec", {{"containers", Json::array({c})}}}}}};
}

std::map<std::string, std::string> EnvMap(const Json& env) {
  std::map<std::string, std::string> out;
  for (const Json& v : env) out[v["name"]] = v["value"];
  return out;
}

TEST(JobKindTest, TfConfigListsEveryMemberButTheEvaluator) {
  Json job = {{"metadata", {{"name", "mnist"}, {"namespace", "team"}}},
              {"spec",
               {{"tfReplicaSpecs",
                 {{"PS", Replica(1, "tensorflow")},
                  {"Worker", Replica(2, "tensorflow", 3333, "tfjob-port")},
                  {"Evaluator", Replica(1, "tensorflow")}}}}}};
  auto config = ParseJson(TfConfig(job, "Worker", 1));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config, Json::parse(R"({
    "cluster": {"ps": ["mnist-ps-0.team.svc:2222"],
                "worker": ["mnist-worker-0.team.svc:3333", "mnist-worker-1.team.svc:3333"]},
    "task": {"type": "worker", "index": 1},
    "environment": "cloud"})"));
  // Go's encoding: cluster first, then task, then environment.
  EXPECT_EQ(TfConfig(job, "PS", 0).rfind("{\"cluster\":{\"ps\":", 0), 0u);
  EXPECT_NE(TfConfig(job, "PS", 0).find("\"task\":{\"type\":\"ps\",\"index\":0},\"environment\""),
            std::string::npos);
}

TEST(JobKindTest, ASingleReplicaTfJobGetsNoTfConfig) {
  Json job = {{"metadata", {{"name", "solo"}}},
              {"spec", {{"tfReplicaSpecs", {{"Worker", Replica(1, "tensorflow")}}}}}};
  EXPECT_EQ(TfConfig(job, "Worker", 0), "");
}

TEST(JobKindTest, PyTorchRanksPutTheMasterFirst) {
  const JobKind& k = PyTorchJobKind();
  Json job = {{"metadata", {{"name", "pt"}, {"namespace", "default"}}},
              {"spec",
               {{"pytorchReplicaSpecs",
                 {{"Master", Replica(1, "pytorch")}, {"Worker", Replica(2, "pytorch")}}}}}};
  auto master = EnvMap(k.env(k, job, "Master", 0));
  EXPECT_EQ(master["MASTER_ADDR"], "pt-master-0");
  EXPECT_EQ(master["MASTER_PORT"], "23456");
  EXPECT_EQ(master["PET_MASTER_ADDR"], "pt-master-0");
  EXPECT_EQ(master["PET_MASTER_PORT"], "23456");
  EXPECT_EQ(master["WORLD_SIZE"], "3");
  EXPECT_EQ(master["RANK"], "0");
  EXPECT_EQ(master["PET_NNODES"], "3");
  EXPECT_EQ(master["PET_NODE_RANK"], "0");
  auto worker = EnvMap(k.env(k, job, "Worker", 1));
  EXPECT_EQ(worker["RANK"], "2");
  EXPECT_EQ(worker["PET_NODE_RANK"], "2");
  EXPECT_EQ(worker["PYTHONUNBUFFERED"], "1");
}

TEST(JobKindTest, XgBoostListsWorkerAddresses) {
  const JobKind& k = XgBoostJobKind();
  Json job = {{"metadata", {{"name", "xg"}}},
              {"spec",
               {{"xgbReplicaSpecs",
                 {{"Master", Replica(1, "xgboost", 9991, "xgboostjob-port")},
                  {"Worker", Replica(2, "xgboost")}}}}}};
  auto worker = EnvMap(k.env(k, job, "Worker", 0));
  EXPECT_EQ(worker["MASTER_ADDR"], "xg-master-0");
  EXPECT_EQ(worker["MASTER_PORT"], "9991");
  EXPECT_EQ(worker["WORLD_SIZE"], "3");
  EXPECT_EQ(worker["RANK"], "1");
  EXPECT_EQ(worker["WORKER_PORT"], "9999");
  EXPECT_EQ(worker["WORKER_ADDRS"], "xg-worker-0,xg-worker-1");
}

TEST(JobKindTest, DefaultsFollowUpstream) {
  EXPECT_EQ(TfJobKind().default_restart, "Never");
  EXPECT_EQ(PyTorchJobKind().default_restart, "OnFailure");
  EXPECT_EQ(TfJobKind().port_name, "tfjob-port");
  EXPECT_EQ(PyTorchJobKind().operator_name, "pytorchjob-controller");
  EXPECT_EQ(XgBoostJobKind().default_port, 9999);
  for (const JobKind* k : {&TfJobKind(), &PyTorchJobKind(), &XgBoostJobKind()}) {
    EXPECT_EQ(k->default_clean_policy, "None") << k->kind;
  }
  EXPECT_EQ(ReplicaName("mnist", "PS", 0), "mnist-ps-0");
}

}  // namespace
}  // namespace skiff::training

// What differs between the Training Operator v1 kinds (TFJob, PyTorchJob, XGBoostJob): where the
// replica specs live, the default container, port and restart policy, which replica decides the
// job, and the environment each replica gets. Pure functions of the job object, so they are
// tested without a cluster.
#pragma once

#include <string>
#include <vector>

#include "client/client.h"
#include "common/json.h"

namespace skiff::training {

struct JobKind {
  std::string kind;                  // "TFJob"
  client::Resource resource;         // kubeflow.org/v1 tfjobs
  std::string specs_field;           // "tfReplicaSpecs"
  std::string container;             // default container: its port and exit code count
  std::string port_name;             // "tfjob-port"
  int default_port = 0;              // 2222
  std::string operator_name;         // "tfjob-controller"
  std::string default_restart;       // a replica's restartPolicy when unset
  std::string default_clean_policy;  // runPolicy.cleanPodPolicy when unset
  // Replica types that decide success and get job-role=master ("Chief", "Master").
  std::vector<std::string> master_types;
  // The environment of replica `index` of `type`: a JSON array of {name, value}.
  Json (*env)(const JobKind& kind, const Json& job, const std::string& type, int index) = nullptr;

  bool IsMaster(const std::string& type) const;
};

const JobKind& TfJobKind();
const JobKind& PyTorchJobKind();
const JobKind& XgBoostJobKind();
const std::vector<const JobKind*>& AllJobKinds();

// Label keys every replica Pod and Service carries (upstream's).
inline constexpr char kJobNameLabel[] = "training.kubeflow.org/job-name";
inline constexpr char kOperatorNameLabel[] = "training.kubeflow.org/operator-name";
inline constexpr char kReplicaTypeLabel[] = "training.kubeflow.org/replica-type";
inline constexpr char kReplicaIndexLabel[] = "training.kubeflow.org/replica-index";
inline constexpr char kJobRoleLabel[] = "training.kubeflow.org/job-role";

std::string Lower(std::string s);
// `{job}-{type lower-case}-{index}`: the Pod's and its Service's name.
std::string ReplicaName(const std::string& job, const std::string& type, int index);
// spec.<specs_field> (an object; empty when absent).
const Json& ReplicaSpecs(const JobKind& kind, const Json& job);
// spec.<specs_field>.<type>.replicas, default 1.
int ReplicaCount(const Json& spec);
int TotalReplicas(const JobKind& kind, const Json& job);
// The port named kind.port_name on the default container of `type`'s template, else the default.
int ReplicaPort(const JobKind& kind, const Json& job, const std::string& type);
// The replica's restartPolicy as written, or the kind's default.
std::string RestartPolicyOf(const JobKind& kind, const Json& spec);

// TF_CONFIG for one TFJob replica ("" when the job is not distributed: one replica in all).
std::string TfConfig(const Json& job, const std::string& type, int index);

}  // namespace skiff::training

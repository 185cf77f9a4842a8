// The three kinds' parameters and environment contracts, as the upstream operator sets them.
#include "training/job_kind.h"

#include <algorithm>
#include <cctype>

namespace skiff::training {

namespace {

Json Var(const std::string& name, const std::string& value) {
  return Json{{"name", name}, {"value", value}};
}

bool HasType(const JobKind& kind, const Json& job, const std::string& type) {
  const Json& specs = ReplicaSpecs(kind, job);
  for (auto it = specs.begin(); it != specs.end(); ++it) {
    if (Lower(it.key()) == Lower(type)) return true;
  }
  return false;
}

const Json& SpecOf(const JobKind& kind, const Json& job, const std::string& type) {
  static const Json kEmpty = Json::object();
  const Json& specs = ReplicaSpecs(kind, job);
  for (auto it = specs.begin(); it != specs.end(); ++it) {
    if (Lower(it.key()) == Lower(type) && it.value().is_object()) return it.value();
  }
  return kEmpty;
}

std::string JobName(const Json& job) {
  const Json* name = FindPath(job, "metadata.name");
  return name && name->is_string() ? name->get<std::string>() : "";
}

Json TfEnv(const JobKind&, const Json& job, const std::string& type, int index) {
  std::string config = TfConfig(job, type, index);
  if (config.empty()) return Json::array();
  return Json::array({Var("TF_CONFIG", config)});
}

// torchrun's PET_* variables beside the classic MASTER_*/WORLD_SIZE/RANK.
Json PyTorchEnv(const JobKind& kind, const Json& job, const std::string& type, int index) {
  Json env = Json::array({Var("PYTHONUNBUFFERED", "1")});
  const bool has_master = HasType(kind, job, "Master");
  if (has_master) {
    const std::string port = std::to_string(ReplicaPort(kind, job, "Master"));
    const std::string addr = ReplicaName(JobName(job), "Master", 0);
    env.push_back(Var("MASTER_PORT", port));
    env.push_back(Var("PET_MASTER_PORT", port));
    env.push_back(Var("MASTER_ADDR", addr));
    env.push_back(Var("PET_MASTER_ADDR", addr));
  }
  int rank = index;
  if (Lower(type) == "worker" && has_master) rank += 1;
  const int total = TotalReplicas(kind, job);
  std::string nproc = "auto";
  if (const Json* n = FindPath(job, "spec.nprocPerNode"); n && n->is_string()) nproc = *n;
  int per_node = 1;
  if (!nproc.empty() && std::all_of(nproc.begin(), nproc.end(), ::isdigit)) {
    per_node = std::max(1, std::stoi(nproc));
  }
  env.push_back(Var("WORLD_SIZE", std::to_string(total * per_node)));
  env.push_back(Var("RANK", std::to_string(rank)));
  env.push_back(Var("PET_NPROC_PER_NODE", nproc));
  env.push_back(Var("PET_NODE_RANK", std::to_string(rank)));
  env.push_back(Var("PET_NNODES", std::to_string(total)));
  return env;
}

// The Rabit tracker's contract: master 0 is rank 0, workers follow after all masters.
Json XgBoostEnv(const JobKind& kind, const Json& job, const std::string& type, int index) {
  int rank = index;
  if (Lower(type) == "worker") rank += ReplicaCount(SpecOf(kind, job, "Master"));
  const int total = TotalReplicas(kind, job);
  Json env = Json::array();
  env.push_back(Var("MASTER_PORT", std::to_string(ReplicaPort(kind, job, "Master"))));
  env.push_back(Var("MASTER_ADDR", ReplicaName(JobName(job), "Master", 0)));
  env.push_back(Var("WORLD_SIZE", std::to_string(total)));
  env.push_back(Var("RANK", std::to_string(rank)));
  env.push_back(Var("PYTHONUNBUFFERED", "0"));
  if (total > 1) {
    const int worker_port =
        HasType(kind, job, "Worker") ? ReplicaPort(kind, job, "Worker") : kind.default_port;
    std::string addrs;
    for (int i = 0; i < total - 1; ++i) {
      if (i > 0) addrs += ",";
      addrs += ReplicaName(JobName(job), "Worker", i);
    }
    env.push_back(Var("WORKER_PORT", std::to_string(worker_port)));
    env.push_back(Var("WORKER_ADDRS", addrs));
  }
  return env;
}

JobKind Make(std::string kind, std::string plural, std::string field, std::string container,
             int port, std::string restart, std::string clean, std::vector<std::string> masters,
             Json (*env)(const JobKind&, const Json&, const std::string&, int)) {
  JobKind k;
  const std::string lower = Lower(kind);
  k.kind = std::move(kind);
  k.resource = {"kubeflow.org", "v1", std::move(plural)};
  k.specs_field = std::move(field);
  k.container = std::move(container);
  k.port_name = lower + "-port";
  k.default_port = port;
  k.operator_name = lower + "-controller";
  k.default_restart = std::move(restart);
  k.default_clean_policy = std::move(clean);
  k.master_types = std::move(masters);
  k.env = env;
  return k;
}

}  // namespace

bool JobKind::IsMaster(const std::string& type) const {
  for (const std::string& m : master_types) {
    if (Lower(m) == Lower(type)) return true;
  }
  return false;
}

const JobKind& TfJobKind() {
  // cleanPodPolicy defaults to None for every kind in training-operator v1 (tf-operator used
  // Running).
  static const JobKind k = Make("TFJob", "tfjobs", "tfReplicaSpecs", "tensorflow", 2222, "Never",
                                "None", {"Chief", "Master"}, TfEnv);
  return k;
}
const JobKind& PyTorchJobKind() {
  static const JobKind k = Make("PyTorchJob", "pytorchjobs", "pytorchReplicaSpecs", "pytorch",
                                23456, "OnFailure", "None", {"Master"}, PyTorchEnv);
  return k;
}
const JobKind& XgBoostJobKind() {
  static const JobKind k = Make("XGBoostJob", "xgboostjobs", "xgbReplicaSpecs", "xgboost", 9999,
                                "Never", "None", {"Master"}, XgBoostEnv);
  return k;
}
const std::vector<const JobKind*>& AllJobKinds() {
  static const std::vector<const JobKind*> kinds = {&TfJobKind(), &PyTorchJobKind(),
                                                    &XgBoostJobKind()};
  return kinds;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ReplicaName(const std::string& job, const std::string& type, int index) {
  return job + "-" + Lower(type) + "-" + std::to_string(index);
}

const Json& ReplicaSpecs(const JobKind& kind, const Json& job) {
  static const Json kEmpty = Json::object();
  const Json* spec = FindPath(job, "spec");
  if (spec == nullptr || !spec->is_object()) return kEmpty;
  auto it = spec->find(kind.specs_field);
  return it != spec->end() && it->is_object() ? *it : kEmpty;
}

int ReplicaCount(const Json& spec) {
  if (!spec.is_object()) return 0;
  auto it = spec.find("replicas");
  if (it == spec.end() || !it->is_number_integer()) return 1;
  return std::max(0, it->get<int>());
}

int TotalReplicas(const JobKind& kind, const Json& job) {
  int total = 0;
  for (const auto& [type, spec] : ReplicaSpecs(kind, job).items()) total += ReplicaCount(spec);
  return total;
}

int ReplicaPort(const JobKind& kind, const Json& job, const std::string& type) {
  const Json* containers = FindPath(SpecOf(kind, job, type), "template.spec.containers");
  if (containers == nullptr || !containers->is_array()) return kind.default_port;
  for (const Json& c : *containers) {
    if (c.value("name", "") != kind.container) continue;
    for (const Json& p : c.value("ports", Json::array())) {
      if (p.value("name", "") == kind.port_name && p.contains("containerPort") &&
          p["containerPort"].is_number_integer()) {
        return p["containerPort"].get<int>();
      }
    }
  }
  return kind.default_port;
}

std::string RestartPolicyOf(const JobKind& kind, const Json& spec) {
  if (spec.is_object()) {
    auto it = spec.find("restartPolicy");
    if (it != spec.end() && it->is_string() && !it->get<std::string>().empty()) return *it;
  }
  return kind.default_restart;
}

std::string TfConfig(const Json& job, const std::string& type, int index) {
  const JobKind& kind = TfJobKind();
  if (TotalReplicas(kind, job) == 1) return "";  // not distributed: upstream sets no TF_CONFIG
  const std::string name = JobName(job);
  std::string ns = "default";
  if (const Json* n = FindPath(job, "metadata.namespace"); n && n->is_string()) ns = *n;
  // Go marshals the map sorted and the structs in field order; ordered_json keeps both.
  nlohmann::ordered_json cluster = nlohmann::ordered_json::object();
  std::vector<std::string> types;
  for (const auto& [t, spec] : ReplicaSpecs(kind, job).items()) types.push_back(t);
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const std::string& t : types) sorted.emplace_back(Lower(t), t);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [lower, t] : sorted) {
    if (lower == "evaluator") continue;  // the evaluator is not a member of the cluster
    const int port = ReplicaPort(kind, job, t);
    nlohmann::ordered_json hosts = nlohmann::ordered_json::array();
    for (int i = 0; i < ReplicaCount(ReplicaSpecs(kind, job)[t]); ++i) {
      hosts.push_back(ReplicaName(name, t, i) + "." + ns + ".svc:" + std::to_string(port));
    }
    cluster[lower] = std::move(hosts);
  }
  nlohmann::ordered_json config;
  config["cluster"] = std::move(cluster);
  config["task"] = {{"type", Lower(type)}, {"index", index}};
  config["environment"] = "cloud";
  return config.dump();
}

}  // namespace skiff::training

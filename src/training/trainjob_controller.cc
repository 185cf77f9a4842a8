// The TrainJob reconcile: resolve the runtime, plan the node Pods, create what is missing, and
// derive upstream's TrainJob conditions from what the Pods did.
#include "training/trainjob_controller.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "controllers/object_meta.h"
#include "training/builtin_runtimes.h"
#include "training/job_controller.h"

namespace skiff::training {

using controllers::ObjectPtr;
using controllers::Request;
using controllers::Result;

namespace {

constexpr char kManagedBy[] = "trainer.kubeflow.org/trainjob-controller";
constexpr char kComponent[] = "trainjob-controller";

// metav1.Condition semantics: the transition time moves only when the status does; the condition
// set last goes last (the STATE column). Returns whether anything changed.
bool SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  const Json* current = controllers::FindCondition(status, type);
  if (current && current->value("status", "") == value && current->value("reason", "") == reason &&
      current->value("message", "") == message) {
    return false;
  }
  std::string transition = now;
  if (current && current->value("status", "") == value) {
    transition = current->value("lastTransitionTime", now);
  }
  Json kept = Json::array();
  for (const Json& c : status.value("conditions", Json::array())) {
    if (c.value("type", "") != type) kept.push_back(c);
  }
  kept.push_back({{"type", type},
                  {"status", value},
                  {"reason", reason},
                  {"message", message},
                  {"lastTransitionTime", transition}});
  status["conditions"] = std::move(kept);
  return true;
}

// Replaces the variable `name` in an env list, or appends it.
void SetEnv(Json& list, const Json& var) {
  for (Json& v : list) {
    if (v.value("name", "") == var.value("name", "")) {
      v = var;
      return;
    }
  }
  list.push_back(var);
}

// The trainer container's (else the first container's) terminated state, or null.
const Json* Terminated(const Json& pod, const std::string& container) {
  const Json* statuses = FindPath(pod, "status.containerStatuses");
  if (!statuses || !statuses->is_array() || statuses->empty()) return nullptr;
  const Json* chosen = &(*statuses)[0];
  for (const Json& s : *statuses) {
    if (s.value("name", "") == container) chosen = &s;
  }
  const Json* terminated = FindPath(*chosen, "state.terminated");
  return terminated && terminated->is_object() ? terminated : nullptr;
}

// A strategic-merge-like patch: objects merge key by key; lists of named objects (containers,
// env, volumes, volumeMounts) merge by name; other lists (tolerations) are appended to.
void MergePatch(Json& dst, const Json& patch) {
  if (patch.is_object() && dst.is_object()) {
    for (const auto& [key, value] : patch.items()) {
      if (dst.contains(key)) {
        MergePatch(dst[key], value);
      } else {
        dst[key] = value;
      }
    }
    return;
  }
  if (patch.is_array() && dst.is_array()) {
    const bool named = std::all_of(patch.begin(), patch.end(), [](const Json& e) {
      return e.is_object() && e.contains("name") && e["name"].is_string();
    });
    for (const Json& e : patch) {
      Json* same = nullptr;
      if (named) {
        for (Json& d : dst) {
          if (d.is_object() && d.value("name", "") == e["name"].get<std::string>()) same = &d;
        }
      }
      if (same != nullptr) {
        MergePatch(*same, e);
      } else {
        dst.push_back(e);
      }
    }
    return;
  }
  dst = patch;
}

StatusOr<Result> Retry(const Status& s) {
  if (s.code() == Code::kConflict) return Result{.requeue = true};
  return s;
}

}  // namespace

std::string NodePodName(const std::string& trainjob, int index) {
  return trainjob + "-" + kNodeJob + "-0-" + std::to_string(index);
}

StatusOr<TrainPlan> PlanTrainJob(const Json& trainjob, const Json& runtime) {
  const std::string runtime_name =
      runtime.value("kind", std::string("runtime")) + " " + controllers::NameOf(runtime);
  // The trainer step: the replicated job `node` (upstream's name), else the one labelled as the
  // trainer ancestor step.
  const Json* jobs = FindPath(runtime, "spec.template.spec.replicatedJobs");
  const Json* node = nullptr;
  if (jobs && jobs->is_array()) {
    for (const Json& rj : *jobs) {
      if (rj.value("name", "") == kNodeJob) node = &rj;
    }
    for (const Json& rj : *jobs) {
      if (node == nullptr &&
          controllers::LabelOf(rj.value("template", Json::object()),
                               "trainer.kubeflow.org/trainjob-ancestor-step") == "trainer") {
        node = &rj;
      }
    }
  }
  if (node == nullptr) {
    return Status::BadRequest(runtime_name +
                              " has no replicated job named \"node\" in spec.template.spec."
                              "replicatedJobs; the trainer runs there");
  }
  TrainPlan plan;
  const std::string node_name = node->value("name", "");
  for (const Json& rj : *jobs) {
    if (&rj != node) plan.skipped_jobs.push_back(rj.value("name", ""));
  }
  const Json* tmpl = FindPath(*node, "template.spec.template");
  plan.pod_template = tmpl && tmpl->is_object() ? *tmpl : Json::object();
  // runtimePatches, in order, on the node job's Pod template.
  if (const Json* patches = FindPath(trainjob, "spec.runtimePatches");
      patches && patches->is_array()) {
    for (const Json& patch : *patches) {
      const Json* rjs = FindPath(patch, "trainingRuntimeSpec.template.spec.replicatedJobs");
      if (!rjs || !rjs->is_array()) continue;
      for (const Json& rj : *rjs) {
        const Json* pod = FindPath(rj, "template.spec.template");
        if (rj.value("name", "") == node_name && pod && pod->is_object()) {
          MergePatch(plan.pod_template, *pod);
        }
      }
    }
  }
  Json& spec = plan.pod_template["spec"];
  if (!spec.is_object()) spec = Json::object();
  Json& containers = spec["containers"];
  if (!containers.is_array() || containers.empty()) {
    return Status::BadRequest(runtime_name + ": the node job's Pod template has no containers");
  }
  Json* trainer = nullptr;
  for (const char* name : {"node", "trainer"}) {
    for (Json& c : containers) {
      if (trainer == nullptr && c.value("name", "") == name) trainer = &c;
    }
  }
  if (trainer == nullptr) trainer = &containers[0];
  plan.container = trainer->value("name", "");

  const Json* overrides = FindPath(trainjob, "spec.trainer");
  const Json& o = overrides && overrides->is_object() ? *overrides : Json::object();
  if (o.contains("image")) (*trainer)["image"] = o["image"];
  if (o.contains("command")) (*trainer)["command"] = o["command"];
  if (o.contains("args")) (*trainer)["args"] = o["args"];
  if (o.contains("resourcesPerNode")) (*trainer)["resources"] = o["resourcesPerNode"];
  if (o.contains("env") && o["env"].is_array()) {
    Json env = trainer->value("env", Json::array());
    if (!env.is_array()) env = Json::array();
    for (const Json& var : o["env"]) SetEnv(env, var);
    (*trainer)["env"] = std::move(env);
  }

  auto num_nodes = IntAt(trainjob, "spec.trainer.numNodes");
  if (!num_nodes) num_nodes = IntAt(runtime, "spec.mlPolicy.numNodes");
  plan.num_nodes = static_cast<int>(num_nodes.value_or(1));
  if (plan.num_nodes < 1) {
    return Status::BadRequest("numNodes is " + std::to_string(plan.num_nodes) +
                              "; a TrainJob needs at least one node");
  }
  auto nproc = IntAt(trainjob, "spec.trainer.numProcPerNode");
  if (!nproc) nproc = IntAt(runtime, "spec.mlPolicy.torch.numProcPerNode");
  plan.num_proc_per_node = static_cast<int>(std::max<int64_t>(1, nproc.value_or(1)));

  plan.restart_policy = spec.value("restartPolicy", std::string("Never"));
  if (plan.restart_policy != "OnFailure") plan.restart_policy = "Never";  // a Job's choices
  spec["restartPolicy"] = plan.restart_policy;
  return plan;
}

Json NodeEnv(const std::string& trainjob, const TrainPlan& plan, int rank) {
  const std::string master = NodePodName(trainjob, 0);
  const std::string port = std::to_string(kDefaultMasterPort);
  auto var = [](const char* name, const std::string& value) {
    return Json{{"name", name}, {"value", value}};
  };
  // torchrun's (PET_*), then the PyTorchJob contract skiff-ml reads: one process per node Pod.
  return Json::array({var("PET_NNODES", std::to_string(plan.num_nodes)),
                      var("PET_NPROC_PER_NODE", std::to_string(plan.num_proc_per_node)),
                      var("PET_NODE_RANK", std::to_string(rank)), var("PET_MASTER_ADDR", master),
                      var("PET_MASTER_PORT", port), var("MASTER_ADDR", master),
                      var("MASTER_PORT", port), var("WORLD_SIZE", std::to_string(plan.num_nodes)),
                      var("RANK", std::to_string(rank)), var("PYTHONUNBUFFERED", "1")});
}

TrainJobReconciler::TrainJobReconciler(controllers::Manager* mgr, client::Client* client,
                                       Clock* clock)
    : mgr_(mgr),
      client_(client),
      clock_(clock),
      recorder_(client, kComponent, "", clock),
      jobs_(mgr->GetInformer(kTrainJobs)),
      pods_(mgr->GetInformer(kPods)),
      services_(mgr->GetInformer(kServices)) {}

Json TrainJobReconciler::Labels(const Json& job, int index) const {
  const std::string name = controllers::NameOf(job);
  Json labels = {{kTrainJobNameLabel, name},
                 {kJobSetNameLabel, name},
                 {kReplicatedJobNameLabel, kNodeJob},
                 {kJobIndexLabel, "0"}};
  if (index >= 0) labels[kCompletionIndexLabel] = std::to_string(index);
  return labels;
}

Json TrainJobReconciler::OwnerRef(const Json& job) const {
  return {{"apiVersion", "trainer.kubeflow.org/v1alpha1"},
          {"kind", "TrainJob"},
          {"name", controllers::NameOf(job)},
          {"uid", controllers::UidOf(job)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

StatusOr<Json> TrainJobReconciler::ResolveRuntime(const Json& job) {
  const std::string name = StringAt(job, "spec.runtimeRef.name");
  std::string kind = StringAt(job, "spec.runtimeRef.kind");
  if (kind.empty()) kind = "ClusterTrainingRuntime";
  std::string group = StringAt(job, "spec.runtimeRef.apiGroup");
  if (group.empty()) group = "trainer.kubeflow.org";
  if (group != "trainer.kubeflow.org" ||
      (kind != "ClusterTrainingRuntime" && kind != "TrainingRuntime")) {
    return Status::BadRequest("spec.runtimeRef " + group + "/" + kind +
                              " is not a runtime kind; use ClusterTrainingRuntime or "
                              "TrainingRuntime (group trainer.kubeflow.org)");
  }
  const bool cluster = kind == "ClusterTrainingRuntime";
  const client::Resource& resource = cluster ? kClusterTrainingRuntimes : kTrainingRuntimes;
  const std::string ns = cluster ? "" : controllers::NamespaceOf(job);
  // The cache may lag a runtime created just before the job; ask the server before giving up.
  if (ObjectPtr cached = mgr_->GetInformer(resource)->Get(ns, name)) return *cached;
  auto got = client_->Get(resource, ns, name);
  if (got.ok()) return *got;
  if (got.status().code() != Code::kNotFound) return got.status();
  const std::string list =
      cluster ? "kubectl get clustertrainingruntimes" : "kubectl get trainingruntimes -n " + ns;
  return Status::NotFound(kind + " \"" + name + "\" not found" +
                          (cluster ? "" : " in namespace " + ns) + "; list the runtimes with `" +
                          list + "`");
}

Status TrainJobReconciler::CreateNode(const Json& job, const TrainPlan& plan, int index) {
  const std::string ns = controllers::NamespaceOf(job);
  const std::string name = NodePodName(controllers::NameOf(job), index);
  const Json selector = Labels(job, index);
  if (services_->Get(ns, name) == nullptr) {
    Json svc = {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns},
                  {"labels", selector},
                  {"ownerReferences", Json::array({OwnerRef(job)})}}},
                {"spec",
                 {{"clusterIP", "None"},
                  {"selector", selector},
                  {"ports", Json::array({{{"name", "c10d"}, {"port", kDefaultMasterPort}}})}}}};
    auto created = client_->Create(kServices, ns, svc);
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      recorder_.Event(job, "Warning", "FailedCreateService",
                      "Error creating: " + created.status().message());
      return created.status();
    }
  }
  Json meta = plan.pod_template.value("metadata", Json::object());
  if (!meta.is_object()) meta = Json::object();
  Json labels = meta.value("labels", Json::object());
  if (!labels.is_object()) labels = Json::object();
  labels.update(selector);
  meta["name"] = name;
  meta["namespace"] = ns;
  meta["labels"] = std::move(labels);
  meta["ownerReferences"] = Json::array({OwnerRef(job)});
  Json spec = plan.pod_template["spec"];
  const Json env = NodeEnv(controllers::NameOf(job), plan, index);
  for (Json& c : spec["containers"]) {
    Json list = c.value("env", Json::array());
    if (!list.is_array()) list = Json::array();
    for (const Json& var : env) SetEnv(list, var);
    c["env"] = std::move(list);
  }
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", spec}};
  return controllers::CreateChild(client_, recorder_, job, kPods, pod);
}

Status TrainJobReconciler::WriteStatus(const Json& job, const Json& status) {
  if (job.value("status", Json::object()) == status) return Status::Ok();
  Json updated = job;
  updated["status"] = status;
  auto written = client_->UpdateStatus(kTrainJobs, controllers::NamespaceOf(job), updated);
  return written.ok() ? Status::Ok() : written.status();
}

StatusOr<Result> TrainJobReconciler::Reconcile(const Request& request) {
  ObjectPtr cached = jobs_->Get(request.ns, request.name);
  if (cached == nullptr) return Result{};
  const Json& job = *cached;
  if (controllers::IsDeleting(job)) return Result{};
  const std::string managed_by = StringAt(job, "spec.managedBy");
  if (!managed_by.empty() && managed_by != kManagedBy) return Result{};  // e.g. MultiKueue's

  const std::string ns = request.ns;
  const std::string uid = controllers::UidOf(job);
  const std::string now = FormatRfc3339(clock_->Now());
  Json status = job.value("status", Json::object());
  if (!status.is_object()) status = Json::object();

  // The job's node Pods by index, and its Services.
  std::map<int, ObjectPtr> pods;
  std::set<int> leaving;
  std::vector<ObjectPtr> all;
  for (const ObjectPtr& pod : pods_->List(ns)) {
    if (controllers::LabelOf(*pod, kTrainJobNameLabel) != request.name ||
        !controllers::IsControlledBy(*pod, uid))
      continue;
    int index = -1;
    try {
      index = std::stoi(controllers::LabelOf(*pod, kCompletionIndexLabel));
    } catch (...) {
    }
    if (controllers::IsDeleting(*pod)) {
      leaving.insert(index);
      continue;
    }
    all.push_back(pod);
    if (index >= 0) pods[index] = pod;
  }
  auto delete_pods = [&](bool only_active, bool services) {
    for (const ObjectPtr& pod : all) {
      const std::string phase = StringAt(*pod, "status.phase");
      if (only_active && (phase == "Succeeded" || phase == "Failed")) continue;
      const std::string name = controllers::NameOf(*pod);
      if (client_->Delete(kPods, ns, name).ok()) {
        recorder_.Event(job, "Normal", "SuccessfulDeletePod", "Deleted pod: " + name);
      }
    }
    if (!services) return;
    for (const ObjectPtr& svc : services_->List(ns)) {
      if (controllers::LabelOf(*svc, kTrainJobNameLabel) == request.name &&
          controllers::IsControlledBy(*svc, uid)) {
        (void)client_->Delete(kServices, ns, controllers::NameOf(*svc));
      }
    }
  };
  auto jobs_status = [&](int active, int ready, int succeeded, int failed, int suspended) {
    status["jobsStatus"] = Json::array({{{"name", kNodeJob},
                                         {"ready", ready},
                                         {"succeeded", succeeded},
                                         {"failed", failed},
                                         {"active", active},
                                         {"suspended", suspended}}});
  };

  if (controllers::ConditionIsTrue(status, "Complete") ||
      controllers::ConditionIsTrue(status, "Failed")) {
    delete_pods(/*only_active=*/true, /*services=*/false);
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return Result{};
  }

  auto runtime = ResolveRuntime(job);
  StatusOr<TrainPlan> plan =
      runtime.ok() ? PlanTrainJob(job, *runtime) : StatusOr<TrainPlan>(runtime.status());
  if (!plan.ok()) {
    const std::string reason =
        plan.status().code() == Code::kNotFound ? "RuntimeNotFound" : "JobsBuildFailed";
    if (plan.status().code() != Code::kNotFound && plan.status().code() != Code::kBadRequest) {
      return plan.status();  // the server: try again
    }
    if (SetCondition(status, "Created", "False", reason, plan.status().message(), now)) {
      recorder_.Event(job, "Warning", reason, plan.status().message());
    }
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return Result{};  // a runtime created or changed later wakes the job (Watches)
  }

  const Json* suspend = FindPath(job, "spec.suspend");
  if (suspend && suspend->is_boolean() && suspend->get<bool>()) {
    delete_pods(/*only_active=*/false, /*services=*/true);
    jobs_status(0, 0, 0, 0, 1);
    if (SetCondition(status, "Suspended", "True", "Suspended", "TrainJob is suspended", now)) {
      recorder_.Event(job, "Normal", "Suspended", "TrainJob is suspended");
    }
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return Result{};
  }
  if (controllers::ConditionIsTrue(status, "Suspended")) {
    SetCondition(status, "Suspended", "False", "Resumed", "TrainJob is resumed", now);
    recorder_.Event(job, "Normal", "Resumed", "TrainJob is resumed");
  }

  Status first_error;
  int active = 0, ready = 0, succeeded = 0, failed = 0;
  std::string failure;
  for (int i = 0; i < plan->num_nodes; ++i) {
    if (leaving.count(i)) continue;
    auto found = pods.find(i);
    if (found == pods.end()) {
      if (Status s = CreateNode(job, *plan, i); !s.ok() && first_error.ok()) first_error = s;
      continue;
    }
    const Json& pod = *found->second;
    const std::string phase = StringAt(pod, "status.phase");
    if (phase == "Succeeded") {
      ++succeeded;
    } else if (phase == "Failed") {
      ++failed;
      if (failure.empty()) {
        failure = "node " + std::to_string(i) + " (Pod " + controllers::NameOf(pod) + ") failed";
        if (const Json* t = Terminated(pod, plan->container)) {
          if (t->contains("exitCode")) failure += " with exit code " + t->at("exitCode").dump();
          // The runtime's own words, e.g. StartError: exec: "torchrun": executable file not found
          const std::string message = t->value("message", "");
          if (!message.empty()) failure += " (" + t->value("reason", "") + ": " + message + ")";
        } else if (const std::string reason = StringAt(pod, "status.reason"); !reason.empty()) {
          failure += " (" + reason + ": " + StringAt(pod, "status.message") + ")";
        }
        failure += "; see `kubectl logs " + controllers::NameOf(pod) + "`";
      }
    } else {
      ++active;
      if (phase == "Running") ++ready;
    }
  }
  jobs_status(active, ready, succeeded, failed, 0);
  if (first_error.ok()) {
    if (SetCondition(status, "Created", "True", "JobsCreationSucceeded", "Succeeded to create Jobs",
                     now) &&
        !plan->skipped_jobs.empty()) {
      std::string names;
      for (const std::string& n : plan->skipped_jobs) names += (names.empty() ? "" : ", ") + n;
      recorder_.Event(job, "Warning", "ReplicatedJobsNotRun",
                      "skiff runs only the trainer job \"" + std::string(kNodeJob) +
                          "\"; the runtime's other replicated jobs are not run: " + names);
    }
  } else {
    SetCondition(status, "Created", "False", "JobsCreationFailed",
                 "Failed to create Jobs: " + first_error.message(), now);
  }
  const std::string who = "TrainJob " + ns + "/" + request.name;
  if (failed > 0) {
    const std::string msg = who + " failed: " + failure;
    SetCondition(status, "Failed", "True", "FailedJobs", msg, now);
    recorder_.Event(job, "Warning", "TrainJobFailed", msg);
    delete_pods(/*only_active=*/true, /*services=*/false);
  } else if (succeeded == plan->num_nodes) {
    const std::string msg =
        who + " completed: all " + std::to_string(plan->num_nodes) + " node(s) succeeded";
    SetCondition(status, "Complete", "True", "AllJobsCompleted", msg, now);
    recorder_.Event(job, "Normal", "TrainJobComplete", msg);
  }
  if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
  if (!first_error.ok()) return first_error;
  return Result{};
}

Status StartTrainJobController(controllers::Manager& mgr, client::Client* client) {
  controllers::Informer* jobs = mgr.GetInformer(kTrainJobs);
  // A runtime created or edited wakes the TrainJobs that refer to it.
  auto referrers = [jobs](bool cluster) {
    return [jobs, cluster](const Json& runtime) {
      std::vector<Request> out;
      for (const ObjectPtr& job : jobs->List()) {
        std::string kind = StringAt(*job, "spec.runtimeRef.kind");
        if (kind.empty()) kind = "ClusterTrainingRuntime";
        if (StringAt(*job, "spec.runtimeRef.name") != controllers::NameOf(runtime) ||
            (kind == "ClusterTrainingRuntime") != cluster ||
            (!cluster && controllers::NamespaceOf(*job) != controllers::NamespaceOf(runtime))) {
          continue;
        }
        out.push_back({controllers::NamespaceOf(*job), controllers::NameOf(*job)});
      }
      return out;
    };
  };
  mgr.NewController("trainjob")
      .For(kTrainJobs)
      .Owns(kPods)
      .Owns(kServices)
      .Watches(kClusterTrainingRuntimes, referrers(true))
      .Watches(kTrainingRuntimes, referrers(false))
      .WithWorkers(2)
      .Complete(std::make_unique<TrainJobReconciler>(&mgr, client));
  return EnsureBuiltinRuntimes(client);
}

}  // namespace skiff::training

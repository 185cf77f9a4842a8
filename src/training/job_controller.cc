// The generic training-job reconcile: observe the job's Pods and Services, take one step toward
// the replicas the spec asks for, and derive the job's conditions from what the Pods did.
#include "training/job_controller.h"

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "controllers/object_meta.h"

namespace skiff::training {

using controllers::ObjectPtr;
using controllers::Request;
using controllers::Result;

namespace {

constexpr int kUnknownExitCode = 0xbeef;  // upstream's "no terminated state": retryable

bool Finished(const Json& status) {
  return controllers::ConditionIsTrue(status, "Succeeded") ||
         controllers::ConditionIsTrue(status, "Failed");
}

// Upstream's setCondition: nothing changes once Failed; Running and Restarting replace each other;
// a terminal condition turns Running False; the new condition goes last (the STATE column).
void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  if (controllers::ConditionIsTrue(status, "Failed")) return;
  const Json* current = controllers::FindCondition(status, type);
  if (current && current->value("status", "") == value && current->value("reason", "") == reason) {
    return;
  }
  std::string transition = now;
  if (current && current->value("status", "") == value) {
    transition = current->value("lastTransitionTime", now);
  }
  Json kept = Json::array();
  for (Json c : status.value("conditions", Json::array())) {
    const std::string t = c.value("type", "");
    if (t == type) continue;
    if ((type == "Restarting" && t == "Running") || (type == "Running" && t == "Restarting")) {
      continue;
    }
    if ((type == "Failed" || type == "Succeeded") && t == "Running") c["status"] = "False";
    kept.push_back(std::move(c));
  }
  kept.push_back({{"type", type},
                  {"status", value},
                  {"reason", reason},
                  {"message", message},
                  {"lastUpdateTime", now},
                  {"lastTransitionTime", transition}});
  status["conditions"] = std::move(kept);
}

// The exit code of the kind's default container (else the first container), or kUnknownExitCode.
int ExitCode(const JobKind& kind, const Json& pod) {
  const Json* statuses = FindPath(pod, "status.containerStatuses");
  if (!statuses || !statuses->is_array() || statuses->empty()) return kUnknownExitCode;
  const Json* chosen = &(*statuses)[0];
  for (const Json& s : *statuses) {
    if (s.value("name", "") == kind.container) chosen = &s;
  }
  const Json* code = FindPath(*chosen, "state.terminated.exitCode");
  return code && code->is_number_integer() ? code->get<int>() : kUnknownExitCode;
}

// Waiting reasons that will not fix themselves: the job's users should see them on the job.
bool StuckReason(const std::string& reason) {
  return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
         reason == "CreateContainerConfigError" || reason == "CreateContainerError";
}

std::string SelectorString(const Json& labels) {
  std::string out;
  for (const auto& [k, v] : labels.items()) {
    if (!out.empty()) out += ",";
    out += k + "=" + v.get<std::string>();
  }
  return out;
}

// A stale cache (our own last write not seen yet) is retried quietly; other errors are logged.
StatusOr<Result> Retry(const Status& s) {
  if (s.code() == Code::kConflict) return Result{.requeue = true};
  return s;
}

}  // namespace

struct JobReconciler::Replicas {
  // spec key ("Worker") by lower-case type ("worker").
  std::map<std::string, std::string> types;
  std::map<std::string, std::map<int, ObjectPtr>> pods;  // by spec key, then index
  // Slots whose Pod is being deleted: nothing is created there until it is gone.
  std::map<std::string, std::set<int>> leaving;
  std::vector<ObjectPtr> extra;  // Pods of the job outside the spec (scaled down, unknown type)
  std::vector<ObjectPtr> all;    // every live Pod of the job
  std::set<std::string> services;
};

JobReconciler::JobReconciler(const JobKind& kind, controllers::Manager* mgr, client::Client* client,
                             Clock* clock)
    : kind_(kind),
      mgr_(mgr),
      client_(client),
      clock_(clock),
      recorder_(client, kind.operator_name, "", clock),
      jobs_(mgr->GetInformer(kind.resource)),
      pods_(mgr->GetInformer(kPods)),
      services_(mgr->GetInformer(kServices)) {}

JobReconciler::Memory& JobReconciler::MemoryOf(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return memory_[key];  // map nodes are stable; one reconcile per job at a time uses it
}

std::string JobReconciler::Message(const Json& job, const std::string& what, bool with_ns) const {
  const std::string name = with_ns ? controllers::NamespaceOf(job) + "/" + controllers::NameOf(job)
                                   : controllers::NameOf(job);
  return kind_.kind + " " + name + " " + what;
}

Json JobReconciler::OwnerRef(const Json& job) const {
  return {
      {"apiVersion", "kubeflow.org/v1"}, {"kind", kind_.kind}, {"name", controllers::NameOf(job)},
      {"uid", controllers::UidOf(job)},  {"controller", true}, {"blockOwnerDeletion", true}};
}

Json JobReconciler::Labels(const Json& job, const std::string& type, int index) const {
  Json labels = {{kOperatorNameLabel, kind_.operator_name},
                 {kJobNameLabel, controllers::NameOf(job)},
                 {kReplicaTypeLabel, Lower(type)}};
  if (index >= 0) labels[kReplicaIndexLabel] = std::to_string(index);
  return labels;
}

JobReconciler::Replicas JobReconciler::Observe(const Json& job, const Memory& memory) {
  Replicas r;
  for (const auto& [type, spec] : ReplicaSpecs(kind_, job).items()) r.types[Lower(type)] = type;
  const std::string ns = controllers::NamespaceOf(job);
  const std::string name = controllers::NameOf(job);
  const std::string uid = controllers::UidOf(job);
  for (const ObjectPtr& pod : pods_->List(ns)) {
    if (controllers::LabelOf(*pod, kJobNameLabel) != name ||
        !controllers::IsControlledBy(*pod, uid))
      continue;
    auto type = r.types.find(controllers::LabelOf(*pod, kReplicaTypeLabel));
    int index = -1;
    try {
      index = std::stoi(controllers::LabelOf(*pod, kReplicaIndexLabel));
    } catch (...) {
    }
    const bool leaving =
        controllers::IsDeleting(*pod) || memory.deleted.count(controllers::UidOf(*pod));
    if (type != r.types.end() && index >= 0 &&
        index < ReplicaCount(ReplicaSpecs(kind_, job)[type->second])) {
      if (leaving) {
        r.leaving[type->second].insert(index);
      } else {
        r.pods[type->second][index] = pod;
        r.all.push_back(pod);
      }
    } else if (!leaving) {
      r.extra.push_back(pod);
      r.all.push_back(pod);
    }
  }
  for (const ObjectPtr& svc : services_->List(ns)) {
    if (controllers::LabelOf(*svc, kJobNameLabel) == name &&
        controllers::IsControlledBy(*svc, uid)) {
      r.services.insert(controllers::NameOf(*svc));
    }
  }
  return r;
}

Status JobReconciler::CreatePod(const Json& job, const std::string& type, int index) {
  const Json& spec = ReplicaSpecs(kind_, job)[type];
  const std::string name = ReplicaName(controllers::NameOf(job), type, index);
  Json tmpl = spec.value("template", Json::object());
  Json meta = tmpl.value("metadata", Json::object());
  if (!meta.is_object()) meta = Json::object();
  Json labels = meta.value("labels", Json::object());
  if (!labels.is_object()) labels = Json::object();
  labels.update(Labels(job, type, index));
  if (kind_.IsMaster(type)) labels[kJobRoleLabel] = "master";
  const Json* scheduling = FindPath(job, "spec.runPolicy.schedulingPolicy");
  if (scheduling && scheduling->is_object()) labels[kPodGroupLabel] = controllers::NameOf(job);
  meta["name"] = name;
  meta["namespace"] = controllers::NamespaceOf(job);
  meta["labels"] = labels;
  meta["ownerReferences"] = Json::array({OwnerRef(job)});
  meta.erase("resourceVersion");
  meta.erase("uid");

  Json pod_spec = tmpl.value("spec", Json::object());
  const std::string policy = RestartPolicyOf(kind_, spec);
  pod_spec["restartPolicy"] = policy == "ExitCode" ? "Never" : policy;
  if (scheduling && scheduling->is_object() && !pod_spec.contains("priorityClassName")) {
    std::string pc = scheduling->value("priorityClass", "");
    if (!pc.empty()) pod_spec["priorityClassName"] = pc;
  }
  const Json env = kind_.env(kind_, job, type, index);
  if (pod_spec.contains("containers") && pod_spec["containers"].is_array()) {
    for (Json& c : pod_spec["containers"]) {
      Json list = c.value("env", Json::array());
      if (!list.is_array()) list = Json::array();
      for (const Json& var : env) list.push_back(var);
      c["env"] = std::move(list);
    }
  }
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta}, {"spec", pod_spec}};
  return controllers::CreateChild(client_, recorder_, job, kPods, pod);
}

Status JobReconciler::CreateService(const Json& job, const std::string& type, int index) {
  const std::string name = ReplicaName(controllers::NameOf(job), type, index);
  const Json labels = Labels(job, type, index);
  Json svc = {
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata",
       {{"name", name},
        {"namespace", controllers::NamespaceOf(job)},
        {"labels", labels},
        {"ownerReferences", Json::array({OwnerRef(job)})}}},
      {"spec",
       {{"clusterIP", "None"},
        {"selector", labels},
        {"ports",
         Json::array({{{"name", kind_.port_name}, {"port", ReplicaPort(kind_, job, type)}}})}}}};
  return controllers::CreateChild(client_, recorder_, job, kServices, svc);
}

Status JobReconciler::EnsurePodGroup(const Json& job) {
  const std::string ns = controllers::NamespaceOf(job);
  const std::string name = controllers::NameOf(job);
  if (mgr_->GetInformer(kPodGroups)->Get(ns, name) != nullptr) return Status::Ok();
  const Json& policy = *FindPath(job, "spec.runPolicy.schedulingPolicy");
  Json spec = {{"minMember", policy.value("minAvailable", TotalReplicas(kind_, job))}};
  if (policy.contains("minResources")) spec["minResources"] = policy["minResources"];
  if (policy.contains("scheduleTimeoutSeconds")) {
    spec["scheduleTimeoutSeconds"] = policy["scheduleTimeoutSeconds"];
  }
  Json group = {{"apiVersion", "scheduling.x-k8s.io/v1alpha1"},
                {"kind", "PodGroup"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns},
                  {"labels", {{kJobNameLabel, name}, {kOperatorNameLabel, kind_.operator_name}}},
                  {"ownerReferences", Json::array({OwnerRef(job)})}}},
                {"spec", spec}};
  auto created = client_->Create(kPodGroups, ns, group);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  return Status::Ok();
}

void JobReconciler::DeletePodGroup(const Json& job) {
  const std::string ns = controllers::NamespaceOf(job);
  const std::string name = controllers::NameOf(job);
  ObjectPtr group = mgr_->GetInformer(kPodGroups)->Get(ns, name);
  if (group == nullptr || !controllers::IsControlledBy(*group, controllers::UidOf(job))) return;
  auto deleted = client_->Delete(kPodGroups, ns, name);
  if (!deleted.ok() && deleted.status().code() != Code::kNotFound) {
    SKIFF_LOG(Warn) << kind_.kind << " " << ns << "/" << name
                    << ": deleting PodGroup: " << deleted.status().ToString();
  }
}

void JobReconciler::DeletePods(const Json& job, const Replicas& replicas, bool all) {
  std::string policy = StringAt(job, "spec.runPolicy.cleanPodPolicy");
  if (policy.empty()) policy = kind_.default_clean_policy;
  if (!all && policy == "None") return;
  const std::string ns = controllers::NamespaceOf(job);
  for (const ObjectPtr& pod : replicas.all) {
    const std::string phase = StringAt(*pod, "status.phase");
    // A Pending Pod would start later, so it counts as running.
    if (!all && policy == "Running" && phase != "Running" && phase != "Pending" && !phase.empty()) {
      continue;
    }
    const std::string name = controllers::NameOf(*pod);
    auto deleted = client_->Delete(kPods, ns, name);
    if (deleted.ok()) {
      recorder_.Event(job, "Normal", "SuccessfulDeletePod", "Deleted pod: " + name);
    }
    if (replicas.services.count(name)) {
      if (client_->Delete(kServices, ns, name).ok()) {
        recorder_.Event(job, "Normal", "SuccessfulDeleteService", "Deleted service: " + name);
      }
    }
  }
  if (all || policy == "All") {
    // Services whose Pods are already gone.
    std::set<std::string> pod_names;
    for (const ObjectPtr& pod : replicas.all) pod_names.insert(controllers::NameOf(*pod));
    for (const std::string& svc : replicas.services) {
      if (!pod_names.count(svc) && client_->Delete(kServices, ns, svc).ok()) {
        recorder_.Event(job, "Normal", "SuccessfulDeleteService", "Deleted service: " + svc);
      }
    }
  }
}

Status JobReconciler::WriteStatus(const Json& job, Json status) {
  Json old = job.value("status", Json::object());
  if (!old.is_object()) old = Json::object();
  Json a = old, b = status;
  a.erase("lastReconcileTime");
  b.erase("lastReconcileTime");
  if (a == b) return Status::Ok();
  status["lastReconcileTime"] = FormatRfc3339(clock_->Now());
  Json updated = job;
  updated["status"] = std::move(status);
  auto written = client_->UpdateStatus(kind_.resource, controllers::NamespaceOf(job), updated);
  return written.ok() ? Status::Ok() : written.status();
}

StatusOr<Result> JobReconciler::Reconcile(const Request& request) {
  const std::string key = controllers::ObjectKey(request.ns, request.name);
  ObjectPtr cached = jobs_->Get(request.ns, request.name);
  if (cached == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    memory_.erase(key);
    return Result{};
  }
  const Json& job = *cached;
  if (controllers::IsDeleting(job)) return Result{};
  Memory& memory = MemoryOf(key + "/" + controllers::UidOf(job));

  const auto now = clock_->Now();
  const std::string now_s = FormatRfc3339(now);
  Json status = job.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  if (status.value("conditions", Json::array()).empty()) {
    SetCondition(status, "Created", "True", kind_.kind + "Created",
                 Message(job, "is created.", false), now_s);
  }
  Replicas replicas = Observe(job, memory);
  {  // Forget deleted Pods once they have left the cache.
    std::set<std::string> live;
    for (const ObjectPtr& pod : pods_->List(request.ns)) live.insert(controllers::UidOf(*pod));
    for (auto it = memory.deleted.begin(); it != memory.deleted.end();) {
      it = live.count(*it) ? std::next(it) : memory.deleted.erase(it);
    }
  }
  Json& rstatuses = status["replicaStatuses"];
  if (!rstatuses.is_object()) rstatuses = Json::object();
  Result result;

  if (Finished(status)) {
    DeletePods(job, replicas, /*all=*/false);
    DeletePodGroup(job);
    if (controllers::ConditionIsTrue(status, "Succeeded")) {
      for (auto& [type, rs] : rstatuses.items()) {
        rs["succeeded"] = rs.value("succeeded", 0) + rs.value("active", 0);
        rs["active"] = 0;
      }
    }
    auto ttl = IntAt(job, "spec.runPolicy.ttlSecondsAfterFinished");
    std::chrono::system_clock::time_point done;
    if (ttl && ParseRfc3339(StringAt(status, "completionTime"), &done)) {
      const auto expiry = done + std::chrono::seconds(*ttl);
      if (now >= expiry) {
        auto deleted = client_->Delete(kind_.resource, request.ns, request.name,
                                       {.propagation_policy = "Background"});
        if (!deleted.ok() && deleted.status().code() != Code::kNotFound) return deleted.status();
        return Result{};
      }
      result.requeue_after = std::chrono::duration_cast<std::chrono::milliseconds>(expiry - now) +
                             std::chrono::milliseconds(10);
    }
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return result;
  }

  const Json* suspend = FindPath(job, "spec.runPolicy.suspend");
  if (suspend && suspend->is_boolean() && suspend->get<bool>()) {
    DeletePods(job, replicas, /*all=*/true);
    DeletePodGroup(job);
    for (auto& [type, rs] : rstatuses.items()) rs["active"] = 0;
    const std::string msg = Message(job, "is suspended.", false);
    if (controllers::ConditionIsTrue(status, "Running")) {
      SetCondition(status, "Running", "False", kind_.kind + "Suspended", msg, now_s);
    }
    if (!controllers::ConditionIsTrue(status, "Suspended")) {
      SetCondition(status, "Suspended", "True", kind_.kind + "Suspended", msg, now_s);
      recorder_.Event(job, "Normal", kind_.kind + "Suspended", msg);
    }
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return Result{};
  }
  if (controllers::ConditionIsTrue(status, "Suspended")) {
    const std::string msg = Message(job, "is resumed.", false);
    SetCondition(status, "Suspended", "False", kind_.kind + "Resumed", msg, now_s);
    status["startTime"] = now_s;
    recorder_.Event(job, "Normal", kind_.kind + "Resumed", msg);
  }
  if (!status.contains("startTime")) status["startTime"] = now_s;

  // Failing the job as a whole: past its deadline, or out of restarts.
  auto fail = [&](const std::string& reason, const std::string& msg) -> StatusOr<Result> {
    DeletePods(job, replicas, /*all=*/false);
    DeletePodGroup(job);
    if (!status.contains("completionTime")) status["completionTime"] = now_s;
    SetCondition(status, "Failed", "True", reason, msg, now_s);
    recorder_.Event(job, "Normal", reason, msg);
    if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
    return Result{};
  };
  std::chrono::system_clock::time_point started;
  if (auto deadline = IntAt(job, "spec.runPolicy.activeDeadlineSeconds");
      deadline && ParseRfc3339(StringAt(status, "startTime"), &started)) {
    const auto end = started + std::chrono::seconds(*deadline);
    if (now >= end) {
      return fail(
          "DeadlineExceeded",
          Message(job, "has failed because it was active longer than specified deadline", false));
    }
    result.requeue_after = std::chrono::duration_cast<std::chrono::milliseconds>(end - now) +
                           std::chrono::milliseconds(10);
  }
  const auto backoff_limit = IntAt(job, "spec.runPolicy.backoffLimit");
  const std::string backoff_msg =
      Message(job, "has failed because it has reached the specified backoff limit", false);
  if (backoff_limit) {
    // In-place restarts (OnFailure/Always) of live Pods count, as upstream's pastBackoffLimit.
    int64_t restarts = 0;
    for (const auto& [type, by_index] : replicas.pods) {
      const std::string policy = RestartPolicyOf(kind_, ReplicaSpecs(kind_, job)[type]);
      if (policy != "OnFailure" && policy != "Always") continue;
      for (const auto& [index, pod] : by_index) {
        const std::string phase = StringAt(*pod, "status.phase");
        if (phase != "Running" && phase != "Pending") continue;
        for (const char* list : {"status.initContainerStatuses", "status.containerStatuses"}) {
          const Json* statuses = FindPath(*pod, list);
          if (!statuses || !statuses->is_array()) continue;
          for (const Json& s : *statuses) restarts += s.value("restartCount", 0);
        }
      }
    }
    if (*backoff_limit == 0 ? restarts > 0 : restarts >= *backoff_limit) {
      return fail(kind_.kind + "Failed", backoff_msg);
    }
  }

  if (FindPath(job, "spec.runPolicy.schedulingPolicy") != nullptr &&
      FindPath(job, "spec.runPolicy.schedulingPolicy")->is_object()) {
    if (Status s = EnsurePodGroup(job); !s.ok()) return s;
  }

  // Pods of removed types or beyond the replica count go.
  for (const ObjectPtr& pod : replicas.extra) {
    if (client_->Delete(kPods, request.ns, controllers::NameOf(*pod)).ok()) {
      recorder_.Event(job, "Normal", "SuccessfulDeletePod",
                      "Deleted pod: " + controllers::NameOf(*pod));
    }
  }

  Status first_error;
  auto note = [&](Status s) {
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  };
  std::string restart_msg;
  bool out_of_retries = false;
  bool worker0_succeeded = false;
  for (const auto& [type, spec] : ReplicaSpecs(kind_, job).items()) {
    const int count = ReplicaCount(spec);
    const std::string policy = RestartPolicyOf(kind_, spec);
    int active = 0, succeeded = 0, failed = 0, restarted = 0;
    for (int i = 0; i < count; ++i) {
      if (!replicas.services.count(ReplicaName(request.name, type, i))) {
        note(CreateService(job, type, i));
      }
      if (replicas.leaving[type].count(i)) continue;
      auto found = replicas.pods[type].find(i);
      if (found == replicas.pods[type].end()) {
        note(CreatePod(job, type, i));
        continue;
      }
      const Json& pod = *found->second;
      const std::string pod_uid = controllers::UidOf(pod);
      const std::string phase = StringAt(pod, "status.phase");
      const int exit_code = ExitCode(kind_, pod);
      if ((phase == "Succeeded" || phase == "Failed") && exit_code != kUnknownExitCode &&
          memory.reported.insert(pod_uid + "/exit").second) {
        recorder_.Event(job, "Normal", "ExitedWithCode",
                        "Pod: " + request.ns + "." + controllers::NameOf(pod) +
                            " exited with code " + std::to_string(exit_code));
      }
      const bool retryable = phase == "Failed" && ((policy == "ExitCode" && exit_code >= 128) ||
                                                   policy == "OnFailure" || policy == "Always");
      if (retryable) {
        if (backoff_limit && memory.retries >= *backoff_limit) {
          out_of_retries = true;
          continue;
        }
        client::DeleteOptions now_opts;
        now_opts.grace_period_seconds = 0;
        auto deleted = client_->Delete(kPods, request.ns, controllers::NameOf(pod), now_opts);
        if (!deleted.ok() && deleted.status().code() != Code::kNotFound) {
          note(deleted.status());
          continue;
        }
        memory.deleted.insert(pod_uid);
        ++memory.retries;
        ++restarted;
        continue;
      }
      if (phase == "Running") ++active;
      if (phase == "Succeeded") {
        ++succeeded;
        if (i == 0 && Lower(type) == "worker") worker0_succeeded = true;
      }
      if (phase == "Failed") ++failed;
      if (phase == "Pending") {
        for (const Json& cs : pod["status"].value("containerStatuses", Json::array())) {
          const std::string reason = StringAt(cs, "state.waiting.reason");
          if (StuckReason(reason) && memory.reported.insert(pod_uid + "/" + reason).second) {
            recorder_.Event(job, "Warning", reason,
                            "Pod " + request.ns + "/" + controllers::NameOf(pod) + " container " +
                                cs.value("name", "") + ": " +
                                StringAt(cs, "state.waiting.message"));
          }
        }
      }
    }
    Json& rs = rstatuses[type];
    if (!rs.is_object()) rs = Json::object();
    rs["active"] = active;
    rs["succeeded"] = succeeded;
    rs["failed"] = failed;
    rs["selector"] = SelectorString(Labels(job, type, -1));
    if (restarted > 0) {
      restart_msg = Message(
          job,
          "is restarting because " + std::to_string(restarted) + " " + type + " replica(s) failed.",
          false);
      recorder_.Event(job, "Warning", kind_.kind + "Restarting", restart_msg);
    }
  }
  // Replica types no longer in the spec.
  for (auto it = rstatuses.begin(); it != rstatuses.end();) {
    if (!ReplicaSpecs(kind_, job).contains(it.key())) {
      it = rstatuses.erase(it);
    } else {
      ++it;
    }
  }
  if (out_of_retries) return fail(kind_.kind + "Failed", backoff_msg);

  // Conditions from the counts, as upstream's UpdateJobStatus.
  bool has_master = false;
  for (const auto& [type, spec] : ReplicaSpecs(kind_, job).items()) {
    has_master = has_master || kind_.IsMaster(type);
  }
  const bool all_workers = StringAt(job, "spec.successPolicy") == "AllWorkers";
  const std::string running_msg = Message(job, "is running.", true);
  const std::string success_msg = Message(job, "successfully completed.", true);
  auto succeed = [&] {
    if (controllers::ConditionIsTrue(status, "Succeeded")) return;
    if (!status.contains("completionTime")) status["completionTime"] = now_s;
    SetCondition(status, "Succeeded", "True", kind_.kind + "Succeeded", success_msg, now_s);
    recorder_.Event(job, "Normal", kind_.kind + "Succeeded", success_msg);
  };
  for (const auto& [type, spec] : ReplicaSpecs(kind_, job).items()) {
    const Json& rs = rstatuses[type];
    const int expected = ReplicaCount(spec) - rs.value("succeeded", 0);
    const int running = rs.value("active", 0);
    const int failed = rs.value("failed", 0);
    if (has_master) {
      if (kind_.IsMaster(type)) {
        if (running > 0) {
          SetCondition(status, "Running", "True", kind_.kind + "Running", running_msg, now_s);
        }
        if (expected == 0) succeed();
      }
    } else if (Lower(type) == "worker") {
      if (expected == 0 || (worker0_succeeded && !all_workers)) {
        succeed();
      } else if (running > 0) {
        SetCondition(status, "Running", "True", kind_.kind + "Running", running_msg, now_s);
      }
    }
    if (failed > 0 && !Finished(status)) {
      const std::string msg = kind_.kind == "TFJob"
                                  ? Message(job,
                                            "has failed because " + std::to_string(failed) + " " +
                                                type + " replica(s) failed.",
                                            true)
                                  : Message(job,
                                            "is failed because " + std::to_string(failed) + " " +
                                                type + " replica(s) failed.",
                                            false);
      if (!status.contains("completionTime")) status["completionTime"] = now_s;
      SetCondition(status, "Failed", "True", kind_.kind + "Failed", msg, now_s);
      recorder_.Event(job, "Normal", kind_.kind + "Failed", msg);
    }
  }
  if (!restart_msg.empty() && !Finished(status)) {
    SetCondition(status, "Restarting", "True", kind_.kind + "Restarting", restart_msg, now_s);
  }
  if (Status s = WriteStatus(job, status); !s.ok()) return Retry(s);
  if (!first_error.ok()) return first_error;
  return result;
}

}  // namespace skiff::training

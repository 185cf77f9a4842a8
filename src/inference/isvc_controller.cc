// The InferenceService reconcile: plan each component, keep its revisions, split traffic, size the
// revisions' Pods, publish routes, report KServe's status.
#include "inference/isvc_controller.h"

#include <algorithm>

#include "common/log.h"
#include "controllers/object_meta.h"
#include "inference/builtin_runtimes.h"
#include "inference/runtime_match.h"
#include "registry/model_uri.h"
#include "registry/registry.h"

namespace skiff::inference {

using controllers::ObjectPtr;
using controllers::Request;
using controllers::Result;

namespace {

constexpr char kTemplateKey[] = "podTemplate";

std::string Capitalized(const std::string& s) {
  std::string out = s;
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

bool PodReady(const Json& pod) {
  if (controllers::IsDeleting(pod)) return false;
  if (StringAt(pod, "status.phase") != "Running" || StringAt(pod, "status.podIP").empty()) {
    return false;
  }
  return controllers::ConditionIsTrue(pod.value("status", Json::object()), "Ready");
}

// Why a Pod of a revision does not come up, when it will not by itself soon: ("", "") if not.
std::pair<std::string, std::string> PodProblem(const Json& pod, int* exit_code) {
  const Json pod_status = pod.value("status", Json::object());
  const Json* cond = controllers::FindCondition(pod_status, "PodScheduled");
  if (cond && cond->value("status", "") == "False") {
    return {"Unschedulable", "Pod " + controllers::NameOf(pod) + ": " + cond->value("message", "")};
  }
  const Json* statuses = FindPath(pod, "status.containerStatuses");
  if (!statuses || !statuses->is_array()) return {};
  for (const Json& cs : *statuses) {
    const std::string reason = StringAt(cs, "state.waiting.reason");
    const std::string waiting_msg = StringAt(cs, "state.waiting.message");
    const Json* last = FindPath(cs, "lastState.terminated");
    if (last && last->is_object() && exit_code) *exit_code = last->value("exitCode", 0);
    if (reason == "CrashLoopBackOff" || reason == "ErrImagePull" || reason == "ImagePullBackOff" ||
        reason == "CreateContainerConfigError" || reason == "CreateContainerError" ||
        reason == "InvalidImageName") {
      std::string msg =
          "Pod " + controllers::NameOf(pod) + " container " + cs.value("name", "") + ": " + reason;
      if (!waiting_msg.empty()) msg += ": " + waiting_msg;
      if (last && last->is_object()) {
        msg += " (last exit code " + std::to_string(last->value("exitCode", 0));
        if (!last->value("message", "").empty()) msg += ": " + last->value("message", "");
        msg += ")";
      }
      return {reason, msg};
    }
    const Json* term = FindPath(cs, "state.terminated");
    if (term && term->is_object() && term->value("exitCode", 0) != 0) {
      if (exit_code) *exit_code = term->value("exitCode", 0);
      return {"ModelLoadFailed", "Pod " + controllers::NameOf(pod) + " container " +
                                     cs.value("name", "") + " exited with code " +
                                     std::to_string(term->value("exitCode", 0))};
    }
  }
  const std::string reason = StringAt(pod, "status.reason");
  if (!reason.empty() && StringAt(pod, "status.phase") == "Failed") {
    return {reason, "Pod " + controllers::NameOf(pod) + ": " + StringAt(pod, "status.message")};
  }
  return {};
}

int ReplicaIndex(const Json& pod) {
  try {
    return std::stoi(controllers::LabelOf(pod, kReplicaLabel));
  } catch (...) {
    return -1;
  }
}

// Knative's condition handling: lastTransitionTime changes only when the status does.
class Conditions {
 public:
  Conditions(const Json& old, std::string now) : now_(std::move(now)) {
    for (const Json& c : old.value("conditions", Json::array())) {
      if (c.is_object()) old_[c.value("type", "")] = c;
    }
  }
  void Set(const std::string& type, const std::string& status, const std::string& reason = "",
           const std::string& message = "") {
    Json c = {{"type", type}, {"status", status}};
    if (!reason.empty()) c["reason"] = reason;
    if (!message.empty()) c["message"] = message;
    auto old = old_.find(type);
    c["lastTransitionTime"] = old != old_.end() && old->second.value("status", "") == status
                                  ? old->second.value("lastTransitionTime", now_)
                                  : now_;
    set_[type] = c;
  }
  std::string StatusOf(const std::string& type) const {
    auto it = set_.find(type);
    return it == set_.end() ? "" : it->second.value("status", "");
  }
  Json ToJson() const {
    Json out = Json::array();
    for (const auto& [type, c] : set_) out.push_back(c);  // sorted by type, as Knative's
    return out;
  }

 private:
  std::string now_;
  std::map<std::string, Json> old_, set_;
};

}  // namespace

InferenceServiceReconciler::InferenceServiceReconciler(controllers::Manager* mgr,
                                                       client::Client* client, RoutingTable* table,
                                                       Autoscaler* autoscaler,
                                                       InferenceControllerOptions options,
                                                       Clock* clock)
    : mgr_(mgr),
      client_(client),
      table_(table),
      autoscaler_(autoscaler),
      options_(std::move(options)),
      clock_(clock),
      recorder_(client, "inferenceservice-controller", "", clock),
      isvcs_(mgr->GetInformer(kInferenceServices)),
      pods_(mgr->GetInformer(kPods)),
      configmaps_(mgr->GetInformer(kConfigMaps)),
      runtimes_(mgr->GetInformer(kServingRuntimes)),
      cluster_runtimes_(mgr->GetInformer(kClusterServingRuntimes)) {}

Json InferenceServiceReconciler::OwnerRef(const Json& isvc) const {
  return {{"apiVersion", "serving.kserve.io/v1beta1"},
          {"kind", "InferenceService"},
          {"name", controllers::NameOf(isvc)},
          {"uid", controllers::UidOf(isvc)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

Status InferenceServiceReconciler::EnsureRevision(const Json& isvc, const std::string& component,
                                                  const std::string& revision,
                                                  const ComponentPlan& plan) {
  const Json& pod_template = plan.pod_template;
  const std::string ns = controllers::NamespaceOf(isvc);
  const std::string name = controllers::NameOf(isvc);
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata",
              {{"name", revision},
               {"namespace", ns},
               {"labels",
                {{kIsvcLabel, name},
                 {kComponentLabel, component},
                 {kRevisionLabel, revision},
                 {kConfigurationLabel, name + "-" + component}}},
               {"ownerReferences", Json::array({OwnerRef(isvc)})}}},
             {"immutable", true},
             {"data", {{kTemplateKey, pod_template.dump()}}}};
  auto created = client_->Create(kConfigMaps, ns, cm);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  if (created.ok()) {
    recorder_.Event(isvc, "Normal", "RevisionCreated",
                    "Created revision " + revision + " of the " + component);
    if (!plan.model.empty()) {
      recorder_.Event(isvc, "Normal", "ModelResolved",
                      Capitalized(component) + " revision " + revision + " serves version " +
                          plan.model_version + " of registered model " + plan.model + " (" +
                          plan.resolved_uri + ")");
    }
  }
  return Status::Ok();
}

void InferenceServiceReconciler::DeleteRevision(const std::string& ns, const std::string& revision,
                                                const std::vector<ObjectPtr>& pods) {
  for (const ObjectPtr& pod : pods) client_->Delete(kPods, ns, controllers::NameOf(*pod));
  auto deleted = client_->Delete(kConfigMaps, ns, revision);
  if (!deleted.ok() && deleted.status().code() != Code::kNotFound) {
    SKIFF_LOG(Warn) << "deleting revision " << ns << "/" << revision << ": "
                    << deleted.status().message();
  }
}

Status InferenceServiceReconciler::EnsurePods(const Json& isvc, const std::string& revision,
                                              const Json& pod_template,
                                              const std::vector<ObjectPtr>& pods, int desired) {
  const std::string ns = controllers::NamespaceOf(isvc);
  std::set<int> taken;
  Status first;
  for (const ObjectPtr& pod : pods) {
    const int index = ReplicaIndex(*pod);
    const std::string phase = StringAt(*pod, "status.phase");
    const bool deleting = controllers::IsDeleting(*pod);
    if (index >= 0) taken.insert(index);
    if (deleting) continue;
    // Out of range, or ended (a model server should run forever): delete; the slot is refilled.
    if (index < 0 || index >= desired || phase == "Failed" || phase == "Succeeded") {
      auto d = client_->Delete(kPods, ns, controllers::NameOf(*pod));
      if (d.ok() && index >= desired) {
        recorder_.Event(isvc, "Normal", "ScaledDown",
                        "Deleted pod " + controllers::NameOf(*pod) + " of revision " + revision);
      }
    }
  }
  for (int i = 0; i < desired; ++i) {
    if (taken.count(i)) continue;
    const std::string name = revision + "-" + std::to_string(i);
    Json meta = pod_template.value("metadata", Json::object());
    meta["name"] = name;
    meta["namespace"] = ns;
    meta["labels"][kReplicaLabel] = std::to_string(i);
    meta["ownerReferences"] = Json::array({OwnerRef(isvc)});
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", meta},
                {"spec", pod_template.value("spec", Json::object())}};
    auto created = client_->Create(kPods, ns, pod);
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) {
      recorder_.Event(isvc, "Warning", "FailedCreatePod",
                      "Error creating pod " + name + ": " + created.status().message());
      if (first.ok()) first = created.status();
      continue;
    }
    if (created.ok()) {
      recorder_.Event(isvc, "Normal", "SuccessfulCreatePod",
                      "Created pod " + name + " of revision " + revision);
    }
  }
  return first;
}

Status InferenceServiceReconciler::WriteStatus(const Json& isvc, const Json& status) {
  if (isvc.value("status", Json::object()) == status) return Status::Ok();
  Json updated = isvc;
  updated["status"] = status;
  auto written = client_->UpdateStatus(kInferenceServices, controllers::NamespaceOf(isvc), updated);
  return written.ok() ? Status::Ok() : written.status();
}

void InferenceServiceReconciler::ForgetKeys(const std::string& isvc_key,
                                            const std::set<std::string>& keep) {
  std::set<std::string> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::set<std::string>& known = autoscaled_[isvc_key];
    for (const std::string& k : known) {
      if (!keep.count(k)) gone.insert(k);
    }
    known = keep;
    if (known.empty()) autoscaled_.erase(isvc_key);
  }
  if (autoscaler_) {
    for (const std::string& k : gone) autoscaler_->Forget(k);
  }
}

StatusOr<Result> InferenceServiceReconciler::Reconcile(const Request& request) {
  const std::string isvc_key = request.ns + "/" + request.name;
  ObjectPtr cached = isvcs_->Get(request.ns, request.name);
  if (cached == nullptr || controllers::IsDeleting(*cached)) {
    table_->Remove(request.ns, request.name);
    ForgetKeys(isvc_key, {});
    return Result{};  // Pods and revision ConfigMaps go with their owner (garbage collector)
  }
  const Json& isvc = *cached;
  const std::string ns = request.ns, name = request.name;
  const std::string uid = controllers::UidOf(isvc);
  const Json old = isvc.value("status", Json::object()).is_object()
                       ? isvc.value("status", Json::object())
                       : Json::object();
  const std::string now = FormatRfc3339(clock_->Now());
  const std::string& domain = table_->domain();

  PlanContext ctx;
  ctx.data_dir = options_.data_dir;
  ctx.client = client_;
  ctx.gateway_host = options_.gateway_url.substr(
      options_.gateway_url.find("://") == std::string::npos ? 0
                                                            : options_.gateway_url.find("://") + 3);
  for (const ObjectPtr& rt : runtimes_->List(ns)) {
    ctx.namespaced.push_back({controllers::NameOf(*rt), false, rt->value("spec", Json::object()),
                              controllers::MetaString(*rt, "creationTimestamp")});
  }
  for (const ObjectPtr& rt : cluster_runtimes_->List()) {
    ctx.cluster.push_back({controllers::NameOf(*rt), true, rt->value("spec", Json::object()),
                           controllers::MetaString(*rt, "creationTimestamp")});
  }

  std::map<std::string, std::vector<ObjectPtr>> pods_by_rev;
  for (const ObjectPtr& pod : pods_->List(ns)) {
    if (controllers::LabelOf(*pod, kIsvcLabel) != name || !controllers::IsControlledBy(*pod, uid)) {
      continue;
    }
    pods_by_rev[controllers::LabelOf(*pod, kRevisionLabel)].push_back(pod);
  }
  // Revision templates by component, from the revision ConfigMaps.
  std::map<std::string, std::map<std::string, Json>> templates;
  for (const ObjectPtr& cm : configmaps_->List(ns)) {
    if (controllers::LabelOf(*cm, kIsvcLabel) != name || !controllers::IsControlledBy(*cm, uid)) {
      continue;
    }
    auto parsed = ParseJson(StringAt(*cm, std::string("data.") + kTemplateKey));
    if (!parsed.ok()) continue;
    templates[controllers::LabelOf(*cm, kComponentLabel)][controllers::NameOf(*cm)] = *parsed;
  }

  Json status = Json::object();
  if (const Json* gen = FindPath(isvc, "metadata.generation")) status["observedGeneration"] = *gen;
  status["url"] = "http://" + name + "." + ns + "." + domain;
  status["address"] = {{"url", options_.gateway_url + "/serving/" + ns + "/" + name}};
  status["deploymentMode"] = "Serverless";
  Conditions conditions(old, now);
  ServiceRoute route;
  route.ns = ns;
  route.name = name;
  std::set<std::string> live_keys;
  Status first_error;
  auto note = [&](Status s) {
    if (!s.ok() && first_error.ok()) first_error = std::move(s);
  };
  bool routable = false;

  for (const std::string& component : ComponentsOf(isvc)) {
    const ComponentPlan plan = PlanComponent(isvc, component, ctx);
    const std::string cond_type = Capitalized(component) + "Ready";
    Json old_cs = FindPath(old, "components." + component)
                      ? *FindPath(old, "components." + component)
                      : Json::object();
    if (!old_cs.is_object()) old_cs = Json::object();
    auto& revs = templates[component];
    auto known = [&](const std::string& r) { return !r.empty() && revs.count(r) > 0; };

    std::string latest_created = old_cs.value("latestCreatedRevision", "");
    if (plan.ok) {
      latest_created = RevisionName(name, component, plan.hash);
      if (!revs.count(latest_created)) {
        note(EnsureRevision(isvc, component, latest_created, plan));
        revs[latest_created] = plan.pod_template;
      }
    } else {
      recorder_.Event(isvc, "Warning", plan.reason, Capitalized(component) + ": " + plan.message);
      if (!known(latest_created)) latest_created.clear();
    }
    auto ready_pods = [&](const std::string& r) {
      int n = 0;
      for (const ObjectPtr& p : pods_by_rev[r]) n += PodReady(*p) ? 1 : 0;
      return n;
    };
    std::string latest_ready = old_cs.value("latestReadyRevision", "");
    if (!known(latest_ready)) latest_ready.clear();
    if (!latest_created.empty() && ready_pods(latest_created) > 0) latest_ready = latest_created;
    std::string rolled = old_cs.value("latestRolledoutRevision", "");
    std::string prev = old_cs.value("previousRolledoutRevision", "");
    if (!known(rolled)) rolled.clear();
    if (!known(prev)) prev.clear();

    // Traffic, as KServe configures Knative: with canaryTrafficPercent p, the latest ready
    // revision gets p% and the last fully rolled-out one the rest; otherwise the latest ready
    // revision gets everything and becomes the rolled-out one.
    Json traffic = Json::array();
    std::map<std::string, int> share;
    // Rolling back a promoted revision (canaryTrafficPercent set again on an unchanged spec):
    // the previous rolled-out revision takes the remaining traffic, as KServe's status logic
    // moves latestRolledoutRevision back to previousRolledoutRevision.
    if (plan.canary_percent && *plan.canary_percent < 100 && !latest_ready.empty() &&
        rolled == latest_ready && latest_ready == latest_created && !prev.empty() &&
        prev != rolled) {
      rolled = prev;
    }
    if (!latest_ready.empty()) {
      if (plan.canary_percent && *plan.canary_percent < 100 && !rolled.empty() &&
          rolled != latest_ready) {
        const int p = *plan.canary_percent;
        traffic.push_back({{"tag", "latest"},
                           {"revisionName", latest_ready},
                           {"latestRevision", true},
                           {"percent", p}});
        traffic.push_back({{"tag", "prev"},
                           {"revisionName", rolled},
                           {"latestRevision", false},
                           {"percent", 100 - p}});
        share[latest_ready] += p;
        share[rolled] += 100 - p;
      } else {
        if (rolled != latest_ready) {
          if (!rolled.empty()) prev = rolled;
          rolled = latest_ready;
          recorder_.Event(isvc, "Normal", "RolledOut",
                          "Revision " + latest_ready + " of the " + component +
                              " receives 100% of the traffic");
        }
        traffic.push_back({{"tag", "latest"},
                           {"revisionName", latest_ready},
                           {"latestRevision", true},
                           {"percent", 100}});
        share[latest_ready] = 100;
      }
    }

    // Replicas per revision.
    ComponentRoute croute;
    croute.component = component;
    croute.timeout = plan.timeout;
    int latest_desired = 0;
    for (const auto& [rev, tmpl] : revs) {
      const std::string key = ns + "/" + rev;
      const auto& pods = pods_by_rev[rev];
      int live = 0;
      for (const ObjectPtr& p : pods) live += controllers::IsDeleting(*p) ? 0 : 1;
      const int ready = ready_pods(rev);
      int desired = 0;
      const int routed = share.count(rev) ? share[rev] : 0;
      if (routed > 0) {
        if (autoscaler_) {
          autoscaler_->Configure(key, plan.scale, ready, live, [this, ns, name] {
            if (auto* c = controller_.load()) c->Enqueue({ns, name});
          });
          desired = autoscaler_->Desired(key).value_or(1);
          live_keys.insert(key);
        } else {
          desired = std::max(plan.scale.min_replicas, 1);
        }
      } else if (rev == latest_created && plan.ok && rev != latest_ready) {
        // A new revision starts with one replica (Knative's initial scale) to prove it is ready.
        desired = std::max(plan.scale.min_replicas, 1);
        if (plan.scale.max_replicas > 0) desired = std::min(desired, plan.scale.max_replicas);
      }
      if (rev == latest_created) latest_desired = desired;
      if (desired == 0 && routed == 0 && rev != latest_created && rev != latest_ready &&
          rev != rolled && rev != prev) {
        DeleteRevision(ns, rev, pods);
        continue;
      }
      note(EnsurePods(isvc, rev, tmpl, pods, desired));
      if (routed > 0) {
        RevisionRoute rr;
        rr.name = rev;
        rr.key = key;
        rr.percent = routed;
        rr.stats = autoscaler_ ? autoscaler_->Stats(key) : nullptr;
        int port = 8080;
        const Json* ports = FindPath(tmpl, "spec.containers");
        if (ports && ports->is_array() && !ports->empty()) {
          for (const Json& p : (*ports)[0].value("ports", Json::array())) {
            if (p.contains("containerPort") && p["containerPort"].is_number_integer()) {
              port = p["containerPort"].get<int>();
              break;
            }
          }
        }
        for (const ObjectPtr& p : pods) {
          if (PodReady(*p)) {
            rr.backends.push_back({StringAt(*p, "status.podIP"), static_cast<uint16_t>(port),
                                   controllers::NameOf(*p)});
          }
        }
        croute.revisions.push_back(std::move(rr));
      }
    }
    std::sort(croute.revisions.begin(), croute.revisions.end(),
              [](const RevisionRoute& a, const RevisionRoute& b) { return a.name < b.name; });
    route.signature += component + ":" + std::to_string(plan.timeout.count()) + "[";
    for (const RevisionRoute& rr : croute.revisions) {
      route.signature += rr.name + "=" + std::to_string(rr.percent) + "(";
      for (const Backend& b : rr.backends)
        route.signature += b.ip + ":" + std::to_string(b.port) + ",";
      route.signature += ")";
    }
    route.signature += "]";
    if (!croute.revisions.empty()) routable = routable || component == "predictor";
    if (component == "predictor") route.predictor = croute;
    if (component == "transformer") route.transformer = croute;
    if (component == "explainer") route.explainer = croute;

    Json cs = Json::object();
    if (!latest_created.empty()) cs["latestCreatedRevision"] = latest_created;
    if (!latest_ready.empty()) cs["latestReadyRevision"] = latest_ready;
    if (!rolled.empty()) cs["latestRolledoutRevision"] = rolled;
    if (!prev.empty()) cs["previousRolledoutRevision"] = prev;
    if (!traffic.empty()) cs["traffic"] = traffic;
    cs["url"] = "http://" + name + "-" + component + "." + ns + "." + domain;
    cs["address"] = {
        {"url", options_.gateway_url + "/serving/" + ns + "/" + name + "-" + component}};
    status["components"][component] = cs;

    // The component's readiness, and the model's status (predictor).
    const int latest_ready_pods = latest_created.empty() ? 0 : ready_pods(latest_created);
    std::pair<std::string, std::string> problem;
    int exit_code = 0;
    std::string problem_pod;
    int failing = 0;
    if (!latest_created.empty()) {
      for (const ObjectPtr& p : pods_by_rev[latest_created]) {
        auto pr = PodProblem(*p, &exit_code);
        if (!pr.first.empty()) {
          ++failing;
          if (problem.first.empty()) {
            problem = pr;
            problem_pod = controllers::NameOf(*p);
          }
        }
      }
    }
    const bool scaled_to_zero = latest_ready == latest_created && latest_desired == 0;
    if (!plan.ok) {
      conditions.Set(cond_type, "False", plan.reason, plan.message);
    } else if (latest_ready == latest_created && (latest_ready_pods > 0 || scaled_to_zero)) {
      conditions.Set(cond_type, "True");
    } else if (!problem.first.empty()) {
      conditions.Set(cond_type, "False", problem.first, problem.second);
    } else {
      conditions.Set(cond_type, "Unknown", "RevisionNotReady",
                     "Revision " + latest_created + " has " + std::to_string(latest_ready_pods) +
                         " ready of " + std::to_string(std::max(1, latest_desired)) +
                         " replicas; waiting for its model server to be ready");
    }
    if (component == "predictor") {
      Json ms = Json::object();
      Json states = Json::object();
      if (!plan.ok) {
        ms["transitionStatus"] = "InvalidSpec";
        states["targetModelState"] = "FailedToLoad";
        ms["lastFailureInfo"] = {{"reason", plan.failure_reason}, {"message", plan.message}};
      } else if (latest_ready == latest_created && (latest_ready_pods > 0 || scaled_to_zero)) {
        ms["transitionStatus"] = "UpToDate";
        states["targetModelState"] = "Loaded";
      } else if (!problem.first.empty()) {
        ms["transitionStatus"] = "BlockedByFailedLoad";
        states["targetModelState"] = "FailedToLoad";
        Json info = {{"reason", "ModelLoadFailed"},
                     {"message", problem.second},
                     {"location", problem_pod},
                     {"modelRevisionName", latest_created}};
        if (exit_code != 0) info["exitCode"] = exit_code;
        ms["lastFailureInfo"] = info;
      } else if (pods_by_rev[latest_created].empty()) {
        ms["transitionStatus"] = "InProgress";
        states["targetModelState"] = "Pending";
      } else {
        ms["transitionStatus"] = "InProgress";
        states["targetModelState"] = "Loading";
      }
      states["activeModelState"] =
          !latest_ready.empty() ? "Loaded" : states["targetModelState"].get<std::string>();
      ms["states"] = states;
      ms["copies"] = {{"failedCopies", failing}, {"totalCopies", latest_ready_pods}};
      // A skiff extension: the registry version a models:/ or model-registry:// URI names now.
      if (plan.ok && !plan.model.empty()) {
        ms["modelRegistry"] = {{"registeredModelName", plan.model},
                               {"modelVersionName", plan.model_version},
                               {"storageUri", plan.resolved_uri}};
      }
      status["modelStatus"] = ms;
      if (plan.ok && !plan.runtime.empty()) {
        status[plan.cluster_runtime ? "clusterServingRuntimeName" : "servingRuntimeName"] =
            plan.runtime;
      }
    }
  }

  table_->Publish(std::move(route));
  ForgetKeys(isvc_key, live_keys);

  if (routable) {
    conditions.Set("IngressReady", "True");
  } else {
    conditions.Set("IngressReady", "Unknown", "NoReadyRevision",
                   "the gateway routes the service once a revision of its predictor is ready");
  }
  // Ready: every component and the ingress (Knative's living condition set).
  std::string ready = "True", reason, message;
  for (const std::string& component : ComponentsOf(isvc)) {
    const std::string type = Capitalized(component) + "Ready";
    const std::string s = conditions.StatusOf(type);
    if (s == "False") {
      ready = "False";
      reason = type;
      message = type + " is False";
    } else if (s != "True" && ready == "True") {
      ready = "Unknown";
      reason = type;
      message = type + " is not yet True";
    }
  }
  if (ready == "True" && conditions.StatusOf("IngressReady") != "True") {
    ready = "Unknown";
    reason = "IngressReady";
  }
  conditions.Set("Ready", ready, reason, message);
  status["conditions"] = conditions.ToJson();

  if (Status s = WriteStatus(isvc, status); !s.ok()) {
    if (s.code() == Code::kConflict) return Result{.requeue = true};
    return s;
  }
  if (!first_error.ok()) return first_error;
  return Result{};
}

StatusOr<controllers::Controller*> StartInferenceController(controllers::Manager& mgr,
                                                            client::Client* client,
                                                            RoutingTable* table,
                                                            Autoscaler* autoscaler,
                                                            InferenceControllerOptions options) {
  auto reconciler = std::make_unique<InferenceServiceReconciler>(&mgr, client, table, autoscaler,
                                                                 std::move(options));
  InferenceServiceReconciler* r = reconciler.get();
  controllers::Informer* isvcs = mgr.GetInformer(kInferenceServices);
  // The InferenceServices of a namespace whose storageUri names registered model `model`.
  auto following = [isvcs](const std::string& ns, const std::string& model) {
    std::vector<Request> out;
    if (model.empty()) return out;
    for (const ObjectPtr& o : isvcs->List(ns)) {
      for (const std::string& component : ComponentsOf(*o)) {
        const Json* c = FindPath(*o, "spec." + component);
        const auto spec = c ? ModelOf(*c) : std::nullopt;
        if (spec && registry::ModelOfUri(spec->storage_uri) == model) {
          out.push_back({controllers::NamespaceOf(*o), controllers::NameOf(*o)});
          break;
        }
      }
    }
    return out;
  };
  auto all_in = [isvcs](const std::string& ns) {
    std::vector<Request> out;
    for (const ObjectPtr& o : isvcs->List(ns)) {
      out.push_back({controllers::NamespaceOf(*o), controllers::NameOf(*o)});
    }
    return out;
  };
  controllers::Controller* c =
      mgr.NewController("inferenceservice")
          .For(kInferenceServices)
          .Owns(kPods)
          .Watches(kServingRuntimes,
                   [all_in](const Json& rt) { return all_in(controllers::NamespaceOf(rt)); })
          .Watches(kClusterServingRuntimes, [all_in](const Json&) { return all_in(""); })
          // Moving an alias, adding or archiving a version re-resolves the services following
          // the model (a new revision when the artifact they resolve to changes).
          .Watches(registry::ResourceOf(registry::Kind::kRegisteredModel),
                   [following](const Json& m) {
                     std::string model = StringAt(m, "spec.name");
                     if (model.empty()) model = controllers::NameOf(m);
                     return following(controllers::NamespaceOf(m), model);
                   })
          .Watches(registry::ResourceOf(registry::Kind::kModelVersion),
                   [following](const Json& v) {
                     return following(controllers::NamespaceOf(v),
                                      StringAt(v, "spec.registeredModelName"));
                   })
          .Watches(registry::ResourceOf(registry::Kind::kModelArtifact),
                   [following](const Json& a) {
                     return following(controllers::NamespaceOf(a),
                                      StringAt(a, "spec.registeredModelName"));
                   })
          .WithWorkers(2)
          .Complete(std::move(reconciler));
  r->set_controller(c);
  return c;
}

}  // namespace skiff::inference

// KFP's RunService over PipelineRun objects. Creating a run writes a PipelineRun for the engine to
// pick up; terminate, retry and archive change its spec (terminate, retryCount, storageState);
// everything a run shows is rendered from the object's status.
#include "pipelines/kfp_rest_internal.h"
#include "pipelines/recurring_run_controller.h"

namespace skiff::pipelines::kfp {
namespace {

bool IsFinal(const std::string& state) {
  return state == "SUCCEEDED" || state == "SKIPPED" || state == "FAILED" || state == "CANCELED";
}

std::string RunState(const Json& run) {
  std::string state = StringAt(run, "status.state");
  if (state.empty()) state = "PENDING";
  // KFP reports CANCELING from the moment a run is terminated; the engine may not have looked yet.
  const Json* terminate = FindPath(run, "spec.terminate");
  if (terminate && terminate->is_boolean() && terminate->get<bool>() && !IsFinal(state)) {
    state = "CANCELING";
  }
  return state;
}

Json RpcStatus(const std::string& message) {
  // gRPC UNKNOWN: the engine's message says what went wrong.
  return {{"code", 2}, {"message", message}, {"details", Json::array()}};
}

Json RenderTasks(const Json& run) {
  const Json* tasks = FindPath(run, "status.tasks");
  Json out = Json::array();
  if (!tasks || !tasks->is_array()) return out;
  const std::string run_id = MetaString(run, "uid");
  auto parent_of = [](const Json& t) {
    std::string p = StringAt(t, "parentTask");
    return p.empty() ? StringAt(t, "parent") : p;
  };
  for (const Json& t : *tasks) {
    if (!t.is_object()) continue;
    const std::string name = StringAt(t, "name");
    const std::string display = StringAt(t, "displayName");
    const std::string pod = StringAt(t, "podName");
    std::string state = StringAt(t, "state");
    // KFP has no CACHED runtime state: a task whose outputs were reused is SKIPPED there.
    if (state == "CACHED") state = "SKIPPED";
    Json detail = {{"run_id", run_id},
                   {"task_id", name},
                   {"display_name", display.empty() ? name : display},
                   {"state", state.empty() ? "PENDING" : state},
                   {"pod_name", pod},
                   {"parent_task_id", parent_of(t)}};
    for (const auto& [from, to] :
         {std::pair{"startTime", "create_time"}, std::pair{"startTime", "start_time"},
          std::pair{"endTime", "end_time"}}) {
      if (std::string v = StringAt(t, from); !v.empty()) detail[to] = v;
    }
    if (!pod.empty()) detail["executor_detail"] = {{"main_job", pod}};
    if (std::string message = StringAt(t, "message");
        !message.empty() && (state == "FAILED" || state == "CANCELED")) {
      detail["error"] = RpcStatus(message);
    }
    Json children = Json::array();
    for (const Json& c : *tasks) {
      if (!c.is_object() || parent_of(c) != name || name.empty()) continue;
      std::string child_pod = StringAt(c, "podName");
      children.push_back(child_pod.empty() ? Json{{"task_id", StringAt(c, "name")}}
                                           : Json{{"pod_name", child_pod}});
    }
    if (!children.empty()) detail["child_tasks"] = std::move(children);
    out.push_back(std::move(detail));
  }
  return out;
}

Json RenderRun(const Json& run, Lookup& lookup) {
  const std::string ns = MetaString(run, "namespace");
  const Json& spec = run.contains("spec") ? run["spec"] : Json::object();
  const std::string created = MetaString(run, "creationTimestamp");
  // Runs of a recurring run are due at their schedule time, which may precede their creation.
  std::string scheduled = Annotation(run, kScheduledTimeAnnotation);
  if (scheduled.empty()) scheduled = created;
  const std::string state = RunState(run);
  std::string display = Annotation(run, kDisplayNameAnnotation);
  std::string storage = SpecString(run, "storageState");
  std::string experiment = SpecString(run, "experiment");
  Json out = {{"run_id", MetaString(run, "uid")},
              {"display_name", display.empty() ? MetaString(run, "name") : display},
              {"description", Annotation(run, kDescriptionAnnotation)},
              {"experiment_id", lookup.Uid(kExperiments, ns, experiment)},
              {"storage_state", storage.empty() ? "AVAILABLE" : storage},
              {"runtime_config", RenderRuntimeConfig(spec)},
              {"service_account", StringAt(spec, "serviceAccountName")},
              {"created_at", created},
              {"scheduled_at", scheduled},
              {"state", state},
              {"run_details", {{"task_details", RenderTasks(run)}}}};
  RenderPipelineSource(run, lookup, &out);
  const std::string started = StringAt(run, "status.startTime");
  const std::string finished = StringAt(run, "status.completionTime");
  if (!finished.empty()) out["finished_at"] = finished;
  if (std::string message = StringAt(run, "status.message");
      !message.empty() && (state == "FAILED" || state == "CANCELED")) {
    out["error"] = RpcStatus(message);
  }
  if (std::string rr = SpecString(run, "recurringRunRef.name"); !rr.empty()) {
    out["recurring_run_id"] = lookup.Uid(kRecurringRuns, ns, rr);
  }
  // What the object can tell of the run's history: created, started, finished.
  Json history = Json::array({{{"update_time", created}, {"state", "PENDING"}}});
  if (!started.empty()) history.push_back({{"update_time", started}, {"state", "RUNNING"}});
  if (!finished.empty() && IsFinal(state)) {
    history.push_back({{"update_time", finished}, {"state", state}});
  }
  out["state_history"] = std::move(history);
  return out;
}

// The experiment a request names (experiment_id in the body or query), or null.
StatusOr<Json> RequestedExperiment(Call& call, const Json& body) {
  std::string id = StringField(body, "experiment_id");
  if (id.empty()) id = call.request.Query("experiment_id");
  if (id.empty()) return Json();
  return FindByUid(call.client, kExperiments, id, "experiment");
}

http::Response Create(Call& call) {
  auto body = call.Body();
  if (!body.ok()) return ErrorResponse(body.status());
  auto experiment = RequestedExperiment(call, *body);
  if (!experiment.ok()) return ErrorResponse(experiment.status());
  std::string ns = call.ExplicitNamespace(*body);
  Json spec = Json::object();
  if (!experiment->is_null()) {
    if (SpecString(*experiment, "storageState") == "ARCHIVED") {
      return ErrorResponse(FailedPrecondition("experiment " + MetaString(*experiment, "name") +
                                              " is archived; unarchive it to add runs"));
    }
    ns = MetaString(*experiment, "namespace");
    spec["experiment"] = MetaString(*experiment, "name");
  }
  if (Status s = SetPipelineSource(call, *body, &ns, &spec); !s.ok()) return ErrorResponse(s);
  if (Status s = SetRuntimeConfig(*body, &spec); !s.ok()) return ErrorResponse(s);
  if (std::string sa = StringField(*body, "service_account"); !sa.empty()) {
    spec["serviceAccountName"] = sa;
  }
  Json metadata = GeneratedMetadata(*body, ns, "run");
  Json obj = {{"apiVersion", kApiVersion},
              {"kind", "PipelineRun"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
  auto created = call.client.Create(kPipelineRuns, ns, obj);
  if (!created.ok()) return ErrorResponse(created.status());
  Lookup lookup(&call.client);
  return JsonResponse(RenderRun(*created, lookup));
}

http::Response List(Call& call) {
  auto experiment = RequestedExperiment(call, Json::object());
  if (!experiment.ok()) return ErrorResponse(experiment.status());
  const std::string ns =
      experiment->is_null() ? call.Namespace() : MetaString(*experiment, "namespace");
  auto items = ListItems(call.client, kPipelineRuns, ns);
  if (!items.ok()) return ErrorResponse(items.status());
  Lookup lookup(&call.client);
  std::vector<Json> rendered;
  for (const Json& run : *items) {
    if (!experiment->is_null() &&
        SpecString(run, "experiment") != MetaString(*experiment, "name")) {
      continue;
    }
    rendered.push_back(RenderRun(run, lookup));
  }
  auto response = ListResponse(call.request, std::move(rendered), "runs");
  if (!response.ok()) return ErrorResponse(response.status());
  return JsonResponse(*response);
}

http::Response Action(Call& call, const Json& run, const std::string& verb) {
  std::function<Status(Json&)> change;
  if (verb == "terminate") {
    change = [](Json& obj) {
      obj["spec"]["terminate"] = true;
      return Status::Ok();
    };
  } else if (verb == "retry") {
    change = [](Json& obj) {
      std::string state = StringAt(obj, "status.state");
      if (state != "FAILED" && state != "CANCELED") {
        return FailedPrecondition("run " + MetaString(obj, "name") + " is " +
                                  (state.empty() ? "PENDING" : state) +
                                  "; only FAILED or CANCELED runs can be retried");
      }
      Json& spec = obj["spec"];
      spec["retryCount"] = IntAt(obj, "spec.retryCount").value_or(0) + 1;
      // A retried run runs again: the terminate that canceled it is spent.
      spec.erase("terminate");
      return Status::Ok();
    };
  } else if (verb == "archive" || verb == "unarchive") {
    change = [verb](Json& obj) {
      obj["spec"]["storageState"] = verb == "archive" ? "ARCHIVED" : "AVAILABLE";
      return Status::Ok();
    };
  } else {
    return ErrorResponse(Status::NotFound("runs have no :" + verb + " action"));
  }
  auto updated = Mutate(call.client, kPipelineRuns, MetaString(run, "namespace"),
                        MetaString(run, "name"), change);
  if (!updated.ok()) return ErrorResponse(updated.status());
  return JsonResponse(Json::object());
}

}  // namespace

http::Response ServeRuns(Call& call, const std::vector<std::string>& rest) {
  static const Collection runs{kPipelineRuns,
                               "run",
                               List,
                               Create,
                               [](Call& c, const Json& run) {
                                 Lookup lookup(&c.client);
                                 return JsonResponse(RenderRun(run, lookup));
                               },
                               Action};
  return ServeCollection(call, rest, runs);
}

}  // namespace skiff::pipelines::kfp

// KFP's RecurringRunService over RecurringRun objects: the trigger (cron or periodic) maps to
// spec.schedule, enable/disable to spec.mode.
#include "common/clock.h"
#include "pipelines/kfp_rest_internal.h"

namespace skiff::pipelines::kfp {
namespace {

// The last write to the object, from its managed fields; creation when there are none.
std::string UpdatedAt(const Json& obj) {
  std::string latest = MetaString(obj, "creationTimestamp");
  const Json* fields = FindPath(obj, "metadata.managedFields");
  if (fields && fields->is_array()) {
    for (const Json& f : *fields) {
      std::string t = StringAt(f, "time");
      if (t > latest) latest = t;
    }
  }
  return latest;
}

Json RenderRecurringRun(const Json& rr, Lookup& lookup) {
  const std::string ns = MetaString(rr, "namespace");
  const Json& spec = rr.contains("spec") ? rr["spec"] : Json::object();
  std::string display = Annotation(rr, kDisplayNameAnnotation);
  const bool enabled = StringAt(spec, "mode") != "DISABLE";
  Json schedule;
  for (const char* key : {"startTime", "endTime"}) {
    if (std::string t = StringAt(spec, std::string("schedule.") + key); !t.empty()) {
      schedule[key == std::string("startTime") ? "start_time" : "end_time"] = t;
    }
  }
  Json trigger = Json::object();
  if (std::string cron = StringAt(spec, "schedule.cron"); !cron.empty()) {
    schedule["cron"] = cron;
    trigger["cron_schedule"] = std::move(schedule);
  } else if (auto interval = IntAt(spec, "schedule.intervalSecond")) {
    schedule["interval_second"] = std::to_string(*interval);
    trigger["periodic_schedule"] = std::move(schedule);
  }
  const Json* no_catchup = FindPath(spec, "noCatchup");
  Json out = {{"recurring_run_id", MetaString(rr, "uid")},
              {"display_name", display.empty() ? MetaString(rr, "name") : display},
              {"description", Annotation(rr, kDescriptionAnnotation)},
              {"runtime_config", RenderRuntimeConfig(spec)},
              {"service_account", StringAt(spec, "serviceAccountName")},
              // int64 is a string in proto3 JSON.
              {"max_concurrency", std::to_string(IntAt(spec, "maxConcurrency").value_or(10))},
              {"trigger", std::move(trigger)},
              {"mode", enabled ? "ENABLE" : "DISABLE"},
              {"created_at", MetaString(rr, "creationTimestamp")},
              {"updated_at", UpdatedAt(rr)},
              {"status", enabled ? "ENABLED" : "DISABLED"},
              {"no_catchup", no_catchup && no_catchup->is_boolean() && no_catchup->get<bool>()},
              {"namespace", ns},
              {"experiment_id", lookup.Uid(kExperiments, ns, StringAt(spec, "experiment"))}};
  RenderPipelineSource(rr, lookup, &out);
  return out;
}

Status CheckTime(const Json& schedule, const char* field, const char* key, Json* out) {
  std::string t = StringField(schedule, field);
  if (t.empty()) return Status::Ok();
  std::chrono::system_clock::time_point parsed;
  if (!ParseRfc3339(t, &parsed)) {
    return Status::BadRequest(std::string("trigger ") + field + " must be an RFC 3339 time, got " +
                              t);
  }
  (*out)[key] = FormatRfc3339(parsed);
  return Status::Ok();
}

StatusOr<Json> ScheduleFromTrigger(const Json& body) {
  const Json* trigger = Field(body, "trigger");
  const Json* cron = trigger ? Field(*trigger, "cron_schedule") : nullptr;
  const Json* periodic = trigger ? Field(*trigger, "periodic_schedule") : nullptr;
  if ((cron == nullptr) == (periodic == nullptr)) {
    return Status::BadRequest("trigger needs exactly one of cron_schedule or periodic_schedule");
  }
  const Json& from = cron ? *cron : *periodic;
  if (!from.is_object()) return Status::BadRequest("trigger schedule must be an object");
  Json schedule = Json::object();
  if (cron) {
    std::string expr = StringField(from, "cron");
    if (expr.empty()) return Status::BadRequest("cron_schedule.cron is required");
    schedule["cron"] = expr;
  } else {
    auto interval = IntField(from, "interval_second", 0);
    if (!interval.ok()) return interval.status();
    if (*interval <= 0) {
      return Status::BadRequest("periodic_schedule.interval_second must be positive");
    }
    schedule["intervalSecond"] = *interval;
  }
  if (Status s = CheckTime(from, "start_time", "startTime", &schedule); !s.ok()) return s;
  if (Status s = CheckTime(from, "end_time", "endTime", &schedule); !s.ok()) return s;
  return schedule;
}

StatusOr<std::string> Mode(const Json& body) {
  const Json* mode = Field(body, "mode");
  if (!mode) return std::string("ENABLE");
  if (*mode == "ENABLE" || *mode == 1 || *mode == "MODE_UNSPECIFIED" || *mode == 0) {
    return std::string("ENABLE");
  }
  if (*mode == "DISABLE" || *mode == 2) return std::string("DISABLE");
  return Status::BadRequest("mode must be ENABLE or DISABLE, got " + mode->dump());
}

http::Response Create(Call& call) {
  auto body = call.Body();
  if (!body.ok()) return ErrorResponse(body.status());
  std::string ns = call.ExplicitNamespace(*body);
  Json spec = Json::object();
  std::string experiment_id = StringField(*body, "experiment_id");
  if (!experiment_id.empty()) {
    auto experiment = FindByUid(call.client, kExperiments, experiment_id, "experiment");
    if (!experiment.ok()) return ErrorResponse(experiment.status());
    ns = MetaString(*experiment, "namespace");
    spec["experiment"] = MetaString(*experiment, "name");
  }
  if (Status s = SetPipelineSource(call, *body, &ns, &spec); !s.ok()) return ErrorResponse(s);
  if (Status s = SetRuntimeConfig(*body, &spec); !s.ok()) return ErrorResponse(s);
  auto schedule = ScheduleFromTrigger(*body);
  if (!schedule.ok()) return ErrorResponse(schedule.status());
  spec["schedule"] = std::move(*schedule);
  auto mode = Mode(*body);
  if (!mode.ok()) return ErrorResponse(mode.status());
  spec["mode"] = *mode;
  auto max_concurrency = IntField(*body, "max_concurrency", 0);
  if (!max_concurrency.ok()) return ErrorResponse(max_concurrency.status());
  if (*max_concurrency != 0) spec["maxConcurrency"] = *max_concurrency;
  if (const Json* no_catchup = Field(*body, "no_catchup"); no_catchup && no_catchup->is_boolean()) {
    spec["noCatchup"] = *no_catchup;
  }
  if (std::string sa = StringField(*body, "service_account"); !sa.empty()) {
    spec["serviceAccountName"] = sa;
  }
  Json metadata = GeneratedMetadata(*body, ns, "recurring-run");
  Json obj = {{"apiVersion", kApiVersion},
              {"kind", "RecurringRun"},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
  auto created = call.client.Create(kRecurringRuns, ns, obj);
  if (!created.ok()) return ErrorResponse(created.status());
  Lookup lookup(&call.client);
  return JsonResponse(RenderRecurringRun(*created, lookup));
}

http::Response List(Call& call) {
  std::string experiment_id = call.request.Query("experiment_id");
  std::string ns = call.Namespace();
  std::string experiment;
  if (!experiment_id.empty()) {
    auto found = FindByUid(call.client, kExperiments, experiment_id, "experiment");
    if (!found.ok()) return ErrorResponse(found.status());
    ns = MetaString(*found, "namespace");
    experiment = MetaString(*found, "name");
  }
  auto items = ListItems(call.client, kRecurringRuns, ns);
  if (!items.ok()) return ErrorResponse(items.status());
  Lookup lookup(&call.client);
  std::vector<Json> rendered;
  for (const Json& rr : *items) {
    if (!experiment.empty() && SpecString(rr, "experiment") != experiment) continue;
    rendered.push_back(RenderRecurringRun(rr, lookup));
  }
  // The proto names this list in camelCase.
  auto response = ListResponse(call.request, std::move(rendered), "recurringRuns");
  if (!response.ok()) return ErrorResponse(response.status());
  return JsonResponse(*response);
}

}  // namespace

http::Response ServeRecurringRuns(Call& call, const std::vector<std::string>& rest) {
  static const Collection recurring_runs{
      kRecurringRuns,
      "recurring run",
      List,
      Create,
      [](Call& c, const Json& rr) {
        Lookup lookup(&c.client);
        return JsonResponse(RenderRecurringRun(rr, lookup));
      },
      [](Call& c, const Json& rr, const std::string& verb) {
        if (verb != "enable" && verb != "disable") {
          return ErrorResponse(Status::NotFound("recurring runs have no :" + verb + " action"));
        }
        const char* mode = verb == "enable" ? "ENABLE" : "DISABLE";
        auto updated = Mutate(c.client, kRecurringRuns, MetaString(rr, "namespace"),
                              MetaString(rr, "name"), [mode](Json& o) {
                                o["spec"]["mode"] = mode;
                                return Status::Ok();
                              });
        if (!updated.ok()) return ErrorResponse(updated.status());
        return JsonResponse(Json::object());
      }};
  return ServeCollection(call, rest, recurring_runs);
}

}  // namespace skiff::pipelines::kfp

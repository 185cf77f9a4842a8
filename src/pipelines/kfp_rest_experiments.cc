// KFP's ExperimentService over PipelineExperiment objects. Runs and recurring runs name their
// experiment in spec.experiment; archiving an experiment archives its runs and disables its
// recurring runs, as KFP does.
#include "pipelines/kfp_rest_internal.h"

namespace skiff::pipelines::kfp {
namespace {

Json RenderExperiment(const Json& e) {
  std::string display = SpecString(e, "displayName");
  std::string storage = SpecString(e, "storageState");
  return {{"experiment_id", MetaString(e, "uid")},
          {"display_name", display.empty() ? MetaString(e, "name") : display},
          {"description", SpecString(e, "description")},
          {"created_at", MetaString(e, "creationTimestamp")},
          {"namespace", MetaString(e, "namespace")},
          {"storage_state", storage.empty() ? "AVAILABLE" : storage}};
}

http::Response Create(Call& call) {
  auto body = call.Body();
  if (!body.ok()) return ErrorResponse(body.status());
  const std::string display = StringField(*body, "display_name");
  const std::string name = ToObjectName(display);
  if (name.empty()) {
    return ErrorResponse(
        Status::BadRequest("an experiment needs a display_name with letters or digits"));
  }
  const std::string ns = call.Namespace(*body);
  Json spec = {{"displayName", display}};
  if (std::string d = StringField(*body, "description"); !d.empty()) spec["description"] = d;
  Json obj = {{"apiVersion", kApiVersion},
              {"kind", "PipelineExperiment"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", std::move(spec)}};
  auto created = call.client.Create(kExperiments, ns, obj);
  if (!created.ok()) {
    if (created.status().code() == Code::kAlreadyExists) {
      return ErrorResponse(
          Status::AlreadyExists("experiment " + display + " already exists in namespace " + ns));
    }
    return ErrorResponse(created.status());
  }
  return JsonResponse(RenderExperiment(*created));
}

http::Response List(Call& call) {
  auto items = ListItems(call.client, kExperiments, call.Namespace());
  if (!items.ok()) return ErrorResponse(items.status());
  std::vector<Json> rendered;
  for (const Json& e : *items) rendered.push_back(RenderExperiment(e));
  auto response = ListResponse(call.request, std::move(rendered), "experiments");
  if (!response.ok()) return ErrorResponse(response.status());
  return JsonResponse(*response);
}

Status SetStorageState(Call& call, const client::Resource& r, const Json& obj, const char* state) {
  auto updated = Mutate(call.client, r, MetaString(obj, "namespace"), MetaString(obj, "name"),
                        [state](Json& o) {
                          o["spec"]["storageState"] = state;
                          return Status::Ok();
                        });
  return updated.ok() ? Status::Ok() : updated.status();
}

Status Archive(Call& call, const Json& experiment) {
  if (Status s = SetStorageState(call, kExperiments, experiment, "ARCHIVED"); !s.ok()) return s;
  const std::string ns = MetaString(experiment, "namespace");
  const std::string name = MetaString(experiment, "name");
  auto runs = ListItems(call.client, kPipelineRuns, ns);
  if (!runs.ok()) return runs.status();
  for (const Json& run : *runs) {
    if (SpecString(run, "experiment") != name || SpecString(run, "storageState") == "ARCHIVED") {
      continue;
    }
    if (Status s = SetStorageState(call, kPipelineRuns, run, "ARCHIVED"); !s.ok()) return s;
  }
  auto recurring = ListItems(call.client, kRecurringRuns, ns);
  if (!recurring.ok()) return recurring.status();
  for (const Json& rr : *recurring) {
    if (SpecString(rr, "experiment") != name || SpecString(rr, "mode") == "DISABLE") continue;
    auto updated = Mutate(call.client, kRecurringRuns, ns, MetaString(rr, "name"), [](Json& o) {
      o["spec"]["mode"] = "DISABLE";
      return Status::Ok();
    });
    if (!updated.ok()) return updated.status();
  }
  return Status::Ok();
}

}  // namespace

http::Response ServeExperiments(Call& call, const std::vector<std::string>& rest) {
  // DELETE removes only the experiment: its runs stay, as in KFP.
  static const Collection experiments{
      kExperiments,
      "experiment",
      List,
      Create,
      [](Call&, const Json& experiment) { return JsonResponse(RenderExperiment(experiment)); },
      [](Call& c, const Json& experiment, const std::string& verb) {
        Status s;
        if (verb == "archive") {
          s = Archive(c, experiment);
        } else if (verb == "unarchive") {
          // KFP leaves the experiment's runs archived.
          s = SetStorageState(c, kExperiments, experiment, "AVAILABLE");
        } else {
          s = Status::NotFound("experiments have no :" + verb + " action");
        }
        return s.ok() ? JsonResponse(Json::object()) : ErrorResponse(s);
      }};
  return ServeCollection(call, rest, experiments);
}

}  // namespace skiff::pipelines::kfp

// The KFP REST facade's entry point and shared machinery: routing, KFP-shaped errors, request
// fields, lookups by uid, and the pipeline source of runs. Lists are in kfp_rest_list.cc.
#include "pipelines/kfp_rest.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "client/inprocess_client.h"
#include "pipelines/ir.h"
#include "pipelines/kfp_rest_internal.h"

namespace skiff::pipelines {
namespace kfp {
namespace {

constexpr std::string_view kPrefix = "/apis/v2beta1";
constexpr char kFailedPreconditionReason[] = "FailedPrecondition";

// gRPC status code and HTTP status for a Status, as grpc-gateway maps them.
std::pair<int, int> GrpcAndHttpCode(const Status& s) {
  if (s.Reason() == kFailedPreconditionReason) return {9, 400};
  switch (s.code()) {
    case Code::kBadRequest:
    case Code::kInvalid:
    case Code::kUnsupportedMediaType:
    case Code::kNotAcceptable:
      return {3, 400};
    case Code::kUnauthorized:
      return {16, 401};
    case Code::kForbidden:
      return {7, 403};
    case Code::kNotFound:
      return {5, 404};
    case Code::kMethodNotAllowed:
      return {12, 405};
    case Code::kAlreadyExists:
      return {6, 409};
    case Code::kConflict:
      return {10, 409};
    case Code::kGone:
      return {9, 400};
    case Code::kRequestEntityTooLarge:
    case Code::kTooManyRequests:
      return {8, 429};
    case Code::kUnavailable:
      return {14, 503};
    case Code::kTimeout:
      return {4, 504};
    default:
      return {13, 500};
  }
}

std::string CamelCase(std::string_view snake) {
  std::string out;
  bool upper = false;
  for (char c : snake) {
    if (c == '_') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return out;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

http::Response Serve(Call& call) {
  std::vector<std::string> segs =
      SplitPath(std::string_view(call.request.path).substr(kPrefix.size()));
  if (segs.empty()) return ErrorResponse(Status::NotFound("no KFP API at " + call.request.path));
  std::vector<std::string> rest(segs.begin() + 1, segs.end());
  const std::string& collection = segs[0];
  if (collection == "healthz" && rest.empty()) {
    if (call.request.method != "GET") return ErrorResponse(MethodNotAllowed(call.request));
    return JsonResponse({{"multi_user", false}});
  }
  if (collection == "pipelines") return ServePipelines(call, rest);
  if (collection == "runs") return ServeRuns(call, rest);
  if (collection == "experiments") return ServeExperiments(call, rest);
  if (collection == "recurringruns") return ServeRecurringRuns(call, rest);
  return ErrorResponse(Status::NotFound("no KFP API at " + call.request.path));
}

}  // namespace

// ---- errors and responses ----

Status FailedPrecondition(std::string message) {
  Status s = Status::BadRequest(std::move(message));
  s.WithReason(kFailedPreconditionReason);
  return s;
}

http::Response ErrorResponse(const Status& status) {
  auto [grpc, http_code] = GrpcAndHttpCode(status);
  http::Response r;
  r.status = http_code;
  r.body = Json{{"error", status.message()},
                {"code", grpc},
                {"message", status.message()},
                {"details", Json::array()}}
               .dump();
  return r;
}

http::Response JsonResponse(const Json& body) {
  http::Response r;
  r.body = body.dump();
  return r;
}

Status MethodNotAllowed(const http::Request& request) {
  return Status(Code::kMethodNotAllowed,
                "method " + request.method + " is not allowed on " + request.path);
}

std::pair<std::string, std::string> SplitCustomVerb(const std::string& segment) {
  size_t colon = segment.rfind(':');
  if (colon == std::string::npos) return {segment, ""};
  return {segment.substr(0, colon), segment.substr(colon + 1)};
}

// ---- request fields ----

StatusOr<Json> Call::Body() const {
  const std::string& body = request.body;
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  auto parsed = ParseJson(body);
  if (!parsed.ok())
    return Status::BadRequest("request body is not JSON: " + parsed.status().message());
  if (!parsed->is_object()) return Status::BadRequest("request body must be a JSON object");
  return parsed;
}

std::string Call::ExplicitNamespace(const Json& body) const {
  std::string ns = StringField(body, "namespace");
  if (ns.empty()) ns = request.Query("namespace");
  return ns;
}

std::string Call::Namespace(const Json& body) const {
  std::string ns = ExplicitNamespace(body);
  return ns.empty() ? "default" : ns;
}

const Json* Field(const Json& body, std::string_view proto_name) {
  if (!body.is_object()) return nullptr;
  auto it = body.find(std::string(proto_name));
  if (it == body.end() || it->is_null()) it = body.find(CamelCase(proto_name));
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string StringField(const Json& body, std::string_view proto_name) {
  const Json* v = Field(body, proto_name);
  return v && v->is_string() ? v->get<std::string>() : "";
}

StatusOr<int64_t> IntField(const Json& body, std::string_view proto_name, int64_t fallback) {
  const Json* v = Field(body, proto_name);
  if (!v) return fallback;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    char* end = nullptr;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return static_cast<int64_t>(n);
  }
  return Status::BadRequest(std::string(proto_name) + " must be an integer, got " + v->dump());
}

std::string ToObjectName(std::string_view name) {
  std::string out;
  bool gap = false;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80 && std::isalnum(c)) {
      if (gap && !out.empty()) out += '-';
      gap = false;
      out += static_cast<char>(std::tolower(c));
    } else {
      gap = true;
    }
  }
  if (out.size() > 63) out.resize(63);
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string MetaString(const Json& obj, const char* key) {
  return StringAt(obj, std::string("metadata.") + key);
}

std::string Annotation(const Json& obj, const char* key) {
  const Json* annotations = FindPath(obj, "metadata.annotations");
  if (!annotations || !annotations->is_object()) return "";
  auto it = annotations->find(key);
  return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
}

std::string SpecString(const Json& obj, const char* key) {
  return StringAt(obj, std::string("spec.") + key);
}

// ---- lookups ----

StatusOr<std::vector<Json>> ListItems(client::Client& c, const client::Resource& r,
                                      const std::string& ns) {
  auto list = c.List(r, ns, {});
  if (!list.ok()) return list.status();
  std::vector<Json> items;
  if ((*list)["items"].is_array()) {
    for (Json& item : (*list)["items"]) items.push_back(std::move(item));
  }
  SortOldestFirst(items);
  return items;
}

StatusOr<Json> FindByUid(client::Client& c, const client::Resource& r, const std::string& uid,
                         const std::string& what, const std::string& ns) {
  if (!uid.empty()) {
    auto items = ListItems(c, r, ns);
    if (!items.ok()) return items.status();
    for (Json& item : *items) {
      if (MetaString(item, "uid") == uid) return std::move(item);
    }
  }
  return Status::NotFound(what + " " + uid + " not found");
}

StatusOr<Json> Mutate(client::Client& c, const client::Resource& r, const std::string& ns,
                      const std::string& name, const std::function<Status(Json&)>& change) {
  for (int attempt = 0;; ++attempt) {
    auto obj = c.Get(r, ns, name);
    if (!obj.ok()) return obj.status();
    if (Status s = change(*obj); !s.ok()) return s;
    auto updated = c.Update(r, ns, *obj);
    if (updated.ok() || updated.status().code() != Code::kConflict || attempt >= 4) {
      return updated;
    }
  }
}

const Json& Lookup::Get(const client::Resource& r, const std::string& ns, const std::string& name) {
  auto key = std::make_tuple(r.plural, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    auto got = name.empty() ? StatusOr<Json>(Status::NotFound("")) : client_->Get(r, ns, name);
    it = objects_.emplace(key, got.ok() ? std::move(*got) : Json()).first;
  }
  return it->second;
}

std::string Lookup::Uid(const client::Resource& r, const std::string& ns, const std::string& name) {
  return MetaString(Get(r, ns, name), "uid");
}

std::vector<Json> Lookup::VersionsOf(const std::string& ns, const std::string& pipeline) {
  auto it = versions_by_ns_.find(ns);
  if (it == versions_by_ns_.end()) {
    auto items = ListItems(*client_, kPipelineVersions, ns);
    it = versions_by_ns_.emplace(ns, items.ok() ? std::move(*items) : std::vector<Json>()).first;
  }
  std::vector<Json> out;
  for (const Json& v : it->second) {
    if (SpecString(v, "pipelineName") == pipeline) out.push_back(v);
  }
  return out;
}

void SortOldestFirst(std::vector<Json>& objects) {
  std::stable_sort(objects.begin(), objects.end(), [](const Json& a, const Json& b) {
    return std::make_pair(MetaString(a, "creationTimestamp"), MetaString(a, "name")) <
           std::make_pair(MetaString(b, "creationTimestamp"), MetaString(b, "name"));
  });
}

// ---- pipeline sources (runs and recurring runs) ----

StatusOr<Json> StoredPipelineSpec(const Json& from_request) {
  if (!from_request.is_object()) return Status::BadRequest("pipeline_spec must be an object");
  Json spec = from_request;
  Json platform;
  if (const Json* wrapped = Field(from_request, "pipeline_spec"); wrapped && wrapped->is_object()) {
    spec = *wrapped;
    if (const Json* p = Field(from_request, "platform_spec"); p && p->is_object()) platform = *p;
  }
  if (IsIr(spec)) {
    auto doc = ParsePipelineFile(spec.dump());
    if (!doc.ok()) return Status::BadRequest("invalid pipeline spec: " + doc.status().message());
    spec = std::move(doc->spec);
    if (platform.is_null()) platform = doc->platform_spec;
  }
  if (platform.is_object()) {
    spec["platforms"] = platform.contains("platforms") ? platform["platforms"] : platform;
  }
  return spec;
}

Json RenderedPipelineSpec(const Json& stored) {
  if (!stored.is_object() || !stored.contains("platforms")) return stored;
  Json ir = stored;
  Json platforms = std::move(ir["platforms"]);
  ir.erase("platforms");
  return {{"pipeline_spec", std::move(ir)},
          {"platform_spec", {{"platforms", std::move(platforms)}}}};
}

Status SetPipelineSource(Call& call, const Json& body, std::string* ns, Json* spec) {
  std::string pipeline_id, version_id;
  if (const Json* ref = Field(body, "pipeline_version_reference"); ref && ref->is_object()) {
    pipeline_id = StringField(*ref, "pipeline_id");
    version_id = StringField(*ref, "pipeline_version_id");
  }
  if (version_id.empty()) version_id = StringField(body, "pipeline_version_id");  // deprecated
  if (pipeline_id.empty()) pipeline_id = StringField(body, "pipeline_id");
  const Json* inline_spec = Field(body, "pipeline_spec");
  if (inline_spec && (!pipeline_id.empty() || !version_id.empty())) {
    return Status::BadRequest("set either pipeline_version_reference or pipeline_spec, not both");
  }
  if (inline_spec) {
    auto stored = StoredPipelineSpec(*inline_spec);
    if (!stored.ok()) return stored.status();
    (*spec)["pipelineSpec"] = std::move(*stored);
    if (ns->empty()) *ns = "default";
    return Status::Ok();
  }
  if (pipeline_id.empty() && version_id.empty()) {
    return Status::BadRequest(
        "the pipeline is missing: set pipeline_version_reference.pipeline_id (and optionally "
        "pipeline_version_id) or pipeline_spec");
  }

  Json pipeline, version;
  // A version id equal to its pipeline's id is the version a Pipeline with an embedded spec
  // shows (see kfp_rest_pipelines.cc).
  if (!version_id.empty() && version_id != pipeline_id) {
    auto found = FindByUid(call.client, kPipelineVersions, version_id, "pipeline version");
    if (!found.ok()) return found.status();
    version = std::move(*found);
    const std::string vns = MetaString(version, "namespace");
    auto p = call.client.Get(kPipelines, vns, SpecString(version, "pipelineName"));
    if (!p.ok()) {
      return Status::NotFound("pipeline " + SpecString(version, "pipelineName") +
                              " of pipeline version " + version_id + " not found");
    }
    pipeline = std::move(*p);
    if (!pipeline_id.empty() && MetaString(pipeline, "uid") != pipeline_id) {
      return Status::BadRequest("pipeline version " + version_id + " does not belong to pipeline " +
                                pipeline_id);
    }
  } else {
    auto found = FindByUid(call.client, kPipelines, pipeline_id, "pipeline");
    if (!found.ok()) return found.status();
    pipeline = std::move(*found);
    // KFP runs the latest version when none is named; pin it now so the run keeps what it was
    // created with even after new versions are uploaded.
    if (version_id.empty() && FindPath(pipeline, "spec.pipelineSpec") == nullptr) {
      Lookup lookup(&call.client);
      auto versions =
          lookup.VersionsOf(MetaString(pipeline, "namespace"), MetaString(pipeline, "name"));
      if (versions.empty()) {
        return FailedPrecondition("pipeline " + MetaString(pipeline, "name") +
                                  " has no versions to run");
      }
      version = versions.back();
    }
  }
  const std::string pns = MetaString(pipeline, "namespace");
  if (ns->empty()) *ns = pns;
  if (*ns != pns) {
    return Status::BadRequest("pipeline " + MetaString(pipeline, "name") + " is in namespace " +
                              pns + "; runs in namespace " + *ns +
                              " can only use pipelines of their own namespace");
  }
  Json ref = {{"name", MetaString(pipeline, "name")}};
  if (!version.is_null()) ref["version"] = MetaString(version, "name");
  (*spec)["pipelineRef"] = std::move(ref);
  return Status::Ok();
}

void RenderPipelineSource(const Json& obj, Lookup& lookup, Json* out) {
  const std::string ns = MetaString(obj, "namespace");
  const std::string name = SpecString(obj, "pipelineRef.name");
  if (!name.empty()) {
    const Json& pipeline = lookup.Get(kPipelines, ns, name);
    const std::string pipeline_id = MetaString(pipeline, "uid");
    std::string version_id;
    if (std::string version = SpecString(obj, "pipelineRef.version"); !version.empty()) {
      version_id = lookup.Uid(kPipelineVersions, ns, version);
    } else if (FindPath(pipeline, "spec.pipelineSpec")) {
      version_id = pipeline_id;
    } else if (auto versions = lookup.VersionsOf(ns, name); !versions.empty()) {
      version_id = MetaString(versions.back(), "uid");
    }
    (*out)["pipeline_version_reference"] = {{"pipeline_id", pipeline_id},
                                            {"pipeline_version_id", version_id}};
  } else if (const Json* spec = FindPath(obj, "spec.pipelineSpec")) {
    (*out)["pipeline_spec"] = RenderedPipelineSpec(*spec);
  }
}

Status SetRuntimeConfig(const Json& body, Json* spec) {
  const Json* rc = Field(body, "runtime_config");
  if (!rc) return Status::Ok();
  if (!rc->is_object()) return Status::BadRequest("runtime_config must be an object");
  if (const Json* params = Field(*rc, "parameters")) {
    if (!params->is_object()) return Status::BadRequest("runtime_config.parameters must be a map");
    if (!params->empty()) (*spec)["parameters"] = *params;
  }
  if (std::string root = StringField(*rc, "pipeline_root"); !root.empty()) {
    (*spec)["pipelineRoot"] = root;
  }
  return Status::Ok();
}

Json RenderRuntimeConfig(const Json& spec) {
  const Json* params = FindPath(spec, "parameters");
  return {{"parameters", params && params->is_object() ? *params : Json::object()},
          {"pipeline_root", StringAt(spec, "pipelineRoot")}};
}

Json GeneratedMetadata(const Json& body, const std::string& ns, const std::string& fallback) {
  const std::string display = StringField(body, "display_name");
  Json annotations = Json::object();
  if (!display.empty()) annotations[kDisplayNameAnnotation] = display;
  if (std::string d = StringField(body, "description"); !d.empty()) {
    annotations[kDescriptionAnnotation] = d;
  }
  std::string prefix = ToObjectName(display).substr(0, 50);
  while (!prefix.empty() && prefix.back() == '-') prefix.pop_back();
  Json metadata = {{"generateName", (prefix.empty() ? fallback : prefix) + "-"}, {"namespace", ns}};
  if (!annotations.empty()) metadata["annotations"] = std::move(annotations);
  return metadata;
}

http::Response ServeCollection(Call& call, const std::vector<std::string>& rest,
                               const Collection& collection) {
  const std::string& method = call.request.method;
  if (rest.empty()) {
    if (method == "GET") return collection.list(call);
    if (method == "POST") return collection.create(call);
    return ErrorResponse(MethodNotAllowed(call.request));
  }
  if (rest.size() != 1) {
    return ErrorResponse(Status::NotFound("no KFP API at " + call.request.path));
  }
  auto [id, verb] = SplitCustomVerb(rest[0]);
  auto item = FindByUid(call.client, collection.resource, id, collection.noun);
  if (!item.ok()) return ErrorResponse(item.status());
  if (!verb.empty()) {
    if (method != "POST") return ErrorResponse(MethodNotAllowed(call.request));
    return collection.action(call, *item, verb);
  }
  if (method == "GET") return collection.get(call, *item);
  if (method == "DELETE") {
    auto deleted = call.client.Delete(collection.resource, MetaString(*item, "namespace"),
                                      MetaString(*item, "name"));
    if (!deleted.ok()) return ErrorResponse(deleted.status());
    return JsonResponse(Json::object());
  }
  return ErrorResponse(MethodNotAllowed(call.request));
}

}  // namespace kfp

apiserver::ExtraRoute KfpRestRoutes(apiserver::ObjectApi* api) {
  return
      [api](http::Request& request, const apiserver::UserInfo& user) -> std::optional<http::Reply> {
        const std::string& path = request.path;
        if (path.compare(0, kfp::kPrefix.size(), kfp::kPrefix) != 0 ||
            (path.size() > kfp::kPrefix.size() && path[kfp::kPrefix.size()] != '/')) {
          return std::nullopt;
        }
        auto client = client::NewInProcessClient(api, user);
        kfp::Call call{request, *client};
        return http::Reply(kfp::Serve(call));
      };
}

}  // namespace skiff::pipelines

// KFP's PipelineService over Pipeline and PipelineVersion objects: create, upload (multipart),
// get, get by name, list, delete, and the versions of a pipeline.
//
// The facade keeps every uploaded definition in a PipelineVersion and none in the Pipeline, so an
// unversioned pipelineRef runs the newest version, as KFP's "latest version" does. A Pipeline
// written with kubectl that embeds spec.pipelineSpec shows that spec as one extra version whose
// id is the pipeline's own.
#include <algorithm>

#include "common/encoding.h"
#include "pipelines/ir.h"
#include "pipelines/kfp_rest_internal.h"

namespace skiff::pipelines::kfp {
namespace {

Json RenderPipeline(const Json& p) {
  std::string display = SpecString(p, "displayName");
  return {{"pipeline_id", MetaString(p, "uid")},
          {"name", MetaString(p, "name")},
          {"display_name", display.empty() ? MetaString(p, "name") : display},
          {"description", SpecString(p, "description")},
          {"created_at", MetaString(p, "creationTimestamp")},
          {"namespace", MetaString(p, "namespace")}};
}

Json RenderVersion(const Json& v, const std::string& pipeline_id) {
  std::string display = SpecString(v, "displayName");
  Json out = {{"pipeline_id", pipeline_id},
              {"pipeline_version_id", MetaString(v, "uid")},
              {"name", MetaString(v, "name")},
              {"display_name", display.empty() ? MetaString(v, "name") : display},
              {"description", SpecString(v, "description")},
              {"created_at", MetaString(v, "creationTimestamp")},
              {"code_source_url", SpecString(v, "codeSourceUrl")}};
  if (std::string url = SpecString(v, "packageUrl"); !url.empty()) {
    out["package_url"] = {{"pipeline_url", url}};
  }
  if (const Json* spec = FindPath(v, "spec.pipelineSpec")) {
    out["pipeline_spec"] = RenderedPipelineSpec(*spec);
  }
  return out;
}

// The version a Pipeline with an embedded spec shows; null when it embeds none.
Json EmbeddedVersion(const Json& p) {
  if (!FindPath(p, "spec.pipelineSpec")) return nullptr;
  return RenderVersion(p, MetaString(p, "uid"));
}

// Every version of pipeline `p`, rendered, oldest first.
StatusOr<std::vector<Json>> RenderedVersions(Call& call, const Json& p) {
  auto items = ListItems(call.client, kPipelineVersions, MetaString(p, "namespace"));
  if (!items.ok()) return items.status();
  std::vector<Json> out;
  if (Json embedded = EmbeddedVersion(p); !embedded.is_null()) out.push_back(std::move(embedded));
  for (const Json& v : *items) {
    if (SpecString(v, "pipelineName") == MetaString(p, "name")) {
      out.push_back(RenderVersion(v, MetaString(p, "uid")));
    }
  }
  return out;
}

StatusOr<Json> CreatePipeline(Call& call, const std::string& ns, const std::string& name,
                              const std::string& display_name, const std::string& description) {
  std::string object_name = ToObjectName(name.empty() ? display_name : name);
  if (object_name.empty()) {
    return Status::BadRequest("a pipeline needs a name or display_name with letters or digits");
  }
  Json spec = {{"displayName", display_name.empty() ? name : display_name}};
  if (!description.empty()) spec["description"] = description;
  Json obj = {{"apiVersion", kApiVersion},
              {"kind", "Pipeline"},
              {"metadata", {{"name", object_name}, {"namespace", ns}}},
              {"spec", std::move(spec)}};
  auto created = call.client.Create(kPipelines, ns, obj);
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    return Status::AlreadyExists("pipeline " + object_name + " already exists in namespace " + ns);
  }
  return created;
}

struct VersionRequest {
  std::string name;
  std::string display_name;
  std::string description;
  std::string package_url;
  std::string code_source_url;
  Json pipeline_spec;  // as stored
};

// Version names are unique per pipeline in KFP but per namespace here: when another pipeline's
// version already has the name, this one is named <pipeline>-<name>.
StatusOr<Json> CreateVersion(Call& call, const Json& pipeline, const VersionRequest& req) {
  const std::string ns = MetaString(pipeline, "namespace");
  const std::string pipeline_name = MetaString(pipeline, "name");
  std::string object_name = ToObjectName(req.name.empty() ? req.display_name : req.name);
  if (object_name.empty()) {
    return Status::BadRequest(
        "a pipeline version needs a name or display_name with letters or digits");
  }
  if (auto existing = call.client.Get(kPipelineVersions, ns, object_name); existing.ok()) {
    if (SpecString(*existing, "pipelineName") == pipeline_name) {
      return Status::AlreadyExists("pipeline version " + object_name +
                                   " already exists for pipeline " + pipeline_name);
    }
    object_name = ToObjectName(pipeline_name + "-" + object_name);
  }
  Json spec = {{"pipelineName", pipeline_name},
               {"displayName", req.display_name.empty() ? req.name : req.display_name},
               {"pipelineSpec", req.pipeline_spec}};
  if (!req.description.empty()) spec["description"] = req.description;
  if (!req.package_url.empty()) spec["packageUrl"] = req.package_url;
  if (!req.code_source_url.empty()) spec["codeSourceUrl"] = req.code_source_url;
  Json obj = {{"apiVersion", kApiVersion},
              {"kind", "PipelineVersion"},
              {"metadata", {{"name", object_name}, {"namespace", ns}}},
              {"spec", std::move(spec)}};
  auto created = call.client.Create(kPipelineVersions, ns, obj);
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    return Status::AlreadyExists("pipeline version " + object_name +
                                 " already exists in namespace " + ns);
  }
  return created;
}

// A PipelineVersion message from a request body. The definition must come inline: skiff does not
// fetch package_url (it may point anywhere the server can reach).
StatusOr<VersionRequest> VersionFromBody(const Json& body) {
  VersionRequest req;
  req.name = StringField(body, "name");
  req.display_name = StringField(body, "display_name");
  req.description = StringField(body, "description");
  req.code_source_url = StringField(body, "code_source_url");
  if (const Json* url = Field(body, "package_url"); url && url->is_object()) {
    req.package_url = StringField(*url, "pipeline_url");
  }
  const Json* spec = Field(body, "pipeline_spec");
  if (!spec) {
    return Status::BadRequest(
        "pipeline_spec is required: skiff does not download package_url; send the compiled "
        "pipeline as pipeline_spec or POST it to /apis/v2beta1/pipelines/upload_version");
  }
  auto stored = StoredPipelineSpec(*spec);
  if (!stored.ok()) return stored.status();
  req.pipeline_spec = std::move(*stored);
  return req;
}

// ---- multipart/form-data (uploads) ----

struct UploadedFile {
  std::string filename;
  std::string content;
};

std::string HeaderParam(std::string_view header, std::string_view param) {
  size_t i = 0;
  while (i < header.size()) {
    size_t semi = header.find(';', i);
    if (semi == std::string_view::npos) semi = header.size();
    std::string_view item = header.substr(i, semi - i);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos && EqualsIgnoreCase(item.substr(0, eq), param)) {
      std::string_view v = item.substr(eq + 1);
      while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    i = semi + 1;
  }
  return "";
}

// The form field `uploadfile`, as the kfp client sends pipeline packages.
StatusOr<UploadedFile> FormFile(const http::Request& request) {
  const std::string content_type = request.Header("Content-Type");
  const std::string boundary = HeaderParam(content_type, "boundary");
  if (content_type.size() < 19 ||
      !EqualsIgnoreCase(std::string_view(content_type).substr(0, 19), "multipart/form-data") ||
      boundary.empty()) {
    return Status::BadRequest(
        "upload expects multipart/form-data with the pipeline file in the field uploadfile");
  }
  const std::string& body = request.body;
  const std::string delimiter = "--" + boundary;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    size_t start = pos + delimiter.size();
    if (body.compare(start, 2, "--") == 0) break;  // the closing delimiter
    size_t line_end = body.find("\r\n", start);
    if (line_end == std::string::npos) break;
    start = line_end + 2;
    size_t next = body.find("\r\n" + delimiter, start);
    if (next == std::string::npos) return Status::BadRequest("malformed multipart body");
    std::string_view part(body.data() + start, next - start);
    size_t headers_end = part.find("\r\n\r\n");
    if (headers_end == std::string_view::npos)
      return Status::BadRequest("malformed multipart part");
    std::string_view headers = part.substr(0, headers_end);
    std::string disposition;
    for (size_t i = 0; i < headers.size();) {
      size_t eol = headers.find("\r\n", i);
      if (eol == std::string_view::npos) eol = headers.size();
      std::string_view line = headers.substr(i, eol - i);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos &&
          EqualsIgnoreCase(line.substr(0, colon), "Content-Disposition")) {
        disposition = std::string(line.substr(colon + 1));
      }
      i = eol + 2;
    }
    if (HeaderParam(disposition, "name") == "uploadfile") {
      return UploadedFile{HeaderParam(disposition, "filename"),
                          std::string(part.substr(headers_end + 4))};
    }
    pos = next + 2;
  }
  return Status::BadRequest("the form has no uploadfile field with the pipeline file");
}

// "dir/my_pipeline.yaml" -> "my_pipeline".
std::string FileStem(const std::string& filename) {
  std::string base = filename.substr(filename.find_last_of("/\\") + 1);
  size_t dot = base.find('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

StatusOr<Json> ParseUpload(const UploadedFile& file) {
  auto doc = ParsePipelineFile(file.content);
  if (!doc.ok()) {
    return Status::BadRequest("invalid pipeline file " + file.filename + ": " +
                              doc.status().message());
  }
  Json spec = std::move(doc->spec);
  if (doc->platform_spec.is_object()) {
    spec["platforms"] = doc->platform_spec.contains("platforms") ? doc->platform_spec["platforms"]
                                                                 : doc->platform_spec;
  }
  return spec;
}

// ---- handlers ----

http::Response Upload(Call& call) {
  auto file = FormFile(call.request);
  if (!file.ok()) return ErrorResponse(file.status());
  auto spec = ParseUpload(*file);
  if (!spec.ok()) return ErrorResponse(spec.status());
  std::string name = call.request.Query("name");
  std::string display_name = call.request.Query("display_name");
  if (name.empty()) name = display_name;
  if (name.empty()) name = FileStem(file->filename);
  if (name.empty()) name = StringAt(*spec, "pipelineInfo.name");
  if (display_name.empty()) display_name = name;
  std::string description = call.request.Query("description");
  if (description.empty()) description = StringAt(*spec, "pipelineInfo.description");

  auto pipeline = CreatePipeline(call, call.Namespace(), name, display_name, description);
  if (!pipeline.ok()) return ErrorResponse(pipeline.status());
  VersionRequest version{name, display_name, description, "", "", std::move(*spec)};
  auto created = CreateVersion(call, *pipeline, version);
  if (!created.ok()) {
    // KFP creates both in one transaction: do not leave a pipeline without its definition.
    call.client.Delete(kPipelines, MetaString(*pipeline, "namespace"),
                       MetaString(*pipeline, "name"));
    return ErrorResponse(created.status());
  }
  return JsonResponse(RenderPipeline(*pipeline));
}

http::Response UploadVersion(Call& call) {
  std::string pipeline_id = call.request.Query("pipelineid");
  if (pipeline_id.empty()) return ErrorResponse(Status::BadRequest("pipelineid is required"));
  auto pipeline = FindByUid(call.client, kPipelines, pipeline_id, "pipeline");
  if (!pipeline.ok()) return ErrorResponse(pipeline.status());
  auto file = FormFile(call.request);
  if (!file.ok()) return ErrorResponse(file.status());
  auto spec = ParseUpload(*file);
  if (!spec.ok()) return ErrorResponse(spec.status());
  VersionRequest req;
  req.name = call.request.Query("name");
  req.display_name = call.request.Query("display_name");
  if (req.name.empty()) req.name = req.display_name;
  if (req.name.empty()) req.name = FileStem(file->filename);
  req.description = call.request.Query("description");
  req.pipeline_spec = std::move(*spec);
  auto created = CreateVersion(call, *pipeline, req);
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(RenderVersion(*created, pipeline_id));
}

http::Response CreateFromBody(Call& call) {
  auto body = call.Body();
  if (!body.ok()) return ErrorResponse(body.status());
  auto pipeline =
      CreatePipeline(call, call.Namespace(*body), StringField(*body, "name"),
                     StringField(*body, "display_name"), StringField(*body, "description"));
  if (!pipeline.ok()) return ErrorResponse(pipeline.status());
  return JsonResponse(RenderPipeline(*pipeline));
}

// POST /pipelines/create: {pipeline, pipeline_version}.
http::Response CreateWithVersion(Call& call) {
  auto body = call.Body();
  if (!body.ok()) return ErrorResponse(body.status());
  const Json* p = Field(*body, "pipeline");
  const Json* v = Field(*body, "pipeline_version");
  if (!p || !p->is_object() || !v || !v->is_object()) {
    return ErrorResponse(Status::BadRequest("pipeline and pipeline_version are required"));
  }
  auto version = VersionFromBody(*v);
  if (!version.ok()) return ErrorResponse(version.status());
  auto pipeline = CreatePipeline(call, call.Namespace(*p), StringField(*p, "name"),
                                 StringField(*p, "display_name"), StringField(*p, "description"));
  if (!pipeline.ok()) return ErrorResponse(pipeline.status());
  // KFP names the first version after its pipeline.
  version->name = MetaString(*pipeline, "name");
  version->display_name = SpecString(*pipeline, "displayName");
  if (version->description.empty()) version->description = SpecString(*pipeline, "description");
  auto created = CreateVersion(call, *pipeline, *version);
  if (!created.ok()) {
    call.client.Delete(kPipelines, MetaString(*pipeline, "namespace"),
                       MetaString(*pipeline, "name"));
    return ErrorResponse(created.status());
  }
  return JsonResponse(RenderPipeline(*pipeline));
}

http::Response List(Call& call) {
  auto items = ListItems(call.client, kPipelines, call.Namespace());
  if (!items.ok()) return ErrorResponse(items.status());
  std::vector<Json> rendered;
  for (const Json& p : *items) rendered.push_back(RenderPipeline(p));
  auto response = ListResponse(call.request, std::move(rendered), "pipelines");
  if (!response.ok()) return ErrorResponse(response.status());
  return JsonResponse(*response);
}

http::Response GetByName(Call& call, const std::string& name) {
  const std::string ns = call.Namespace();
  for (const std::string& candidate : {name, ToObjectName(name)}) {
    if (auto p = call.client.Get(kPipelines, ns, candidate); p.ok()) {
      return JsonResponse(RenderPipeline(*p));
    }
  }
  auto items = ListItems(call.client, kPipelines, ns);
  if (!items.ok()) return ErrorResponse(items.status());
  for (const Json& p : *items) {
    if (SpecString(p, "displayName") == name) return JsonResponse(RenderPipeline(p));
  }
  return ErrorResponse(Status::NotFound("pipeline " + name + " not found in namespace " + ns));
}

http::Response Delete(Call& call, const Json& pipeline) {
  const std::string ns = MetaString(pipeline, "namespace");
  const std::string name = MetaString(pipeline, "name");
  auto versions = ListItems(call.client, kPipelineVersions, ns);
  if (!versions.ok()) return ErrorResponse(versions.status());
  std::vector<std::string> own;
  for (const Json& v : *versions) {
    if (SpecString(v, "pipelineName") == name) own.push_back(MetaString(v, "name"));
  }
  if (!own.empty() && call.request.Query("cascade") != "true") {
    return ErrorResponse(FailedPrecondition("pipeline " + name + " still has " +
                                            std::to_string(own.size()) +
                                            " version(s); delete them first or pass cascade=true"));
  }
  for (const std::string& v : own) {
    auto deleted = call.client.Delete(kPipelineVersions, ns, v);
    if (!deleted.ok() && deleted.status().code() != Code::kNotFound) {
      return ErrorResponse(deleted.status());
    }
  }
  auto deleted = call.client.Delete(kPipelines, ns, name);
  if (!deleted.ok()) return ErrorResponse(deleted.status());
  return JsonResponse(Json::object());
}

http::Response ServeVersions(Call& call, const Json& pipeline,
                             const std::vector<std::string>& rest) {
  const std::string& method = call.request.method;
  const std::string pipeline_id = MetaString(pipeline, "uid");
  if (rest.size() == 2) {
    if (method == "GET") {
      auto versions = RenderedVersions(call, pipeline);
      if (!versions.ok()) return ErrorResponse(versions.status());
      auto response = ListResponse(call.request, std::move(*versions), "pipeline_versions");
      if (!response.ok()) return ErrorResponse(response.status());
      return JsonResponse(*response);
    }
    if (method == "POST") {
      auto body = call.Body();
      if (!body.ok()) return ErrorResponse(body.status());
      // grpc-gateway takes the version either as the body or under pipeline_version.
      const Json* v = Field(*body, "pipeline_version");
      auto req = VersionFromBody(v && v->is_object() ? *v : *body);
      if (!req.ok()) return ErrorResponse(req.status());
      auto created = CreateVersion(call, pipeline, *req);
      if (!created.ok()) return ErrorResponse(created.status());
      return JsonResponse(RenderVersion(*created, pipeline_id));
    }
    return ErrorResponse(MethodNotAllowed(call.request));
  }
  const std::string& version_id = rest[2];
  if (version_id == pipeline_id) {
    Json embedded = EmbeddedVersion(pipeline);
    if (embedded.is_null()) {
      return ErrorResponse(Status::NotFound("pipeline version " + version_id + " not found"));
    }
    if (method == "GET") return JsonResponse(embedded);
    if (method == "DELETE") {
      return ErrorResponse(FailedPrecondition("this version is the spec embedded in Pipeline " +
                                              MetaString(pipeline, "name") +
                                              "; edit or delete the Pipeline instead"));
    }
    return ErrorResponse(MethodNotAllowed(call.request));
  }
  auto version = FindByUid(call.client, kPipelineVersions, version_id, "pipeline version",
                           MetaString(pipeline, "namespace"));
  if (!version.ok() || SpecString(*version, "pipelineName") != MetaString(pipeline, "name")) {
    return ErrorResponse(Status::NotFound("pipeline version " + version_id + " of pipeline " +
                                          pipeline_id + " not found"));
  }
  if (method == "GET") return JsonResponse(RenderVersion(*version, pipeline_id));
  if (method == "DELETE") {
    auto deleted = call.client.Delete(kPipelineVersions, MetaString(*version, "namespace"),
                                      MetaString(*version, "name"));
    if (!deleted.ok()) return ErrorResponse(deleted.status());
    return JsonResponse(Json::object());
  }
  return ErrorResponse(MethodNotAllowed(call.request));
}

}  // namespace

http::Response ServePipelines(Call& call, const std::vector<std::string>& rest) {
  const std::string& method = call.request.method;
  if (rest.empty()) {
    if (method == "GET") return List(call);
    if (method == "POST") return CreateFromBody(call);
    return ErrorResponse(MethodNotAllowed(call.request));
  }
  if (rest.size() == 1 && method == "POST") {
    if (rest[0] == "create") return CreateWithVersion(call);
    if (rest[0] == "upload") return Upload(call);
    if (rest[0] == "upload_version") return UploadVersion(call);
  }
  if (rest.size() == 2 && rest[0] == "names") {
    if (method != "GET") return ErrorResponse(MethodNotAllowed(call.request));
    return GetByName(call, rest[1]);
  }
  if (rest.size() > 3 || (rest.size() >= 2 && rest[1] != "versions")) {
    return ErrorResponse(Status::NotFound("no KFP API at " + call.request.path));
  }
  auto pipeline = FindByUid(call.client, kPipelines, rest[0], "pipeline");
  if (!pipeline.ok()) return ErrorResponse(pipeline.status());
  if (rest.size() >= 2) return ServeVersions(call, *pipeline, rest);
  if (method == "GET") return JsonResponse(RenderPipeline(*pipeline));
  if (method == "DELETE") return Delete(call, *pipeline);
  return ErrorResponse(MethodNotAllowed(call.request));
}

}  // namespace skiff::pipelines::kfp

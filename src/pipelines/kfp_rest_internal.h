// Pieces the KFP REST facade's files (kfp_rest*.cc) share: the kinds it serves, KFP-shaped
// errors, request fields, lookups by uid, and KFP's list semantics (filter, sort_by, paging).
// Not part of the pipelines library's interface.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "client/client.h"
#include "common/json.h"
#include "common/status.h"
#include "http/http.h"

namespace skiff::pipelines::kfp {

inline const client::Resource kPipelines{"kubeflow.org", "v2beta1", "pipelines"};
inline const client::Resource kPipelineVersions{"kubeflow.org", "v2beta1", "pipelineversions"};
inline const client::Resource kPipelineRuns{"kubeflow.org", "v2beta1", "pipelineruns"};
inline const client::Resource kExperiments{"kubeflow.org", "v2beta1", "pipelineexperiments"};
inline const client::Resource kRecurringRuns{"kubeflow.org", "v2beta1", "recurringruns"};
inline constexpr char kApiVersion[] = "kubeflow.org/v2beta1";

// KFP fields with no place in a kind's spec are kept as annotations.
inline constexpr char kDisplayNameAnnotation[] = "pipelines.kubeflow.org/display-name";
inline constexpr char kDescriptionAnnotation[] = "pipelines.kubeflow.org/description";

// gRPC's FAILED_PRECONDITION (HTTP 400): the request is valid but the object's state forbids it.
Status FailedPrecondition(std::string message);
// `{"error", "code" (gRPC code), "message", "details"}` with the matching HTTP status.
http::Response ErrorResponse(const Status& status);
http::Response JsonResponse(const Json& body);

// One request being served, with a Client acting as the requesting user.
struct Call {
  http::Request& request;
  client::Client& client;

  // The JSON body; {} when empty, kBadRequest when malformed.
  StatusOr<Json> Body() const;
  // `namespace` from the body, else the query, else "".
  std::string ExplicitNamespace(const Json& body = Json::object()) const;
  // ExplicitNamespace, defaulting to "default" as single-user KFP does.
  std::string Namespace(const Json& body = Json::object()) const;
};

// A body field by its proto name ("display_name"); the lowerCamelCase JSON name ("displayName")
// is accepted too, as grpc-gateway does. nullptr when absent or null.
const Json* Field(const Json& body, std::string_view proto_name);
std::string StringField(const Json& body, std::string_view proto_name);
// int64 fields arrive as numbers or, in proto3 JSON, as strings; kBadRequest otherwise.
StatusOr<int64_t> IntField(const Json& body, std::string_view proto_name, int64_t fallback);

// An object name (DNS-1123 label) from a user's name: "My Pipeline v2" -> "my-pipeline-v2".
// "" when nothing usable is left.
std::string ToObjectName(std::string_view name);

std::string MetaString(const Json& obj, const char* key);
std::string Annotation(const Json& obj, const char* key);
std::string SpecString(const Json& obj, const char* key);

StatusOr<std::vector<Json>> ListItems(client::Client& c, const client::Resource& r,
                                      const std::string& ns);
// The object whose metadata.uid is `uid`, in `ns` ("" = every namespace). kNotFound says
// `<what> <uid> not found`.
StatusOr<Json> FindByUid(client::Client& c, const client::Resource& r, const std::string& uid,
                         const std::string& what, const std::string& ns = "");
// Gets, changes and updates an object, retrying when another writer got there first.
StatusOr<Json> Mutate(client::Client& c, const client::Resource& r, const std::string& ns,
                      const std::string& name, const std::function<Status(Json&)>& change);

// Name lookups for one request; rendering a list resolves the same names many times.
class Lookup {
 public:
  explicit Lookup(client::Client* c) : client_(c) {}
  // The object, or null when it does not exist (other errors also give null: rendering is
  // best effort).
  const Json& Get(const client::Resource& r, const std::string& ns, const std::string& name);
  std::string Uid(const client::Resource& r, const std::string& ns, const std::string& name);
  // The PipelineVersion objects of pipeline `pipeline` in `ns`, oldest first.
  std::vector<Json> VersionsOf(const std::string& ns, const std::string& pipeline);

 private:
  client::Client* client_;
  std::map<std::tuple<std::string, std::string, std::string>, Json> objects_;
  std::map<std::string, std::vector<Json>> versions_by_ns_;
};

// Oldest first by creationTimestamp, then name: the last one is what an unversioned pipelineRef
// runs when the Pipeline embeds no spec.
void SortOldestFirst(std::vector<Json>& objects);

// Applies a list request's filter, sort_by, page_size and page_token to rendered KFP objects and
// answers `{<items_key>: [...], total_size, next_page_token}`.
StatusOr<Json> ListResponse(const http::Request& request, std::vector<Json> rendered,
                            const std::string& items_key);

// A pipeline spec from a request (IR, {pipeline_spec, platform_spec} as the kfp client wraps
// two-document files, or the seed's format) into what a spec.pipelineSpec holds: IR is
// validated, a platform spec is kept under `platforms`.
StatusOr<Json> StoredPipelineSpec(const Json& from_request);
// The reverse, for responses: IR alone, or {pipeline_spec, platform_spec} when it has one.
Json RenderedPipelineSpec(const Json& stored);

// Where a run or recurring run gets its pipeline: pipeline_version_reference, the deprecated
// pipeline_version_id, or pipeline_spec. Sets spec.pipelineRef / spec.pipelineSpec. `*ns` is
// the namespace the object will be created in; when empty it becomes the referenced pipeline's
// ("default" for an inline spec).
Status SetPipelineSource(Call& call, const Json& body, std::string* ns, Json* spec);
// pipeline_version_reference / pipeline_spec of a run or recurring run, from its spec.
void RenderPipelineSource(const Json& obj, Lookup& lookup, Json* out);
// runtime_config from / into a spec (parameters, pipeline_root).
Status SetRuntimeConfig(const Json& body, Json* spec);
Json RenderRuntimeConfig(const Json& spec);

// The handlers, one per collection. `rest` is the path after /apis/v2beta1/<collection>, split
// at '/'.
http::Response ServePipelines(Call& call, const std::vector<std::string>& rest);
http::Response ServeRuns(Call& call, const std::vector<std::string>& rest);
http::Response ServeExperiments(Call& call, const std::vector<std::string>& rest);
http::Response ServeRecurringRuns(Call& call, const std::vector<std::string>& rest);

// "abc:archive" -> {"abc", "archive"}; no ':' -> {"abc", ""}.
std::pair<std::string, std::string> SplitCustomVerb(const std::string& segment);
Status MethodNotAllowed(const http::Request& request);

// Metadata for an object a KFP create request makes: generateName from its display_name (or
// `fallback`), the display name and description kept as annotations.
Json GeneratedMetadata(const Json& body, const std::string& ns, const std::string& fallback);

// KFP's shape of a collection: GET (list) and POST (create) on it; GET, DELETE and POST `:verb`
// on one item, found by its uid. Runs, experiments and recurring runs are served this way.
struct Collection {
  client::Resource resource;
  const char* noun;  // "run", for messages
  std::function<http::Response(Call&)> list;
  std::function<http::Response(Call&)> create;
  std::function<http::Response(Call&, const Json& item)> get;
  std::function<http::Response(Call&, const Json& item, const std::string& verb)> action;
};
http::Response ServeCollection(Call& call, const std::vector<std::string>& rest,
                               const Collection& collection);

}  // namespace skiff::pipelines::kfp

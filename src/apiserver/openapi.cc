// Builds the OpenAPI v3 documents from the registry, shaped like the ones kube-apiserver publishes
// for CRDs: kubectl reads specific parts of them (see openapi.h), so those parts follow upstream
// exactly; the rest is kept small.
#include "apiserver/openapi.h"

#include <openssl/evp.h>

#include <cctype>
#include <map>
#include <mutex>

namespace skiff::apiserver {
namespace {

constexpr char kMeta[] = "io.k8s.apimachinery.pkg.apis.meta.v1.";

Json Ref(const std::string& name) { return {{"$ref", "#/components/schemas/" + name}}; }

// A $ref with a description of its own: OpenAPI 3.0 ignores siblings of $ref, so wrap in allOf.
Json RefWithDescription(const std::string& name, const std::string& description) {
  return {{"allOf", Json::array({Ref(name)})}, {"description", description}};
}

Json StringProp(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

bool IsKubernetesGroup(const std::string& group) {
  if (group.empty() || group.find('.') == std::string::npos) return true;
  const std::string suffix = ".k8s.io";
  return group.size() > suffix.size() &&
         group.compare(group.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "kubeflow.org" -> "KubeflowOrg", "rbac.authorization.k8s.io" -> "RbacAuthorization", core ->
// "Core": the group part of Kubernetes operation ids.
std::string GroupCamel(const std::string& group) {
  if (group.empty()) return "Core";
  std::string g = group;
  const std::string suffix = ".k8s.io";
  if (IsKubernetesGroup(g) && g.size() > suffix.size() &&
      g.compare(g.size() - suffix.size(), suffix.size(), suffix) == 0) {
    g.resize(g.size() - suffix.size());
  }
  std::string out;
  bool upper = true;
  for (char c : g) {
    if (c == '.' || c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string Capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string HexSha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

Json QueryParam(const std::string& name, const std::string& type, const std::string& description) {
  return {{"name", name},
          {"in", "query"},
          {"description", description},
          {"schema", {{"type", type}, {"uniqueItems", true}}}};
}

Json PathParam(const std::string& name, const std::string& description) {
  return {{"name", name},
          {"in", "path"},
          {"description", description},
          {"required", true},
          {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
}

Json Pretty() { return QueryParam("pretty", "string", "If 'true', the output is indented."); }
Json DryRun() {
  return QueryParam("dryRun", "string",
                    "When present (value All), the request is validated but nothing is stored.");
}
Json FieldManager() {
  return QueryParam("fieldManager", "string",
                    "The name of the actor making the change, recorded in managedFields.");
}
// kubectl only skips its own validation when it finds this parameter on the PATCH operation.
Json FieldValidation() {
  return QueryParam("fieldValidation", "string",
                    "How to treat unknown or duplicate fields: Ignore, Warn (default) or Strict.");
}

std::vector<Json> ListParams() {
  return {
      QueryParam("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events in a watch."),
      QueryParam("continue", "string", "The token from a previous page of a paged list."),
      QueryParam("fieldSelector", "string", "Restrict the list by fields, e.g. metadata.name=x."),
      QueryParam("labelSelector", "string", "Restrict the list by labels, e.g. app=demo."),
      QueryParam("limit", "integer", "The most items to return in one page."),
      QueryParam("resourceVersion", "string",
                 "Where a list or watch starts; see resourceVersionMatch."),
      QueryParam("resourceVersionMatch", "string",
                 "How resourceVersion applies to a list: Exact or NotOlderThan."),
      QueryParam("sendInitialEvents", "boolean", "Start a watch with the current objects."),
      QueryParam("timeoutSeconds", "integer", "End a list or watch after this many seconds."),
      QueryParam("watch", "boolean", "Stream changes instead of returning a list."),
  };
}

Json Content(const Json& schema, std::initializer_list<const char*> types) {
  Json content = Json::object();
  for (const char* t : types) content[t] = {{"schema", schema}};
  return content;
}

Json Responses(const std::string& schema_name, std::initializer_list<const char*> codes,
               bool watchable = false) {
  Json responses = Json::object();
  for (const char* code : codes) {
    Json content = watchable ? Content(Ref(schema_name), {"application/json", "application/yaml",
                                                          "application/json;stream=watch"})
                             : Content(Ref(schema_name), {"application/json", "application/yaml"});
    std::string description = std::string(code) == "201"   ? "Created"
                              : std::string(code) == "202" ? "Accepted"
                                                           : "OK";
    responses[code] = {{"description", description}, {"content", std::move(content)}};
  }
  responses["401"] = {{"description", "Unauthorized"}};
  return responses;
}

Json Gvk(const api::ResourceInfo& r) {
  return {{"group", r.group}, {"version", r.version}, {"kind", r.kind}};
}

// Everything an operation shares: id, action and kind extensions kubectl matches on.
Json Operation(const api::ResourceInfo& r, const std::string& id, const std::string& action,
               const std::string& description) {
  return {{"operationId", id},
          {"description", description},
          {"tags", Json::array({GroupCamel(r.group) + "_" + r.version})},
          {"x-kubernetes-action", action},
          {"x-kubernetes-group-version-kind", Gvk(r)},
          {"parameters", Json::array()}};
}

bool HasVerb(const api::ResourceInfo& r, const std::string& verb) {
  for (const std::string& v : r.verbs) {
    if (v == verb) return true;
  }
  return false;
}

void AddResourcePaths(const api::ResourceInfo& r, Json& paths) {
  const std::string prefix = "/" + GroupVersionPath(r.group, r.version);
  const std::string kind_schema = SchemaName(r.group, r.version, r.kind);
  const std::string list_schema = SchemaName(r.group, r.version, r.list_kind);
  const std::string ns = r.namespaced ? "Namespaced" : "";
  const std::string id_suffix = GroupCamel(r.group) + Capitalize(r.version) + ns + r.kind;
  const std::string collection =
      prefix + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.plural;
  const std::string item = collection + "/{name}";
  Json ns_param = PathParam("namespace", "The object name and auth scope, for namespaced kinds.");
  Json name_param = PathParam("name", "The name of the " + r.kind + ".");

  Json coll = Json::object();
  if (HasVerb(r, "list")) {
    Json op = Operation(r, "list" + id_suffix, "list", "list or watch objects of kind " + r.kind);
    for (Json& p : ListParams()) op["parameters"].push_back(std::move(p));
    op["responses"] = Responses(list_schema, {"200"}, /*watchable=*/true);
    coll["get"] = std::move(op);
  }
  if (HasVerb(r, "create")) {
    Json op = Operation(r, "create" + id_suffix, "post", "create a " + r.kind);
    op["parameters"] = {DryRun(), FieldManager(), FieldValidation()};
    op["requestBody"] = {{"content", Content(Ref(kind_schema), {"*/*"})}, {"required", true}};
    op["responses"] = Responses(kind_schema, {"200", "201", "202"});
    coll["post"] = std::move(op);
  }
  if (HasVerb(r, "deletecollection")) {
    Json op = Operation(r, "deleteCollection" + id_suffix, "deletecollection",
                        "delete a collection of " + r.kind);
    op["parameters"] = {DryRun(),
                        QueryParam("gracePeriodSeconds", "integer", "Seconds before deletion."),
                        QueryParam("propagationPolicy", "string",
                                   "Orphan, Background or Foreground garbage collection.")};
    for (Json& p : ListParams()) op["parameters"].push_back(std::move(p));
    op["requestBody"] = {{"content", Content(Ref(std::string(kMeta) + "DeleteOptions"), {"*/*"})}};
    op["responses"] = Responses(std::string(kMeta) + "Status", {"200"});
    coll["delete"] = std::move(op);
  }
  if (!coll.empty()) {
    coll["parameters"] = r.namespaced ? Json::array({ns_param, Pretty()}) : Json::array({Pretty()});
    paths[collection] = std::move(coll);
  }

  // Reads and writes of one object, and of its status subresource.
  auto object_ops = [&](const std::string& path, const std::string& suffix, bool with_delete) {
    Json p = Json::object();
    std::string id = id_suffix + suffix;
    std::string what =
        suffix.empty() ? "the specified " + r.kind : "status of the specified " + r.kind;
    if (HasVerb(r, "get")) {
      Json op = Operation(r, "read" + id, "get", "read " + what);
      op["responses"] = Responses(kind_schema, {"200"});
      p["get"] = std::move(op);
    }
    if (HasVerb(r, "update")) {
      Json op = Operation(r, "replace" + id, "put", "replace " + what);
      op["parameters"] = {DryRun(), FieldManager(), FieldValidation()};
      op["requestBody"] = {{"content", Content(Ref(kind_schema), {"*/*"})}, {"required", true}};
      op["responses"] = Responses(kind_schema, {"200", "201"});
      p["put"] = std::move(op);
    }
    if (HasVerb(r, "patch")) {
      Json op = Operation(r, "patch" + id, "patch", "partially update " + what);
      op["parameters"] = {
          DryRun(), FieldManager(), FieldValidation(),
          QueryParam("force", "boolean", "Take over conflicting fields in a server-side apply.")};
      Json patch = Ref(std::string(kMeta) + "Patch");
      Json content = Content(patch, {"application/json-patch+json", "application/merge-patch+json",
                                     "application/apply-patch+yaml"});
      // kubectl sends a strategic merge patch whenever this type is listed; custom kinds must
      // not list it, so kubectl uses a JSON merge patch for them.
      if (SupportsStrategicMergePatch(r)) {
        content["application/strategic-merge-patch+json"] = {{"schema", patch}};
      }
      op["requestBody"] = {{"content", std::move(content)}, {"required", true}};
      op["responses"] = Responses(kind_schema, {"200", "201"});
      p["patch"] = std::move(op);
    }
    if (with_delete && HasVerb(r, "delete")) {
      Json op = Operation(r, "delete" + id, "delete", "delete " + what);
      op["parameters"] = {DryRun(),
                          QueryParam("gracePeriodSeconds", "integer", "Seconds before deletion."),
                          QueryParam("propagationPolicy", "string",
                                     "Orphan, Background or Foreground garbage collection.")};
      op["requestBody"] = {
          {"content", Content(Ref(std::string(kMeta) + "DeleteOptions"), {"*/*"})}};
      op["responses"] = Responses(std::string(kMeta) + "Status", {"200", "202"});
      p["delete"] = std::move(op);
    }
    if (p.empty()) return;
    p["parameters"] = r.namespaced ? Json::array({name_param, ns_param, Pretty()})
                                   : Json::array({name_param, Pretty()});
    paths[path] = std::move(p);
  };
  if (r.stored) {
    object_ops(item, "", /*with_delete=*/true);
    if (r.status_subresource) object_ops(item + "/status", "Status", /*with_delete=*/false);
  }

  if (r.namespaced && HasVerb(r, "list")) {
    Json op = Operation(
        r, "list" + GroupCamel(r.group) + Capitalize(r.version) + r.kind + "ForAllNamespaces",
        "list", "list or watch objects of kind " + r.kind + " in all namespaces");
    op["responses"] = Responses(list_schema, {"200"}, /*watchable=*/true);
    Json p = {{"get", std::move(op)}, {"parameters", ListParams()}};
    p["parameters"].push_back(Pretty());
    paths[prefix + "/" + r.plural] = std::move(p);
  }
}

Json KindSchema(const api::ResourceInfo& r) {
  Json s = r.schema().is_object() ? r.schema() : Json::object();
  s["type"] = "object";
  if (!s.contains("description")) s["description"] = r.kind + " (" + r.GroupVersion() + ").";
  Json& props = s["properties"];
  if (!props.is_object()) props = Json::object();
  props["apiVersion"] = StringProp(
      "The versioned schema of this object: group/version, or just the version for the core "
      "group. Clients send it; the server may convert to another version it serves.");
  props["kind"] = StringProp(
      "The REST type of this object, in CamelCase. Fixed by the endpoint; clients send it.");
  props["metadata"] = RefWithDescription(
      std::string(kMeta) + "ObjectMeta",
      "Standard object metadata: name, namespace, labels, annotations and the fields the server "
      "maintains.");
  s["x-kubernetes-group-version-kind"] = Json::array({Gvk(r)});
  return s;
}

Json ListSchema(const api::ResourceInfo& r) {
  return {
      {"description", r.list_kind + " is a list of " + r.kind + "."},
      {"type", "object"},
      {"required", Json::array({"items"})},
      {"properties",
       {{"apiVersion", StringProp("The versioned schema of this list.")},
        {"kind", StringProp("The REST type of this list.")},
        {"items",
         {{"description", "The objects."},
          {"type", "array"},
          {"items", Ref(SchemaName(r.group, r.version, r.kind))}}},
        {"metadata", RefWithDescription(std::string(kMeta) + "ListMeta",
                                        "Standard list metadata: resourceVersion and paging.")}}},
      {"x-kubernetes-group-version-kind",
       Json::array({{{"group", r.group}, {"version", r.version}, {"kind", r.list_kind}}})},
  };
}

// The apimachinery schemas every document refers to. Descriptions are skiff's own words; the
// field set matches upstream so kubectl's strict checks of metadata accept what a cluster would.
Json MetaSchemas() {
  const std::string m = kMeta;
  Json time = {{"type", "string"},
               {"format", "date-time"},
               {"description", "A timestamp in RFC 3339 form, with second precision."}};
  Json string_map = {{"type", "object"},
                     {"additionalProperties", {{"type", "string"}, {"default", ""}}}};
  Json labels = string_map;
  labels["description"] =
      "Key/value pairs that label the object; selectors (kubectl -l) match on them.";
  Json annotations = string_map;
  annotations["description"] =
      "Key/value pairs of non-identifying data for tools and controllers "
      "(e.g. kubectl.kubernetes.io/last-applied-configuration).";

  Json object_meta = {
      {"description",
       "Metadata every persisted object has: name, namespace, labels, annotations, and fields "
       "the server sets (uid, resourceVersion, creationTimestamp, ...)."},
      {"type", "object"},
      {"properties",
       {{"name", StringProp("Unique name within the namespace (or cluster, for cluster-scoped "
                            "kinds). Cannot be changed after creation.")},
        {"generateName",
         StringProp("Prefix from which the server generates a unique name when name is empty.")},
        {"namespace",
         StringProp("The namespace the object lives in; empty for cluster-scoped kinds.")},
        {"selfLink", StringProp("Deprecated; not set.")},
        {"uid", StringProp("Unique id of this incarnation of the object, set by the server.")},
        {"resourceVersion",
         StringProp("Opaque version of the object, changed on every write; used for optimistic "
                    "concurrency and watches.")},
        {"generation",
         {{"type", "integer"},
          {"format", "int64"},
          {"description", "Sequence number of spec changes, set by the server."}}},
        {"creationTimestamp",
         RefWithDescription(m + "Time", "When the server created the object.")},
        {"deletionTimestamp",
         RefWithDescription(m + "Time", "When deletion was requested; finalizers still pending.")},
        {"deletionGracePeriodSeconds",
         {{"type", "integer"},
          {"format", "int64"},
          {"description", "Seconds allowed for graceful termination once deletion started."}}},
        {"labels", labels},
        {"annotations", annotations},
        {"ownerReferences",
         {{"type", "array"},
          {"description",
           "Objects this one depends on; it is garbage-collected when they are all gone."},
          {"items",
           {{"allOf", Json::array({Ref(m + "OwnerReference")})}, {"default", Json::object()}}},
          {"x-kubernetes-list-map-keys", Json::array({"uid"})},
          {"x-kubernetes-list-type", "map"},
          {"x-kubernetes-patch-merge-key", "uid"},
          {"x-kubernetes-patch-strategy", "merge"}}},
        {"finalizers",
         {{"type", "array"},
          {"description", "Keys that must be removed before the object is deleted."},
          {"items", {{"type", "string"}, {"default", ""}}},
          {"x-kubernetes-list-type", "set"},
          {"x-kubernetes-patch-strategy", "merge"}}},
        {"managedFields",
         {{"type", "array"},
          {"description", "Which field manager owns which fields (server-side apply)."},
          {"items",
           {{"allOf", Json::array({Ref(m + "ManagedFieldsEntry")})}, {"default", Json::object()}}},
          {"x-kubernetes-list-type", "atomic"}}}}},
  };

  Json owner_reference = {
      {"description", "Identifies an owning object."},
      {"type", "object"},
      {"required", Json::array({"apiVersion", "kind", "name", "uid"})},
      {"properties",
       {{"apiVersion", StringProp("API version of the owner.")},
        {"kind", StringProp("Kind of the owner.")},
        {"name", StringProp("Name of the owner.")},
        {"uid", StringProp("UID of the owner.")},
        {"controller",
         {{"type", "boolean"}, {"description", "Whether the owner is the managing controller."}}},
        {"blockOwnerDeletion",
         {{"type", "boolean"},
          {"description", "Foreground deletion of the owner waits for this object."}}}}},
      {"x-kubernetes-map-type", "atomic"},
  };

  Json managed_fields_entry = {
      {"description", "The fields one manager owns, and how it last changed them."},
      {"type", "object"},
      {"properties",
       {{"apiVersion", StringProp("Version of the fields' schema.")},
        {"fieldsType", StringProp("Format of fieldsV1; always FieldsV1.")},
        {"fieldsV1", RefWithDescription(m + "FieldsV1", "The owned fields, as a set.")},
        {"manager", StringProp("Name of the field manager.")},
        {"operation", StringProp("Apply or Update.")},
        {"subresource", StringProp("The subresource written, e.g. status.")},
        {"time", RefWithDescription(m + "Time", "When the manager last changed its fields.")}}},
  };

  Json list_meta = {
      {"description", "Metadata of a list: its resourceVersion and the paging token."},
      {"type", "object"},
      {"properties",
       {{"continue", StringProp("Token for the next page; empty on the last one.")},
        {"remainingItemCount",
         {{"type", "integer"},
          {"format", "int64"},
          {"description", "Items left after this page."}}},
        {"resourceVersion", StringProp("Version of the list; watch from here.")},
        {"selfLink", StringProp("Deprecated; not set.")}}},
  };

  Json status_cause = {
      {"description", "One reason a request failed, with the field it concerns."},
      {"type", "object"},
      {"properties",
       {{"field", StringProp("Path of the field, e.g. spec.replicas.")},
        {"message", StringProp("Human-readable explanation.")},
        {"reason", StringProp("Machine-readable reason, e.g. FieldValueInvalid.")}}},
  };
  Json status_details = {
      {"description", "The object a Status is about."},
      {"type", "object"},
      {"properties",
       {{"causes",
         {{"type", "array"},
          {"items",
           {{"allOf", Json::array({Ref(m + "StatusCause")})}, {"default", Json::object()}}},
          {"x-kubernetes-list-type", "atomic"}}},
        {"group", StringProp("Group of the resource.")},
        {"kind", StringProp("Kind (or resource) of the object.")},
        {"name", StringProp("Name of the object.")},
        {"retryAfterSeconds", {{"type", "integer"}, {"format", "int32"}}},
        {"uid", StringProp("UID of the object.")}}},
  };
  Json status = {
      {"description", "The result of a call that returns no object, or of a failed call."},
      {"type", "object"},
      {"properties",
       {{"apiVersion", StringProp("v1")},
        {"kind", StringProp("Status")},
        {"code", {{"type", "integer"}, {"format", "int32"}, {"description", "HTTP status code."}}},
        {"details", RefWithDescription(m + "StatusDetails", "What the status is about.")},
        {"message", StringProp("Human-readable description.")},
        {"metadata", RefWithDescription(m + "ListMeta", "Standard list metadata.")},
        {"reason", StringProp("Machine-readable reason, e.g. NotFound.")},
        {"status", StringProp("Success or Failure.")}}},
      {"x-kubernetes-group-version-kind",
       Json::array({{{"group", ""}, {"version", "v1"}, {"kind", "Status"}}})},
  };
  Json preconditions = {
      {"description", "Conditions a delete requires."},
      {"type", "object"},
      {"properties",
       {{"resourceVersion", StringProp("The object must be at this resourceVersion.")},
        {"uid", StringProp("The object must have this UID.")}}},
  };
  Json delete_options = {
      {"description", "Options of a delete request."},
      {"type", "object"},
      {"properties",
       {{"apiVersion", StringProp("v1")},
        {"kind", StringProp("DeleteOptions")},
        {"dryRun", {{"type", "array"}, {"items", {{"type", "string"}, {"default", ""}}}}},
        {"gracePeriodSeconds", {{"type", "integer"}, {"format", "int64"}}},
        {"orphanDependents", {{"type", "boolean"}}},
        {"preconditions", RefWithDescription(m + "Preconditions", "Must hold to delete.")},
        {"propagationPolicy", StringProp("Orphan, Background or Foreground.")}}},
  };

  return {
      {m + "DeleteOptions", delete_options},
      {m + "FieldsV1",
       {{"description", "A set of fields, in the structured-merge-diff FieldsV1 encoding."},
        {"type", "object"}}},
      {m + "ListMeta", list_meta},
      {m + "ManagedFieldsEntry", managed_fields_entry},
      {m + "ObjectMeta", object_meta},
      {m + "OwnerReference", owner_reference},
      {m + "Patch",
       {{"description", "The body of a PATCH request, in the format its Content-Type names."},
        {"type", "object"}}},
      {m + "Preconditions", preconditions},
      {m + "Status", status},
      {m + "StatusCause", status_cause},
      {m + "StatusDetails", status_details},
      {m + "Time", time},
  };
}

struct Document {
  std::string json;
  std::string hash;
};

struct Snapshot {
  uint64_t generation = 0;
  std::string index;
  std::map<std::string, Document> documents;  // by group-version path
};

Snapshot Build(const api::ResourceRegistry& registry, uint64_t generation) {
  std::map<std::string, std::vector<api::ResourcePtr>> by_gv;
  for (const api::ResourcePtr& r : registry.All()) {
    by_gv[GroupVersionPath(r->group, r->version)].push_back(r);
  }
  Snapshot snap;
  snap.generation = generation;
  Json index = {{"paths", Json::object()}};
  static const Json kMetaSchemas = MetaSchemas();
  for (auto& [gv, resources] : by_gv) {
    Json paths = Json::object();
    Json schemas = kMetaSchemas;
    for (const api::ResourcePtr& r : resources) {
      AddResourcePaths(*r, paths);
      schemas[SchemaName(r->group, r->version, r->kind)] = KindSchema(*r);
      if (r->stored || !r->list_kind.empty()) {
        schemas[SchemaName(r->group, r->version, r->list_kind)] = ListSchema(*r);
      }
    }
    Json doc = {
        {"openapi", "3.0.0"},
        {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
        {"paths", std::move(paths)},
        {"components",
         {{"schemas", std::move(schemas)},
          {"securitySchemes",
           {{"BearerToken",
             {{"type", "apiKey"},
              {"name", "authorization"},
              {"in", "header"},
              {"description", "Bearer token authentication"}}}}}}},
        {"security", Json::array({{{"BearerToken", Json::array()}}})},
    };
    Document d;
    d.json = doc.dump();
    d.hash = HexSha256(d.json);
    index["paths"][gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + d.hash}};
    snap.documents.emplace(gv, std::move(d));
  }
  snap.index = index.dump();
  return snap;
}

// The current snapshot for `registry`, rebuilt when its generation moved. Shared so a document
// being sent stays valid while another request rebuilds.
std::shared_ptr<const Snapshot> Current(const api::ResourceRegistry& registry) {
  static std::mutex mu;
  static std::map<const api::ResourceRegistry*, std::shared_ptr<const Snapshot>> cache;
  // Read the generation before the resources: a change in between leaves a newer snapshot under
  // an older generation, which the next call replaces; never the reverse.
  uint64_t generation = registry.generation();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(&registry);
    if (it != cache.end() && it->second->generation == generation) return it->second;
  }
  auto snap = std::make_shared<const Snapshot>(Build(registry, generation));
  std::lock_guard<std::mutex> lock(mu);
  // Servers hold one registry; tests make many. Keep the cache from growing without bound.
  if (cache.size() >= 16) cache.clear();
  cache[&registry] = snap;
  return snap;
}

}  // namespace

std::string GroupVersionPath(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

std::string SchemaName(const std::string& group, const std::string& version,
                       const std::string& kind) {
  if (group == "apiextensions.k8s.io") {
    return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions." + version + "." + kind;
  }
  if (IsKubernetesGroup(group)) {
    std::string first = group.empty() ? "core" : group.substr(0, group.find('.'));
    return "io.k8s.api." + first + "." + version + "." + kind;
  }
  std::string reversed;
  size_t end = group.size();
  while (true) {
    size_t dot = group.rfind('.', end - 1);
    size_t begin = dot == std::string::npos ? 0 : dot + 1;
    if (!reversed.empty()) reversed += ".";
    reversed += group.substr(begin, end - begin);
    if (dot == std::string::npos) break;
    end = dot;
  }
  return reversed + "." + version + "." + kind;
}

bool SupportsStrategicMergePatch(const api::ResourceInfo& resource) {
  return resource.group.empty();
}

std::string OpenApiIndex(const api::ResourceRegistry& registry) { return Current(registry)->index; }

StatusOr<std::string> OpenApiDocument(const api::ResourceRegistry& registry,
                                      const std::string& group_version_path) {
  auto snap = Current(registry);
  auto it = snap->documents.find(group_version_path);
  if (it == snap->documents.end()) {
    return Status::NotFound("no OpenAPI document for " + Json(group_version_path).dump());
  }
  return it->second.json;
}

StatusOr<std::string> OpenApiDocumentHash(const api::ResourceRegistry& registry,
                                          const std::string& group_version_path) {
  auto snap = Current(registry);
  auto it = snap->documents.find(group_version_path);
  if (it == snap->documents.end()) {
    return Status::NotFound("no OpenAPI document for " + Json(group_version_path).dump());
  }
  return it->second.hash;
}

}  // namespace skiff::apiserver

// The Model Registry over the Kubernetes API. RegisteredModel, ModelVersion and ModelArtifact
// objects of one namespace are read and written as the Model Registry REST API v1alpha3's entities
// (numeric string ids, createTimeSinceEpoch, customProperties as MetadataValues, LIVE/ARCHIVED),
// plus MLflow-style aliases on a RegisteredModel (spec.aliases, status.aliasHistory).
//
// Ids: one counter per namespace in the ConfigMap `model-registry-ids` (data.next), advanced by
// compare-and-swap, so ids are numeric, never reused and in creation order. An object's id is its
// label modelregistry.kubeflow.org/id (and status.id); objects created with kubectl get one the
// first time the registry lists them.
#pragma once

#include <string>

#include "client/client.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::registry {

inline constexpr char kGroup[] = "modelregistry.kubeflow.org";
inline constexpr char kApiVersion[] = "modelregistry.kubeflow.org/v1alpha1";
inline constexpr char kIdLabel[] = "modelregistry.kubeflow.org/id";
inline constexpr char kModelIdLabel[] = "modelregistry.kubeflow.org/registered-model-id";
inline constexpr char kVersionIdLabel[] = "modelregistry.kubeflow.org/model-version-id";
inline constexpr char kIdsConfigMap[] = "model-registry-ids";

enum class Kind { kRegisteredModel, kModelVersion, kModelArtifact };

client::Resource ResourceOf(Kind kind);

// A list call's parameters, as the REST API's query strings.
struct ListQuery {
  std::string page_size;        // "" = 100
  std::string order_by;         // CREATE_TIME, LAST_UPDATE_TIME, ID (default), NAME
  std::string sort_order;       // ASC (default), DESC
  std::string next_page_token;  // from the previous page
  std::string filter_query;     // see filter_query.h
};

// Not thread-safe (one per request); the Client it uses must outlive it. Errors carry the HTTP
// code the REST API answers with (400, 404, 409) and upstream's messages where it has them.
class Registry {
 public:
  // `user` is recorded in alias history.
  Registry(client::Client* client, std::string ns, std::string user = "");

  // REST entities. `parent_id`: the registered model of a version, the version of an artifact
  // ("" for none, or taken from the body's registeredModelId).
  StatusOr<Json> Create(Kind kind, const Json& body, const std::string& parent_id = "");
  StatusOr<Json> Get(Kind kind, const std::string& id);
  // By name (within `parent_id` when given) or by externalId.
  StatusOr<Json> Find(Kind kind, const std::string& name, const std::string& external_id,
                      const std::string& parent_id);
  // {items, nextPageToken, pageSize, size}; `parent_id` restricts to one model's versions or one
  // version's artifacts.
  StatusOr<Json> List(Kind kind, const ListQuery& query, const std::string& parent_id = "");
  // PATCH: the fields present replace the stored ones (null removes); name cannot change.
  StatusOr<Json> Update(Kind kind, const std::string& id, const Json& body);
  // POST model_versions/{id}/artifacts: a body with an id attaches that artifact to the version
  // (`*created` false), otherwise a new one is created.
  StatusOr<Json> UpsertVersionArtifact(const std::string& version_id, const Json& body,
                                       bool* created);

  // By names, as Kubernetes objects (the plugin and URI resolution).
  StatusOr<Json> ModelObject(const std::string& model);
  StatusOr<Json> VersionObject(const std::string& model, const std::string& version);
  // The version's model artifact URI: its first ModelArtifact with a uri, else spec.artifact.uri.
  StatusOr<std::string> ArtifactUri(const Json& version_object);

  // Points `alias` of `model` at `version` (moving it from the version that held it) and records
  // the move in status.aliasHistory. An ARCHIVED version cannot take an alias. Returns the
  // RegisteredModel object.
  StatusOr<Json> Promote(const std::string& model, const std::string& version,
                         const std::string& alias);
  // Sets a version ARCHIVED (refused while an alias points at it) or, with `version` empty, the
  // model. Returns the archived object.
  StatusOr<Json> Archive(const std::string& model, const std::string& version);
  // Removes what a failed multi-step registration created (the plugin's rollback); the REST API
  // has no delete (archive instead).
  Status Delete(Kind kind, const std::string& id);

  // The REST entity of a stored object.
  static Json ToRest(Kind kind, const Json& object);

 private:
  StatusOr<Json> ListObjects(Kind kind);
  StatusOr<Json> ObjectById(Kind kind, const std::string& id);
  StatusOr<std::string> NextId();
  Status EnsureIds(Kind kind, Json* objects);
  StatusOr<Json> CreateObject(Kind kind, const std::string& base_name, Json object);
  StatusOr<Json> Write(Kind kind, Json object);
  Status MirrorArtifact(const std::string& version_id);
  Status SetVersionAliases(const std::string& model, const Json& aliases);

  client::Client* client_;
  std::string ns_;
  std::string user_;
};

// A DNS-1123 object name for a registry name: lowercase, invalid characters as '-', and a short
// hash suffix whenever that changed anything (so different names never share an object name).
std::string ObjectName(const std::string& name);

}  // namespace skiff::registry

// Model Registry URIs in an InferenceService's storageUri, resolved to the artifact URI of a
// model version (which is then resolved like any other storageUri):
//   model-registry://<model>/<version>   KServe's model-registry storage URI
//   model-registry://<model>             the model's newest LIVE version
//   models:/<model>@<alias>              MLflow-style alias (production, staging, ...)
//   models:/<model>/<version>            a version by name; models:/<model>/latest the newest LIVE
#pragma once

#include <string>

#include "client/client.h"
#include "common/status.h"

namespace skiff::registry {

struct ResolvedModel {
  std::string model;
  std::string version;
  std::string version_id;  // the REST API id ("" for versions not yet listed by the registry)
  std::string alias;       // when resolved through one
  std::string artifact_uri;
};

bool IsRegistryUri(const std::string& uri);

// The registered model a registry URI names ("" when `uri` is not one). Services that follow a
// model re-resolve when its RegisteredModel or one of its ModelVersions changes.
std::string ModelOfUri(const std::string& uri);

// Looks the version up through `client` in namespace `ns`. Errors: kBadRequest for a malformed
// URI, kNotFound for an unknown model/version/alias, kInvalid for an ARCHIVED version or one
// without an artifact; messages say what to do.
StatusOr<ResolvedModel> ResolveModelUri(client::Client* client, const std::string& ns,
                                        const std::string& uri);

}  // namespace skiff::registry

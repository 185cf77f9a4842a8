// OpenAPI v3 documents of the served resources, as a Kubernetes API server publishes them at
// /openapi/v3 (an index) and /openapi/v3/<api/v1|apis/group/version> (one document each).
// kubectl needs them: `apply` (client-side validation is skipped only when the PATCH operation
// lists the `fieldValidation` query parameter), the choice between strategic-merge and merge patch
// (by the PATCH request body's content types) and `explain` (schemas found by
// x-kubernetes-group-version-kind).
//
// Thread-safe. Documents are built once per registry generation and cached.
#pragma once

#include <string>

#include "api/resource.h"
#include "common/status.h"

namespace skiff::apiserver {

// The /openapi/v3 index: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}}},
// one entry per served group-version; H changes whenever that group-version's document does.
std::string OpenApiIndex(const api::ResourceRegistry& registry);

// The document of one group-version, addressed as in the index ("api/v1", "apis/kubeflow.org/v1");
// NotFound for a group-version the registry does not serve.
StatusOr<std::string> OpenApiDocument(const api::ResourceRegistry& registry,
                                      const std::string& group_version_path);

// The hash the index lists for that document (upper-case hex SHA-256), for the ETag header and to
// answer `?hash=` requests with `Cache-Control: public, immutable` as Kubernetes does.
StatusOr<std::string> OpenApiDocumentHash(const api::ResourceRegistry& registry,
                                          const std::string& group_version_path);

// "api/v1" for the core group, "apis/<group>/<version>" otherwise.
std::string GroupVersionPath(const std::string& group, const std::string& version);

// The components.schemas name of a kind, as Kubernetes names it: "io.k8s.api.core.v1.Pod" for
// Kubernetes' own groups, the reversed group for others ("org.kubeflow.v1.TFJob").
std::string SchemaName(const std::string& group, const std::string& version,
                       const std::string& kind);

// Whether PATCH accepts application/strategic-merge-patch+json for this resource: the core group's
// kinds only. Custom kinds never do (as on a real cluster), so kubectl falls back to merge patch.
// The PATCH handler should use this too, so the documents never promise what the server refuses.
bool SupportsStrategicMergePatch(const api::ResourceInfo& resource);

}  // namespace skiff::apiserver

// Read-only HTTP access to the lineage store, served beside the Kubernetes API:
//   GET /apis/skiff.io/v1/lineage?uri=URI              the provenance of one artifact
//   GET /apis/skiff.io/v1/artifacts?type=TYPE&limit=N  artifacts, newest first
//   GET /apis/skiff.io/v1/executions?run=UID           the executions of one run
// skiff.io/v1 is not a served API group (only the schema files' apiVersion), so these paths
// collide with no discovery document or kind.
#pragma once

#include "apiserver/handler.h"
#include "pipelines/lineage.h"

namespace skiff::pipelines {

inline constexpr char kLineageApiPrefix[] = "/apis/skiff.io/v1/";

// `store` is not owned and must outlive the route. Only authenticated users are answered;
// errors are Kubernetes Status objects.
apiserver::ExtraRoute LineageRoutes(LineageStore* store);

}  // namespace skiff::pipelines

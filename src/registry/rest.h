// The Model Registry REST API v1alpha3 (/api/model_registry/v1alpha3/...) as a route of skiff's
// API server: a facade over the RegisteredModel / ModelVersion / ModelArtifact objects, acting as
// the requesting user (so RBAC applies as it does to kubectl).
#pragma once

#include "apiserver/handler.h"
#include "apiserver/object_api.h"

namespace skiff::registry {

inline constexpr char kRestPrefix[] = "/api/model_registry/v1alpha3/";

// Serves the registry of namespace `?namespace=` (a skiff extension), else "default". `api` must
// outlive the route.
apiserver::ExtraRoute RegistryRoutes(apiserver::ObjectApi* api);

}  // namespace skiff::registry

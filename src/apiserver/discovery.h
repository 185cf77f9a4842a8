// Discovery documents: the legacy per-group form (/api, /apis, /api/v1, /apis/<g>/<v>) and the
// aggregated form (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) that lets kubectl skip the
// per-group calls.
#pragma once

#include "api/resource.h"
#include "common/json.h"

namespace skiff::apiserver {

Json CoreApiVersions(const std::string& server_address);   // GET /api
Json ApiGroupList(const api::ResourceRegistry& registry);  // GET /apis
// GET /api/v1 or /apis/<g>/<v>; null when the group-version is not served.
Json ApiResourceList(const api::ResourceRegistry& registry, const std::string& group,
                     const std::string& version);
// GET /apis/<g>; null when not served.
Json ApiGroup(const api::ResourceRegistry& registry, const std::string& group);
// Aggregated discovery: `core` true for /api, false for /apis.
Json AggregatedDiscovery(const api::ResourceRegistry& registry, bool core, const char* api_version);

// Extra subresources served for a kind beyond /status (pods/log, pods/binding, ...).
std::vector<std::string> ExtraSubresources(const api::ResourceInfo& res);

}  // namespace skiff::apiserver

// Which resources hold objects: the collections the garbage collector and the namespace
// controller must walk. One entry per stored (group, plural), at the group's preferred version,
// since other versions and alias groups are views of the same objects.
#pragma once

#include <vector>

#include "api/resource.h"
#include "client/client.h"

namespace skiff::controllers {

// Stored, listable, watchable and deletable resources, one per (group, plural).
std::vector<api::ResourcePtr> StoredResources(const api::ResourceRegistry& registry);

inline client::Resource ClientResource(const api::ResourceInfo& res) {
  return client::Resource{res.group, res.version, res.plural};
}

}  // namespace skiff::controllers

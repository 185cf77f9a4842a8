#include "controllers/stored_resources.h"

#include <algorithm>
#include <map>

namespace skiff::controllers {
namespace {

bool HasVerb(const api::ResourceInfo& res, const char* verb) {
  if (res.verbs.empty()) return true;
  return std::find(res.verbs.begin(), res.verbs.end(), verb) != res.verbs.end();
}

}  // namespace

std::vector<api::ResourcePtr> StoredResources(const api::ResourceRegistry& registry) {
  std::map<std::string, size_t> rank;  // "group/version" -> preference, lower is better
  for (const auto& gv : registry.Groups()) {
    for (size_t i = 0; i < gv.versions.size(); ++i) rank[gv.group + "/" + gv.versions[i]] = i;
  }
  std::map<std::string, api::ResourcePtr> chosen;  // "group/plural"
  for (const api::ResourcePtr& res : registry.All()) {
    if (!res->stored) continue;
    if (!res->storage_group.empty() && res->storage_group != res->group) continue;
    if (!HasVerb(*res, "list") || !HasVerb(*res, "watch") || !HasVerb(*res, "delete")) continue;
    auto& slot = chosen[res->group + "/" + res->plural];
    if (!slot || rank[res->group + "/" + res->version] < rank[slot->group + "/" + slot->version]) {
      slot = res;
    }
  }
  std::vector<api::ResourcePtr> out;
  out.reserve(chosen.size());
  for (auto& [key, res] : chosen) out.push_back(std::move(res));
  return out;
}

}  // namespace skiff::controllers

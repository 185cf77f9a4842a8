// RestMapper: discovery documents in, resource lookups out.
#include "cli/rest_mapper.h"

#include <algorithm>
#include <cctype>

namespace skiff::cli {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string Str(const Json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

bool NameMatches(const Mapping& m, const std::string& name) {
  if (m.resource.plural == name || m.singular == name || Lower(m.kind) == name) return true;
  return std::find(m.short_names.begin(), m.short_names.end(), name) != m.short_names.end();
}

Status ReadDiscoveryList(const Json& list, std::vector<Mapping>* out) {
  if (!list.is_object() || Str(list, "kind") != "APIGroupDiscoveryList") {
    return Status::Internal("the server's discovery answer is not an APIGroupDiscoveryList");
  }
  for (const Json& item : list.value("items", Json::array())) {
    const std::string group = item.contains("metadata") ? Str(item["metadata"], "name") : "";
    for (const Json& version : item.value("versions", Json::array())) {
      const std::string v = Str(version, "version");
      for (const Json& r : version.value("resources", Json::array())) {
        Mapping m;
        m.resource = {group, v, Str(r, "resource")};
        m.kind = r.contains("responseKind") ? Str(r["responseKind"], "kind") : "";
        m.singular = Str(r, "singularResource");
        if (m.singular.empty()) m.singular = Lower(m.kind);
        m.namespaced = Str(r, "scope") != "Cluster";
        for (const Json& s : r.value("shortNames", Json::array())) {
          if (s.is_string()) m.short_names.push_back(s.get<std::string>());
        }
        for (const Json& c : r.value("categories", Json::array())) {
          if (c.is_string()) m.categories.push_back(c.get<std::string>());
        }
        if (m.resource.plural.empty() || m.kind.empty()) continue;
        out->push_back(std::move(m));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

std::string Mapping::GroupResource() const {
  return resource.group.empty() ? resource.plural : resource.plural + "." + resource.group;
}

std::string Mapping::KindGroup() const {
  return resource.group.empty() ? Lower(kind) : Lower(kind) + "." + resource.group;
}

std::string Mapping::ApiVersion() const {
  return resource.group.empty() ? resource.version : resource.group + "/" + resource.version;
}

StatusOr<RestMapper> RestMapper::FromAggregatedDiscovery(const Json& core, const Json& groups) {
  std::vector<Mapping> all;
  SKIFF_RETURN_IF_ERROR(ReadDiscoveryList(core, &all));
  SKIFF_RETURN_IF_ERROR(ReadDiscoveryList(groups, &all));
  return RestMapper(std::move(all));
}

StatusOr<Mapping> RestMapper::ForArg(const std::string& arg) const {
  const std::string lower = Lower(arg);
  // An unqualified name first, so `pods` never reads as resource "pods" in group "".
  for (const Mapping& m : mappings_) {
    if (NameMatches(m, lower)) return m;
  }
  // `tfjob.kubeflow.org` or `tfjobs.v1.kubeflow.org`: the qualifier is a group, or a version
  // followed by a group. Groups contain dots themselves, so try every split point.
  for (size_t dot = lower.find('.'); dot != std::string::npos; dot = lower.find('.', dot + 1)) {
    const std::string name = lower.substr(0, dot);
    const std::string qualifier = lower.substr(dot + 1);
    for (const Mapping& m : mappings_) {
      if (!NameMatches(m, name)) continue;
      if (m.resource.group == qualifier ||
          m.resource.version + "." + m.resource.group == qualifier) {
        return m;
      }
    }
  }
  return Status::NotFound("the server doesn't have a resource type \"" + arg + "\"");
}

std::vector<Mapping> RestMapper::ForCategory(const std::string& category) const {
  std::vector<Mapping> out;
  const std::string lower = Lower(category);
  for (const Mapping& m : mappings_) {
    if (std::find(m.categories.begin(), m.categories.end(), lower) == m.categories.end()) continue;
    // A group served in several versions lists the kind once per version; the first is preferred.
    const bool seen = std::any_of(out.begin(), out.end(), [&](const Mapping& o) {
      return o.GroupResource() == m.GroupResource();
    });
    if (!seen) out.push_back(m);
  }
  return out;
}

StatusOr<Mapping> RestMapper::ForKind(const std::string& api_version,
                                      const std::string& kind) const {
  std::string group, version = api_version;
  if (size_t slash = api_version.find('/'); slash != std::string::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  for (const Mapping& m : mappings_) {
    if (m.kind == kind && m.resource.group == group && m.resource.version == version) return m;
  }
  return Status::NotFound("no matches for kind \"" + kind + "\" in version \"" + api_version +
                          "\"");
}

}  // namespace skiff::cli

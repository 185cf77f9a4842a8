#include "apiserver/discovery.h"

namespace skiff::apiserver {

namespace {

Json Verbs(const api::ResourceInfo& res) {
  if (!res.verbs.empty()) return res.verbs;
  if (!res.stored) return Json::array({"create"});
  return Json::array(
      {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"});
}

Json SubresourceVerbs(const std::string& sub) {
  if (sub == "status") return Json::array({"get", "patch", "update"});
  if (sub == "log") return Json::array({"get"});
  if (sub == "binding" || sub == "eviction") return Json::array({"create"});
  return Json::array({"get"});
}

std::vector<std::string> Subresources(const api::ResourceInfo& res) {
  std::vector<std::string> subs;
  if (res.status_subresource) subs.push_back("status");
  for (auto& s : ExtraSubresources(res)) subs.push_back(s);
  return subs;
}

}  // namespace

std::vector<std::string> ExtraSubresources(const api::ResourceInfo& res) {
  if (res.group.empty() && res.kind == "Pod") return {"log", "binding", "eviction"};
  return {};
}

Json CoreApiVersions(const std::string& server_address) {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}}};
}

Json ApiGroup(const api::ResourceRegistry& registry, const std::string& group) {
  for (const auto& gv : registry.Groups()) {
    if (gv.group != group || group.empty()) continue;
    Json versions = Json::array();
    for (const auto& v : gv.versions) {
      versions.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    }
    return {{"kind", "APIGroup"},
            {"apiVersion", "v1"},
            {"name", group},
            {"versions", versions},
            {"preferredVersion", versions[0]}};
  }
  return nullptr;
}

Json ApiGroupList(const api::ResourceRegistry& registry) {
  Json groups = Json::array();
  for (const auto& gv : registry.Groups()) {
    if (gv.group.empty()) continue;
    Json g = ApiGroup(registry, gv.group);
    g.erase("kind");
    g.erase("apiVersion");
    groups.push_back(std::move(g));
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

Json ApiResourceList(const api::ResourceRegistry& registry, const std::string& group,
                     const std::string& version) {
  Json resources = Json::array();
  bool found = false;
  for (const auto& res : registry.All()) {
    if (res->group != group || res->version != version) continue;
    found = true;
    Json r = {{"name", res->plural},
              {"singularName", res->singular},
              {"namespaced", res->namespaced},
              {"kind", res->kind},
              {"verbs", Verbs(*res)}};
    if (!res->short_names.empty()) r["shortNames"] = res->short_names;
    if (!res->categories.empty()) r["categories"] = res->categories;
    resources.push_back(r);
    for (const std::string& sub : Subresources(*res)) {
      resources.push_back({{"name", res->plural + "/" + sub},
                           {"singularName", ""},
                           {"namespaced", res->namespaced},
                           {"kind", sub == "binding"    ? "Binding"
                                    : sub == "eviction" ? "Eviction"
                                                        : res->kind},
                           {"verbs", SubresourceVerbs(sub)}});
    }
  }
  if (!found) return nullptr;
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

Json AggregatedDiscovery(const api::ResourceRegistry& registry, bool core,
                         const char* api_version) {
  Json items = Json::array();
  auto all = registry.All();
  for (const auto& gv : registry.Groups()) {
    if (core != gv.group.empty()) continue;
    Json versions = Json::array();
    for (const std::string& v : gv.versions) {
      Json resources = Json::array();
      for (const auto& res : all) {
        if (res->group != gv.group || res->version != v) continue;
        Json kind = {{"group", res->group}, {"version", res->version}, {"kind", res->kind}};
        Json r = {{"resource", res->plural},
                  {"responseKind", kind},
                  {"scope", res->namespaced ? "Namespaced" : "Cluster"},
                  {"singularResource", res->singular},
                  {"verbs", Verbs(*res)}};
        if (!res->short_names.empty()) r["shortNames"] = res->short_names;
        if (!res->categories.empty()) r["categories"] = res->categories;
        Json subs = Json::array();
        for (const std::string& sub : Subresources(*res)) {
          Json sk = kind;
          if (sub == "binding") sk["kind"] = "Binding";
          if (sub == "eviction")
            sk = {{"group", "policy"}, {"version", "v1"}, {"kind", "Eviction"}};
          subs.push_back(
              {{"subresource", sub}, {"responseKind", sk}, {"verbs", SubresourceVerbs(sub)}});
        }
        if (!subs.empty()) r["subresources"] = subs;
        resources.push_back(r);
      }
      versions.push_back({{"version", v}, {"resources", resources}, {"freshness", "Current"}});
    }
    Json meta = {{"name", gv.group}, {"creationTimestamp", nullptr}};
    items.push_back({{"metadata", meta}, {"versions", versions}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", api_version},
          {"metadata", Json::object()},
          {"items", items}};
}

}  // namespace skiff::apiserver

// models:/ and model-registry:// → a version's artifact URI.
#include "registry/model_uri.h"

#include "registry/registry.h"

namespace skiff::registry {

namespace {

constexpr char kKserveScheme[] = "model-registry://";
constexpr char kMlflowScheme[] = "models:/";

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

struct Parsed {
  std::string model, version, alias;
  bool latest = false;
};

StatusOr<Parsed> Parse(const std::string& uri) {
  Parsed p;
  auto bad = [&](const std::string& expected) {
    return Status::BadRequest("storageUri " + uri + ": expected " + expected);
  };
  if (StartsWith(uri, kKserveScheme)) {
    std::string rest = uri.substr(sizeof(kKserveScheme) - 1);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    const size_t slash = rest.find('/');
    p.model = rest.substr(0, slash);
    if (slash == std::string::npos) {
      p.latest = true;
    } else {
      p.version = rest.substr(slash + 1);
    }
    if (p.model.empty() ||
        (!p.latest && (p.version.empty() || p.version.find('/') != std::string::npos))) {
      return bad("model-registry://<model>/<version> or model-registry://<model>");
    }
    return p;
  }
  if (StartsWith(uri, kMlflowScheme)) {
    std::string rest = uri.substr(sizeof(kMlflowScheme) - 1);
    while (!rest.empty() && rest.front() == '/') rest.erase(0, 1);
    const size_t at = rest.find('@');
    const size_t slash = rest.find('/');
    if (at != std::string::npos && slash == std::string::npos) {
      p.model = rest.substr(0, at);
      p.alias = rest.substr(at + 1);
    } else if (slash != std::string::npos && at == std::string::npos) {
      p.model = rest.substr(0, slash);
      p.version = rest.substr(slash + 1);
      if (p.version == "latest") {
        p.version.clear();
        p.latest = true;
      }
    }
    if (p.model.empty() || (p.alias.empty() && p.version.empty() && !p.latest) ||
        p.version.find('/') != std::string::npos) {
      return bad("models:/<model>@<alias>, models:/<model>/<version> or models:/<model>/latest");
    }
    return p;
  }
  return bad("a model-registry:// or models:/ URI");
}

}  // namespace

bool IsRegistryUri(const std::string& uri) {
  return StartsWith(uri, kKserveScheme) || StartsWith(uri, kMlflowScheme);
}

std::string ModelOfUri(const std::string& uri) {
  auto p = Parse(uri);
  return p.ok() ? p->model : "";
}

StatusOr<ResolvedModel> ResolveModelUri(client::Client* client, const std::string& ns,
                                        const std::string& uri) {
  auto parsed = Parse(uri);
  if (!parsed.ok()) return parsed.status();
  Registry registry(client, ns);
  auto model = registry.ModelObject(parsed->model);
  if (!model.ok()) {
    return Status(model.status().code(),
                  "storageUri " + uri + ": " + model.status().message() +
                      " (register it with `kubectl kubeflow model register`)");
  }
  ResolvedModel r;
  r.model = parsed->model;
  r.alias = parsed->alias;
  if (!parsed->alias.empty()) {
    const Json* aliases = FindPath(*model, "spec.aliases");
    if (!aliases || !aliases->is_object() || !aliases->contains(parsed->alias) ||
        !(*aliases)[parsed->alias].is_string()) {
      return Status::NotFound("storageUri " + uri + ": model " + r.model + " has no alias \"" +
                              parsed->alias +
                              "\" (set it with `kubectl kubeflow model promote --name " + r.model +
                              " --version <version> --target " + parsed->alias + "`)");
    }
    r.version = (*aliases)[parsed->alias].get<std::string>();
  } else if (parsed->latest) {
    // The newest LIVE version by REST id (creation order).
    ListQuery q;
    q.order_by = "ID";
    q.sort_order = "DESC";
    q.filter_query = "state = 'LIVE'";
    q.page_size = "1";
    auto list = registry.List(Kind::kModelVersion, q, StringAt(*model, "status.id"));
    if (!list.ok()) return list.status();
    if ((*list)["items"].empty()) {
      return Status::NotFound("storageUri " + uri + ": model " + r.model + " has no LIVE version");
    }
    r.version = (*list)["items"][0].value("name", "");
  } else {
    r.version = parsed->version;
  }
  auto version = registry.VersionObject(r.model, r.version);
  if (!version.ok())
    return Status(version.status().code(), "storageUri " + uri + ": " + version.status().message());
  if (StringAt(*version, "spec.state") == "ARCHIVED") {
    return Status::Invalid("storageUri " + uri + ": version " + r.version + " of model " + r.model +
                           " is ARCHIVED; promote or name a LIVE version");
  }
  r.version_id = StringAt(*version, "status.id");
  auto artifact = registry.ArtifactUri(*version);
  if (!artifact.ok()) {
    return Status::Invalid("storageUri " + uri + ": " + artifact.status().message());
  }
  if (IsRegistryUri(*artifact)) {
    return Status::Invalid("storageUri " + uri + ": the artifact URI " + *artifact +
                           " is itself a registry URI");
  }
  r.artifact_uri = *artifact;
  return r;
}

}  // namespace skiff::registry

// Routing of the Model Registry REST API onto Registry calls, and upstream's JSON error body.
#include "registry/rest.h"

#include <vector>

#include "client/inprocess_client.h"
#include "registry/registry.h"

namespace skiff::registry {

namespace {

http::Reply JsonReply(int status, const Json& body) {
  http::Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

// Upstream's Error schema: {code, message}; code is the HTTP status as a string.
http::Reply ErrorReply(const Status& s) {
  const int code = s.HttpCode();
  return JsonReply(code, {{"code", std::to_string(code)}, {"message", s.message()}});
}

http::Reply Answer(const StatusOr<Json>& result, int ok_status = 200) {
  if (!result.ok()) return ErrorReply(result.status());
  return JsonReply(ok_status, *result);
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

ListQuery QueryOf(const http::Request& req) {
  ListQuery q;
  q.page_size = req.Query("pageSize");
  q.order_by = req.Query("orderBy");
  q.sort_order = req.Query("sortOrder");
  q.next_page_token = req.Query("nextPageToken");
  q.filter_query = req.Query("filterQuery");
  return q;
}

StatusOr<Json> Body(const http::Request& req) {
  auto body = ParseJson(req.body);
  if (!body.ok())
    return Status::BadRequest("the request body is not JSON: " + body.status().message());
  if (!body->is_object()) return Status::BadRequest("the request body must be a JSON object");
  return body;
}

struct Collection {
  const char* plural;    // registered_models
  const char* singular;  // registered_model (find)
  Kind kind;
  const char* children;  // versions / artifacts ("" for none)
};

constexpr Collection kCollections[] = {
    {"registered_models", "registered_model", Kind::kRegisteredModel, "versions"},
    {"model_versions", "model_version", Kind::kModelVersion, "artifacts"},
    {"model_artifacts", "model_artifact", Kind::kModelArtifact, ""},
};

http::Reply NotAllowed(const http::Request& req) {
  return ErrorReply(
      Status(Code::kMethodNotAllowed, "method " + req.method + " is not allowed on " + req.path));
}

http::Reply Serve(http::Request& req, Registry& registry, const std::vector<std::string>& parts) {
  for (const Collection& c : kCollections) {
    if (parts[0] == c.singular && parts.size() == 1) {
      if (req.method != "GET") return NotAllowed(req);
      return Answer(registry.Find(c.kind, req.Query("name"), req.Query("externalId"),
                                  req.Query("parentResourceId")));
    }
    if (parts[0] != c.plural) continue;
    if (parts.size() == 1) {
      if (req.method == "GET") return Answer(registry.List(c.kind, QueryOf(req)));
      if (req.method != "POST") return NotAllowed(req);
      auto body = Body(req);
      if (!body.ok()) return ErrorReply(body.status());
      return Answer(registry.Create(c.kind, *body), 201);
    }
    const std::string& id = parts[1];
    if (parts.size() == 2) {
      if (req.method == "GET") return Answer(registry.Get(c.kind, id));
      if (req.method != "PATCH") return NotAllowed(req);
      auto body = Body(req);
      if (!body.ok()) return ErrorReply(body.status());
      return Answer(registry.Update(c.kind, id, *body));
    }
    if (parts.size() == 3 && *c.children && parts[2] == c.children) {
      const Kind child =
          c.kind == Kind::kRegisteredModel ? Kind::kModelVersion : Kind::kModelArtifact;
      if (req.method == "GET") {
        ListQuery q = QueryOf(req);
        // The child list may also be narrowed by name/externalId, as upstream allows.
        std::string extra;
        auto quote = [](const std::string& v) {
          std::string out = "'";
          for (char ch : v) out += ch == '\'' ? std::string("''") : std::string(1, ch);
          return out + "'";
        };
        if (!req.Query("name").empty()) extra = "name = " + quote(req.Query("name"));
        if (!req.Query("externalId").empty()) {
          extra += (extra.empty() ? "" : " AND ") + std::string("externalId = ") +
                   quote(req.Query("externalId"));
        }
        if (!extra.empty()) {
          q.filter_query = q.filter_query.empty() ? extra : "(" + q.filter_query + ") AND " + extra;
        }
        return Answer(registry.List(child, q, id));
      }
      if (req.method != "POST") return NotAllowed(req);
      auto body = Body(req);
      if (!body.ok()) return ErrorReply(body.status());
      if (child == Kind::kModelVersion) return Answer(registry.Create(child, *body, id), 201);
      bool created = false;
      auto r = registry.UpsertVersionArtifact(id, *body, &created);
      return Answer(r, created ? 201 : 200);
    }
  }
  return ErrorReply(Status::NotFound("no such Model Registry path: " + req.path));
}

}  // namespace

apiserver::ExtraRoute RegistryRoutes(apiserver::ObjectApi* api) {
  return [api](http::Request& req, const apiserver::UserInfo& user) -> std::optional<http::Reply> {
    const std::string prefix = kRestPrefix;
    if (req.path.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    const std::vector<std::string> parts = Split(req.path.substr(prefix.size()));
    if (parts.empty())
      return ErrorReply(Status::NotFound("no such Model Registry path: " + req.path));
    auto client = client::NewInProcessClient(api, user);
    const std::string ns = req.Query("namespace", "default");
    Registry registry(client.get(), ns, user.name);
    return Serve(req, registry, parts);
  };
}

}  // namespace skiff::registry

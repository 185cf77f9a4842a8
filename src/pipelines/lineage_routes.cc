// The lineage routes: parse the query, ask the store, answer JSON or a Kubernetes Status.
#include "pipelines/lineage_routes.h"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace skiff::pipelines {
namespace {

http::Response JsonReply(int code, const Json& body) {
  http::Response r;
  r.status = code;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

http::Response ErrorReply(const Status& status) {
  return JsonReply(status.HttpCode(), apiserver::StatusToJson(status));
}

// Lineage names code, images and data locations: not for anonymous callers. The API server's
// authenticator adds system:authenticated to every user it verified (token or certificate).
bool Authenticated(const apiserver::UserInfo& user) {
  return !user.name.empty() && user.name != "system:anonymous" &&
         std::find(user.groups.begin(), user.groups.end(), "system:authenticated") !=
             user.groups.end();
}

http::Response Serve(LineageStore* store, const std::string& what, const http::Request& req) {
  if (what == "lineage") {
    const std::string uri = req.Query("uri");
    if (uri.empty()) return ErrorReply(Status::BadRequest("query parameter \"uri\" is required"));
    auto lineage = store->Lineage(uri);
    if (!lineage.ok()) return ErrorReply(lineage.status());
    return JsonReply(200, *lineage);
  }
  if (what == "artifacts") {
    int64_t limit = 0;
    if (req.HasQuery("limit")) {
      const std::string text = req.Query("limit");
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || end != text.data() + text.size() || limit < 0) {
        return ErrorReply(
            Status::BadRequest("limit must be a non-negative integer, not \"" + text + "\""));
      }
    }
    auto list = store->ListArtifacts(req.Query("type"), limit);
    if (!list.ok()) return ErrorReply(list.status());
    return JsonReply(200, *list);
  }
  // executions
  const std::string run = req.Query("run");
  if (run.empty()) return ErrorReply(Status::BadRequest("query parameter \"run\" is required"));
  auto executions = store->ExecutionsOfRun(run);
  if (!executions.ok()) return ErrorReply(executions.status());
  Json items = Json::array();
  for (const ExecutionRecord& e : *executions) items.push_back(ExecutionToJson(e));
  return JsonReply(200, Json{{"executions", std::move(items)}});
}

}  // namespace

apiserver::ExtraRoute LineageRoutes(LineageStore* store) {
  return
      [store](http::Request& req, const apiserver::UserInfo& user) -> std::optional<http::Reply> {
        std::string_view path = req.path;
        if (path.substr(0, sizeof(kLineageApiPrefix) - 1) != kLineageApiPrefix) return std::nullopt;
        std::string what(path.substr(sizeof(kLineageApiPrefix) - 1));
        if (!what.empty() && what.back() == '/') what.pop_back();
        if (what != "lineage" && what != "artifacts" && what != "executions") return std::nullopt;
        if (!Authenticated(user)) return ErrorReply(Status::Unauthorized("Unauthorized"));
        if (req.method != "GET" && req.method != "HEAD") {
          return ErrorReply(Status(Code::kMethodNotAllowed, "the lineage API is read-only: " +
                                                                req.method + " is not supported"));
        }
        return Serve(store, what, req);
      };
}

}  // namespace skiff::pipelines

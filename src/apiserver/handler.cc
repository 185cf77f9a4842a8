#include "apiserver/handler.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "apiserver/discovery.h"
#include "apiserver/openapi.h"
#include "apiserver/protobuf.h"
#include "apiserver/reviews.h"
#include "apiserver/table.h"
#include "common/log.h"

namespace skiff::apiserver {

namespace {

constexpr char kJson[] = "application/json";

http::Response JsonResponse(int status, const Json& body, const std::string& content_type = kJson) {
  http::Response r;
  r.status = status;
  r.content_type = content_type;
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool WantsTable(const http::Request& req) {
  return req.Header("Accept").find("as=Table") != std::string::npos;
}

bool WantsPartialMetadata(const http::Request& req) {
  return req.Header("Accept").find("as=PartialObjectMetadata") != std::string::npos;
}

std::string TableContentType() { return "application/json;as=Table;v=v1;g=meta.k8s.io"; }

// Go's strconv.ParseBool, which kube-apiserver uses: the python client sends "True".
bool QueryBool(const http::Request& req, const char* name) {
  std::string v = req.Query(name);
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE";
}

int64_t QueryInt(const http::Request& req, const char* name, int64_t fallback) {
  std::string v = req.Query(name);
  if (v.empty()) return fallback;
  try {
    return std::stoll(v);
  } catch (...) {
    return fallback;
  }
}

StatusOr<api::ListOptions> ListOptionsFrom(const http::Request& req) {
  api::ListOptions o;
  o.label_selector = req.Query("labelSelector");
  o.field_selector = req.Query("fieldSelector");
  o.limit = QueryInt(req, "limit", 0);
  if (o.limit < 0) return Status::BadRequest("limit must be a non-negative integer");
  o.continue_token = req.Query("continue");
  o.resource_version = req.Query("resourceVersion");
  return o;
}

api::WriteOptions WriteOptionsFrom(const http::Request& req) {
  api::WriteOptions o;
  o.field_manager = req.Query("fieldManager");
  o.dry_run = req.Query("dryRun") == "All";
  o.field_validation = req.Query("fieldValidation");
  o.force = QueryBool(req, "force");
  return o;
}

// Parses a request body in JSON, YAML or (for built-in kinds kubectl sends that way) protobuf,
// as its Content-Type says.
StatusOr<Json> ParseBody(const http::Request& req, const api::ResourceInfo& res) {
  std::string ct = req.Header("Content-Type");
  if (ct.find("protobuf") != std::string::npos) return DecodeProtobufBody(res, req.body);
  if (req.body.empty())
    return Status::BadRequest("the request body is empty; an object was expected");
  StatusOr<Json> body =
      ct.find("yaml") != std::string::npos ? ParseYaml(req.body) : ParseJson(req.body);
  if (!body.ok()) {
    // kubectl shows this message to the user: say what was wrong with their input.
    return Status::BadRequest("the body of the request could not be decoded: " +
                              body.status().message());
  }
  if (!body->is_object()) return Status::BadRequest("the request body must be a JSON object");
  return body;
}

std::string WarningHeader(const std::vector<std::string>& warnings) {
  std::string out;
  for (const std::string& w : warnings) {
    if (!out.empty()) out += ", ";
    out += "299 - " + Json(w).dump();
  }
  return out;
}

std::string ListJson(const api::ResourceInfo& res, const ListResult& list) {
  std::string out = "{\"apiVersion\":" + Json(res.ApiVersion()).dump() +
                    ",\"kind\":" + Json(res.list_kind).dump() + ",\"metadata\":{";
  out += "\"resourceVersion\":\"" + std::to_string(list.resource_version) + "\"";
  if (!list.continue_token.empty()) out += ",\"continue\":" + Json(list.continue_token).dump();
  if (list.remaining_item_count >= 0) {
    out += ",\"remainingItemCount\":" + std::to_string(list.remaining_item_count);
  }
  out += "},\"items\":[";
  for (size_t i = 0; i < list.items.size(); ++i) {
    if (i) out += ',';
    out += list.items[i];
  }
  out += "]}";
  return out;
}

Json PartialMetadata(const Json& obj) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", obj.value("metadata", Json::object())}};
}

std::string VerbFor(const std::string& method, bool has_name, bool watch) {
  if (method == "GET" || method == "HEAD") return watch ? "watch" : has_name ? "get" : "list";
  if (method == "POST") return "create";
  if (method == "PUT") return "update";
  if (method == "PATCH") return "patch";
  if (method == "DELETE") return has_name ? "delete" : "deletecollection";
  return "";
}

std::string VersionJson() {
  return Json{{"major", "1"},
              {"minor", "32"},
              {"gitVersion", "v1.32.0"},
              {"gitCommit", "skiff"},
              {"gitTreeState", "clean"},
              {"buildDate", "2026-11-29T00:00:00Z"},
              {"goVersion", "skiff (C++20)"},
              {"compiler", "gc"},
              {"platform", "linux/amd64"}}
      .dump();
}

}  // namespace

struct ApiHandler::Target {
  api::ResourcePtr res;
  std::string ns;
  std::string name;
  std::string subresource;
};

// Threads serving `kubectl logs -f`: counted so the handler can stop them and wait.
struct ApiHandler::LogStreams {
  std::mutex mu;
  std::condition_variable cv;
  int active = 0;         // GUARDED_BY(mu)
  bool stopping = false;  // GUARDED_BY(mu)
  std::atomic<bool> cancelled{false};

  bool Enter() {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) return false;
    ++active;
    return true;
  }
  void Leave() {
    std::lock_guard<std::mutex> lock(mu);
    if (--active == 0) cv.notify_all();
  }
  void StopAll() {
    cancelled = true;
    std::unique_lock<std::mutex> lock(mu);
    stopping = true;
    cv.wait(lock, [this] { return active == 0; });
  }
};

ApiHandler::ApiHandler(ObjectApi* api, Authenticator* authn, Authorizer* authz,
                       HandlerOptions options)
    : api_(api),
      authn_(authn),
      authz_(authz),
      options_(std::move(options)),
      log_streams_(std::make_shared<LogStreams>()) {}

ApiHandler::~ApiHandler() { StopLogStreams(); }

void ApiHandler::StopLogStreams() { log_streams_->StopAll(); }

http::Reply ApiHandler::ErrorReply(const Status& status) {
  return JsonResponse(status.HttpCode(), StatusToJson(status));
}

http::Reply ApiHandler::Handle(http::Request& req) {
  const std::string& path = req.path;
  if (path == "/healthz" || path == "/livez" || path == "/readyz" ||
      path.rfind("/healthz/", 0) == 0 || path.rfind("/livez/", 0) == 0 ||
      path.rfind("/readyz/", 0) == 0) {
    http::Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "ok";
    return r;
  }
  if (path == "/version" || path == "/version/") {
    http::Response r;
    r.body = VersionJson();
    return r;
  }
  auto user = authn_->Authenticate(req);
  if (!user.ok()) return ErrorReply(user.status());

  std::shared_ptr<std::vector<ExtraRoute>> routes;
  {
    std::lock_guard<std::mutex> lock(routes_mu_);
    routes = routes_;
  }
  for (auto& route : *routes) {
    if (auto reply = route(req, *user)) return std::move(*reply);
  }

  const bool aggregated =
      req.Header("Accept").find("as=APIGroupDiscoveryList") != std::string::npos;
  const std::string agg_version = req.Header("Accept").find("v=v2;") != std::string::npos ||
                                          req.Header("Accept").find("v=v2,") != std::string::npos ||
                                          req.Header("Accept").find("v=v2;as") != std::string::npos
                                      ? "v2"
                                      : "v2beta1";
  api::ResourceRegistry& registry = *api_->registry();
  if (path == "/api" || path == "/api/") {
    if (aggregated) {
      std::string av = "apidiscovery.k8s.io/" + agg_version;
      return JsonResponse(
          200, AggregatedDiscovery(registry, true, av.c_str()),
          "application/json;g=apidiscovery.k8s.io;v=" + agg_version + ";as=APIGroupDiscoveryList");
    }
    return JsonResponse(200, CoreApiVersions(options_.server_address));
  }
  if (path == "/apis" || path == "/apis/") {
    if (aggregated) {
      std::string av = "apidiscovery.k8s.io/" + agg_version;
      return JsonResponse(
          200, AggregatedDiscovery(registry, false, av.c_str()),
          "application/json;g=apidiscovery.k8s.io;v=" + agg_version + ";as=APIGroupDiscoveryList");
    }
    return JsonResponse(200, ApiGroupList(registry));
  }
  if (path == "/openapi/v3" || path == "/openapi/v3/") {
    http::Response r;
    r.body = OpenApiIndex(registry);
    return r;
  }
  if (path == "/openapi/v2" || path == "/openapi/v2/") {
    // kubectl asks for the v2 document only after the v3 documents lacked a kind (an apiVersion
    // or kind skiff does not serve, or a `kind: List`). An empty document lets its validation
    // step aside, so the user gets the real error ("no matches for kind ...") from the API.
    http::Response r;
    r.content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
    static const std::string kEmptyV2Document = [] {
      const std::string info = std::string("\x0a\x05skiff", 7) + std::string("\x12\x07v1.32.0", 9);
      return std::string(
                 "\x0a\x03"
                 "2.0",
                 5) +
             "\x12" + static_cast<char>(info.size()) + info;
    }();
    r.body = kEmptyV2Document;
    return r;
  }
  if (path.rfind("/openapi/v3/", 0) == 0) {
    auto doc = OpenApiDocument(registry, path.substr(strlen("/openapi/v3/")));
    if (!doc.ok()) return ErrorReply(doc.status());
    http::Response r;
    r.body = std::move(*doc);
    r.headers["Cache-Control"] = "public, immutable";
    return r;
  }

  std::vector<std::string> segs = SplitPath(path);
  size_t rest = 0;
  std::string group, version;
  if (segs.size() >= 2 && segs[0] == "api") {
    version = segs[1];
    rest = 2;
  } else if (segs.size() >= 2 && segs[0] == "apis") {
    group = segs[1];
    if (segs.size() == 2) {
      Json g = ApiGroup(registry, group);
      if (g.is_null())
        return ErrorReply(Status::NotFound("the server could not find the requested resource"));
      return JsonResponse(200, g);
    }
    version = segs[2];
    rest = 3;
  } else {
    return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  }
  if (segs.size() == rest) {
    Json list = ApiResourceList(registry, group, version);
    if (list.is_null())
      return ErrorReply(Status::NotFound("the server could not find the requested resource"));
    return JsonResponse(200, list);
  }

  // [namespaces/<ns>/]<resource>[/<name>[/<subresource>]]
  Target t;
  std::vector<std::string> r(segs.begin() + rest, segs.end());
  std::string plural;
  if (group.empty() && r[0] == "namespaces" && r.size() >= 2 &&
      (r.size() == 2 || (r.size() == 3 && (r[2] == "status" || r[2] == "finalize")))) {
    plural = "namespaces";
    t.name = r[1];
    if (r.size() == 3) t.subresource = r[2];
  } else if (r[0] == "namespaces" && r.size() >= 3) {
    t.ns = r[1];
    plural = r[2];
    if (r.size() >= 4) t.name = r[3];
    if (r.size() >= 5) t.subresource = r[4];
    if (r.size() > 5)
      return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  } else {
    plural = r[0];
    if (r.size() >= 2) t.name = r[1];
    if (r.size() >= 3) t.subresource = r[2];
    if (r.size() > 3)
      return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  }
  t.res = registry.Find(group, version, plural);
  if (!t.res) {
    return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  }
  if (!t.res->namespaced && !t.ns.empty()) {
    return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  }
  return HandleResource(req, *user, t);
}

http::Reply ApiHandler::HandleResource(http::Request& req, const UserInfo& user, const Target& t) {
  const api::ResourceInfo& res = *t.res;
  const bool watch = QueryBool(req, "watch");
  RequestAttributes attrs;
  attrs.verb = VerbFor(req.method, !t.name.empty(), watch);
  attrs.api_group = res.group;
  attrs.resource = res.plural;
  attrs.subresource = t.subresource;
  attrs.ns = t.ns;
  attrs.name = t.name;
  if (attrs.verb.empty()) {
    return ErrorReply(Status(Code::kMethodNotAllowed,
                             "the server does not allow this method on the requested resource"));
  }
  if (Status s = authz_->Authorize(user, attrs); !s.ok()) return ErrorReply(s);

  RequestContext ctx{user, req.Header("User-Agent")};
  const std::string& ns = t.ns;

  if (t.subresource == "log" && res.group.empty() && res.plural == "pods" && !t.name.empty()) {
    if (req.method != "GET") {
      return ErrorReply(Status(Code::kMethodNotAllowed,
                               "the server does not allow this method on the requested resource"));
    }
    return HandlePodLog(req, ctx, t);
  }
  if (res.group.empty() && res.plural == "pods" &&
      (t.subresource == "exec" || t.subresource == "attach" || t.subresource == "portforward")) {
    // kubectl's streaming subresources need SPDY/WebSocket upgrades skiff does not speak yet;
    // say so instead of a bare 404.
    return ErrorReply(Status::BadRequest(
        "pods/" + t.subresource +
        " is not supported by skiff yet: containers are local processes on this machine; use "
        "`kubectl logs` to read them, and reach a Pod's ports at its address (kubectl get pod " +
        t.name + " -o wide)"));
  }
  if (!t.subresource.empty() && t.subresource != "status") {
    return ErrorReply(Status::NotFound("the server could not find the requested resource (" +
                                       res.plural + "/" + t.subresource + ")"));
  }
  const bool status_sub = t.subresource == "status";
  if (status_sub && !res.status_subresource) {
    return ErrorReply(Status::NotFound("the server could not find the requested resource"));
  }
  if (!res.stored) {
    if (req.method != "POST" || !t.name.empty()) {
      return ErrorReply(Status(Code::kMethodNotAllowed,
                               "the server does not allow this method on the requested resource"));
    }
    auto review = DecodeReviewBody(res, req.Header("Content-Type"), req.body);
    if (!review.ok()) return ErrorReply(review.status());
    auto answered = AnswerReview(res, std::move(*review), user, authz_);
    if (!answered.ok()) return ErrorReply(answered.status());
    return JsonResponse(201, *answered);
  }

  std::vector<std::string> warnings;
  auto respond = [&](StatusOr<Json> result, int ok_code) -> http::Reply {
    if (!result.ok()) return ErrorReply(result.status());
    http::Response r;
    if (WantsTable(req) && req.method == "GET") {
      TableOptions to;
      to.now = std::chrono::system_clock::now();
      Json meta = {{"resourceVersion", FindPath(*result, "metadata.resourceVersion")
                                           ? *FindPath(*result, "metadata.resourceVersion")
                                           : Json("")}};
      r = JsonResponse(ok_code, ToTable(res, {*result}, meta, to), TableContentType());
    } else if (WantsPartialMetadata(req)) {
      r = JsonResponse(ok_code, PartialMetadata(*result));
    } else {
      r = JsonResponse(ok_code, *result);
    }
    if (!warnings.empty()) r.headers["Warning"] = WarningHeader(warnings);
    return r;
  };

  if (req.method == "GET" || req.method == "HEAD") {
    if (t.name.empty()) {
      return watch ? HandleWatch(req, ctx, t) : HandleList(req, ctx, t);
    }
    if (watch) {
      // Watching one object: a field selector on its name.
      Target copy = t;
      std::string fs = req.Query("fieldSelector");
      std::string pin = "metadata.name=" + t.name;
      req.query.erase("fieldSelector");
      req.query.emplace("fieldSelector", fs.empty() ? pin : fs + "," + pin);
      copy.name.clear();
      return HandleWatch(req, ctx, copy);
    }
    return respond(api_->Get(ctx, res, ns, t.name), 200);
  }

  if (req.method == "POST") {
    if (!t.name.empty()) {
      return ErrorReply(Status(Code::kMethodNotAllowed,
                               "the server does not allow this method on the requested resource"));
    }
    auto body = ParseBody(req, res);
    if (!body.ok()) return ErrorReply(body.status());
    return respond(api_->Create(ctx, res, ns, std::move(*body), WriteOptionsFrom(req), &warnings),
                   201);
  }

  if (req.method == "PUT") {
    if (t.name.empty()) {
      return ErrorReply(Status(Code::kMethodNotAllowed,
                               "the server does not allow this method on the requested resource"));
    }
    auto body = ParseBody(req, res);
    if (!body.ok()) return ErrorReply(body.status());
    return respond(api_->Update(ctx, res, ns, t.name, std::move(*body), WriteOptionsFrom(req),
                                status_sub, &warnings),
                   200);
  }

  if (req.method == "PATCH") {
    if (t.name.empty()) {
      return ErrorReply(Status(Code::kMethodNotAllowed,
                               "the server does not allow this method on the requested resource"));
    }
    std::string ct = req.Header("Content-Type");
    ct = ct.substr(0, ct.find(';'));
    api::PatchType type;
    if (ct == "application/merge-patch+json") {
      type = api::PatchType::kMerge;
    } else if (ct == "application/json-patch+json") {
      type = api::PatchType::kJson;
    } else if (ct == "application/strategic-merge-patch+json") {
      type = api::PatchType::kStrategicMerge;
    } else if (ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json") {
      type = api::PatchType::kApply;
    } else {
      return ErrorReply(Status(Code::kUnsupportedMediaType,
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml"));
    }
    return respond(api_->Patch(ctx, res, ns, t.name, type, req.body, WriteOptionsFrom(req),
                               status_sub, &warnings),
                   200);
  }

  if (req.method == "DELETE") {
    api::DeleteOptions opts;
    opts.propagation_policy = req.Query("propagationPolicy");
    if (req.HasQuery("gracePeriodSeconds"))
      opts.grace_period_seconds = QueryInt(req, "gracePeriodSeconds", 0);
    opts.dry_run = req.Query("dryRun") == "All";
    if (!req.body.empty()) {
      auto body = ParseJson(req.body);
      if (!body.ok()) return ErrorReply(body.status());
      if (body->is_object()) {
        if (body->contains("propagationPolicy") && (*body)["propagationPolicy"].is_string()) {
          opts.propagation_policy = (*body)["propagationPolicy"];
        }
        if (body->contains("orphanDependents") && (*body)["orphanDependents"].is_boolean() &&
            (*body)["orphanDependents"].get<bool>()) {
          opts.propagation_policy = "Orphan";
        }
        if (body->contains("gracePeriodSeconds") &&
            (*body)["gracePeriodSeconds"].is_number_integer()) {
          opts.grace_period_seconds = (*body)["gracePeriodSeconds"].get<int64_t>();
        }
        if (const Json* p = FindPath(*body, "preconditions.uid"); p && p->is_string()) {
          opts.precondition_uid = *p;
        }
        if (const Json* p = FindPath(*body, "preconditions.resourceVersion"); p && p->is_string()) {
          opts.precondition_resource_version = *p;
        }
        if (const Json* d = FindPath(*body, "dryRun"); d && d->is_array() && !d->empty()) {
          opts.dry_run = true;
        }
      }
    }
    if (opts.propagation_policy != "" && opts.propagation_policy != "Background" &&
        opts.propagation_policy != "Foreground" && opts.propagation_policy != "Orphan") {
      return ErrorReply(
          Status::BadRequest("propagationPolicy: Unsupported value: \"" + opts.propagation_policy +
                             "\": supported values: \"Foreground\", \"Background\", \"Orphan\""));
    }
    if (t.name.empty()) {
      auto lo = ListOptionsFrom(req);
      if (!lo.ok()) return ErrorReply(lo.status());
      return respond(api_->DeleteCollection(ctx, res, ns, *lo, opts), 200);
    }
    auto deleted = api_->Delete(ctx, res, ns, t.name, opts);
    if (!deleted.ok()) return ErrorReply(deleted.status());
    // 202 while finalizers keep the object; 200 once it is gone.
    int code = FindPath(*deleted, "metadata.deletionTimestamp") &&
                       FindPath(*deleted, "metadata.finalizers") &&
                       !FindPath(*deleted, "metadata.finalizers")->empty()
                   ? 202
                   : 200;
    return respond(std::move(deleted), code);
  }
  return ErrorReply(Status(Code::kMethodNotAllowed,
                           "the server does not allow this method on the requested resource"));
}

http::Reply ApiHandler::HandleList(http::Request& req, const RequestContext& ctx, const Target& t) {
  const api::ResourceInfo& res = *t.res;
  auto lo = ListOptionsFrom(req);
  if (!lo.ok()) return ErrorReply(lo.status());
  auto list = api_->List(ctx, res, t.ns, *lo);
  if (!list.ok()) return ErrorReply(list.status());
  if (!WantsTable(req) && !WantsPartialMetadata(req)) {
    http::Response r;
    r.body = ListJson(res, *list);
    return r;
  }
  std::vector<Json> objects;
  objects.reserve(list->items.size());
  for (const std::string& item : list->items) {
    auto obj = ParseJson(item);
    if (obj.ok()) objects.push_back(std::move(*obj));
  }
  Json meta = {{"resourceVersion", std::to_string(list->resource_version)}};
  if (!list->continue_token.empty()) meta["continue"] = list->continue_token;
  if (list->remaining_item_count >= 0) meta["remainingItemCount"] = list->remaining_item_count;
  if (WantsTable(req)) {
    TableOptions to;
    to.now = std::chrono::system_clock::now();
    to.include_object = req.Query("includeObject") != "None";
    to.full_object = req.Query("includeObject") == "Object";
    return JsonResponse(200, ToTable(res, objects, meta, to), TableContentType());
  }
  Json items = Json::array();
  for (const Json& o : objects) items.push_back(PartialMetadata(o));
  return JsonResponse(200, {{"kind", "PartialObjectMetadataList"},
                            {"apiVersion", "meta.k8s.io/v1"},
                            {"metadata", meta},
                            {"items", items}});
}

namespace {

// Shared between the watch sink (store thread), timers and the stream's close callback.
struct WatchState {
  std::mutex mu;
  std::shared_ptr<http::Stream> stream;
  std::unique_ptr<WatchHandle> handle;  // GUARDED_BY(mu)
  std::vector<uint64_t> timers;         // GUARDED_BY(mu)
  bool closed = false;                  // GUARDED_BY(mu)
  std::atomic<int64_t> last_revision{0};
  std::atomic<bool> first_table{true};
};

int64_t RevisionOf(const std::string& object_json) {
  // Cheap scan: the encoder always writes "resourceVersion":"<n>".
  size_t p = object_json.find("\"resourceVersion\":\"");
  if (p == std::string::npos) return 0;
  p += 19;
  int64_t v = 0;
  while (p < object_json.size() && isdigit(static_cast<unsigned char>(object_json[p]))) {
    v = v * 10 + (object_json[p++] - '0');
  }
  return v;
}

}  // namespace

http::Reply ApiHandler::HandleWatch(http::Request& req, const RequestContext& ctx,
                                    const Target& t) {
  api::WatchOptions wo;
  wo.label_selector = req.Query("labelSelector");
  wo.field_selector = req.Query("fieldSelector");
  wo.resource_version = req.Query("resourceVersion");
  wo.allow_bookmarks = QueryBool(req, "allowWatchBookmarks");
  wo.timeout_seconds = QueryInt(req, "timeoutSeconds", 0);
  wo.send_initial_events = QueryBool(req, "sendInitialEvents");
  const bool table = WantsTable(req);
  auto res = t.res;
  const std::string ns = t.ns;

  http::StreamStart start;
  start.content_type = table ? TableContentType() : std::string(kJson);
  start.start = [this, ctx, res, ns, wo, table](std::shared_ptr<http::Stream> stream) {
    auto state = std::make_shared<WatchState>();
    state->stream = stream;
    auto encode = [res, table, state](const WatchEventData& e) {
      std::string line;
      if (table && std::string(e.type) != "BOOKMARK" && std::string(e.type) != "ERROR") {
        auto obj = ParseJson(e.object);
        if (!obj.ok()) return line;
        TableOptions to;
        to.now = std::chrono::system_clock::now();
        Json meta = {{"resourceVersion", std::to_string(RevisionOf(e.object))}};
        Json tbl = ToTable(*res, {*obj}, meta, to);
        // Column definitions travel with the first event only, as kube-apiserver sends them.
        if (!state->first_table.exchange(false)) tbl["columnDefinitions"] = Json::array();
        line = "{\"type\":\"" + std::string(e.type) +
               "\",\"object\":" + tbl.dump(-1, ' ', false, Json::error_handler_t::replace) + "}\n";
      } else {
        line = "{\"type\":\"" + std::string(e.type) + "\",\"object\":" + e.object + "}\n";
      }
      return line;
    };
    WatchSink sink = [state, encode](std::vector<WatchEventData>&& events) {
      std::string chunk;
      for (const WatchEventData& e : events) {
        chunk += encode(e);
        int64_t rv = RevisionOf(e.object);
        if (rv > state->last_revision) state->last_revision = rv;
      }
      if (chunk.empty()) return true;
      return state->stream->Write(std::move(chunk));
    };
    auto handle = api_->Watch(ctx, *res, ns, wo, sink);
    if (!handle.ok()) {
      // kube-apiserver reports a too-old resourceVersion as an ERROR event, not an HTTP error.
      Json status = StatusToJson(handle.status());
      stream->Write("{\"type\":\"ERROR\",\"object\":" + status.dump() + "}\n");
      stream->Close();
      return;
    }
    if (state->last_revision == 0) {
      int64_t rv = 0;
      try {
        rv = wo.resource_version.empty() ? 0 : std::stoll(wo.resource_version);
      } catch (...) {
      }
      state->last_revision = rv;
    }
    std::vector<uint64_t> timers;
    if (wo.timeout_seconds > 0) {
      timers.push_back(timers_.RunAfter(std::chrono::seconds(wo.timeout_seconds),
                                        [stream] { stream->Close(); }));
    }
    if (wo.allow_bookmarks) {
      // Periodic bookmarks carry the newest revision this watch has delivered.
      auto tick = std::make_shared<std::function<void()>>();
      std::weak_ptr<WatchState> weak = state;
      TimerQueue* timers_ptr = &timers_;
      const auto interval = options_.bookmark_interval;
      std::weak_ptr<std::function<void()>> weak_tick = tick;
      *tick = [weak, res, weak_tick, timers_ptr, interval] {
        auto s = weak.lock();
        auto self = weak_tick.lock();
        if (!s || !self) return;
        std::lock_guard<std::mutex> lock(s->mu);
        if (s->closed) return;
        Json bm = {{"kind", res->kind},
                   {"apiVersion", res->ApiVersion()},
                   {"metadata", {{"resourceVersion", std::to_string(s->last_revision.load())}}}};
        s->stream->Write("{\"type\":\"BOOKMARK\",\"object\":" + bm.dump() + "}\n");
        s->timers.push_back(timers_ptr->RunAfter(interval, [self] { (*self)(); }));
      };
      timers.push_back(timers_.RunAfter(interval, [tick] { (*tick)(); }));
    }
    {
      std::lock_guard<std::mutex> lock(state->mu);
      state->handle = std::move(*handle);
      state->timers.insert(state->timers.end(), timers.begin(), timers.end());
    }
    TimerQueue* timers_ptr = &timers_;
    stream->OnClose([state, timers_ptr] {
      std::unique_ptr<WatchHandle> handle;
      std::vector<uint64_t> timer_ids;
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->closed = true;
        handle = std::move(state->handle);
        timer_ids.swap(state->timers);
      }
      for (uint64_t id : timer_ids) timers_ptr->Cancel(id);
      if (handle) handle->Cancel();
    });
  };
  return start;
}

}  // namespace skiff::apiserver

namespace skiff::apiserver {

namespace {

// The names of a Pod's containers of one kind ("containers", "initContainers").
std::vector<std::string> ContainerNames(const Json& pod, const char* field) {
  std::vector<std::string> names;
  const Json* list = FindPath(pod, std::string("spec.") + field);
  if (list && list->is_array()) {
    for (const Json& c : *list) {
      if (c.is_object() && c.contains("name") && c["name"].is_string()) {
        names.push_back(c["name"].get<std::string>());
      }
    }
  }
  return names;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

// The container's status entry, from either status list.
const Json* ContainerStatus(const Json& pod, const std::string& container) {
  for (const char* field : {"status.containerStatuses", "status.initContainerStatuses"}) {
    const Json* list = FindPath(pod, field);
    if (!list || !list->is_array()) continue;
    for (const Json& s : *list) {
      if (s.is_object() && s.value("name", "") == container) return &s;
    }
  }
  return nullptr;
}

// kube-apiserver's answer for a container that has produced no log yet.
Status WaitingToStart(const Json& pod, const std::string& container) {
  std::string reason = "ContainerCreating";
  if (const Json* st = ContainerStatus(pod, container)) {
    const Json* waiting = FindPath(*st, "state.waiting.reason");
    if (waiting && waiting->is_string()) reason = waiting->get<std::string>();
  }
  if (reason == "ErrImagePull") reason = "image can't be pulled";
  if (reason == "ImagePullBackOff") reason = "trying and failing to pull image";
  return Status::BadRequest("container \"" + container + "\" in pod \"" +
                            pod["metadata"].value("name", "") +
                            "\" is waiting to start: " + reason);
}

}  // namespace

http::Reply ApiHandler::HandlePodLog(http::Request& req, const RequestContext& ctx,
                                     const Target& t) {
  auto pod_or = api_->Get(ctx, *t.res, t.ns, t.name);
  if (!pod_or.ok()) return ErrorReply(pod_or.status());
  Json pod = std::move(*pod_or);

  PodLogRequest lr;
  lr.container = req.Query("container");
  const std::vector<std::string> containers = ContainerNames(pod, "containers");
  const std::vector<std::string> init = ContainerNames(pod, "initContainers");
  if (lr.container.empty()) {
    if (containers.size() != 1) {
      std::string msg = "a container name must be specified for pod " + t.name +
                        ", choose one of: " + JoinNames(containers);
      if (!init.empty()) msg += " or one of the init containers: " + JoinNames(init);
      return ErrorReply(Status::BadRequest(msg));
    }
    lr.container = containers[0];
  } else if (std::find(containers.begin(), containers.end(), lr.container) == containers.end() &&
             std::find(init.begin(), init.end(), lr.container) == init.end()) {
    return ErrorReply(
        Status::BadRequest("container " + lr.container + " is not valid for pod " + t.name));
  }
  lr.follow = QueryBool(req, "follow");
  lr.previous = QueryBool(req, "previous");
  lr.timestamps = QueryBool(req, "timestamps");
  lr.tail_lines = QueryInt(req, "tailLines", -1);
  lr.limit_bytes = QueryInt(req, "limitBytes", -1);
  if (lr.tail_lines < -1 || lr.limit_bytes == 0 || lr.limit_bytes < -1) {
    return ErrorReply(Status::BadRequest("tailLines and limitBytes must be positive"));
  }
  const int64_t since_seconds = QueryInt(req, "sinceSeconds", 0);
  if (since_seconds > 0)
    lr.since = std::chrono::system_clock::now() - std::chrono::seconds(since_seconds);
  if (std::string since_time = req.Query("sinceTime"); !since_time.empty()) {
    std::chrono::system_clock::time_point parsed;
    if (!ParseRfc3339(since_time, &parsed)) {
      return ErrorReply(Status::BadRequest("sinceTime: not an RFC 3339 time: " + since_time));
    }
    lr.since = parsed;
  }
  if (!pod_logs_) {
    return ErrorReply(Status(Code::kUnavailable, "no node agent serves pod logs on this server"));
  }
  const Json* node = FindPath(pod, "spec.nodeName");
  if (!node || !node->is_string() || node->get<std::string>().empty()) {
    return ErrorReply(WaitingToStart(pod, lr.container));
  }

  if (!lr.follow) {
    std::string body;
    Status s = pod_logs_(
        pod, lr, [] { return false; },
        [&body](const std::string& chunk) {
          body += chunk;
          return true;
        });
    if (s.code() == Code::kNotFound && !lr.previous)
      return ErrorReply(WaitingToStart(pod, lr.container));
    if (!s.ok())
      return ErrorReply(s.code() == Code::kNotFound ? Status::BadRequest(s.message()) : s);
    http::Response r;
    r.status = 200;
    r.content_type = "text/plain";
    r.body = std::move(body);
    return r;
  }

  // A follow on a container that has not started yet fails at once, as kube-apiserver's does.
  const Json* st = ContainerStatus(pod, lr.container);
  if (!lr.previous && (!st || (FindPath(*st, "state.waiting") != nullptr &&
                               st->value("restartCount", int64_t{0}) == 0))) {
    return ErrorReply(WaitingToStart(pod, lr.container));
  }
  http::StreamStart start;
  start.content_type = "text/plain";
  auto streams = log_streams_;
  PodLogSource source = pod_logs_;
  start.start = [streams, source, pod, lr](std::shared_ptr<http::Stream> stream) {
    if (!streams->Enter()) {
      stream->Close();
      return;
    }
    std::thread([streams, source, pod, lr, stream] {
      Status s = source(
          pod, lr, [&] { return streams->cancelled.load() || stream->Closed(); },
          [&](const std::string& chunk) { return stream->Write(chunk); });
      if (!s.ok()) stream->Write("error: " + s.message() + "\n");
      stream->Close();
      streams->Leave();
    }).detach();
  };
  return start;
}

}  // namespace skiff::apiserver

// The Client over Kubernetes REST: URLs, query parameters, bodies and content types as kubectl
// sends them; error responses decoded from their Status body; watches read line by line from a
// chunked response on a thread of their own.
#include "client/http_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "apiserver/object_api.h"
#include "client/status_decode.h"
#include "client/watch_queue.h"
#include "common/log.h"
#include "http/client.h"

namespace skiff::client {
namespace {

struct ServerUrl {
  bool tls = true;
  std::string host;
  uint16_t port = 443;
  std::string path_prefix;  // e.g. "/k8s/clusters/c-1" behind a proxy; "" usually
};

StatusOr<ServerUrl> ParseServer(const std::string& server) {
  ServerUrl u;
  std::string rest = server;
  if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    u.tls = false;
    u.port = 80;
    rest = rest.substr(7);
  } else {
    return Status::BadRequest("server \"" + server + "\" must start with https:// or http://");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) {
    u.path_prefix = rest.substr(slash);
    while (!u.path_prefix.empty() && u.path_prefix.back() == '/') u.path_prefix.pop_back();
  }
  std::string port;
  if (!authority.empty() && authority[0] == '[') {  // [::1]:6443
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return Status::BadRequest("server \"" + server + "\": bad IPv6 host");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return Status::BadRequest("server \"" + server + "\" has no host");
  if (!port.empty()) {
    try {
      int p = std::stoi(port);
      if (p <= 0 || p > 65535) throw std::out_of_range("port");
      u.port = static_cast<uint16_t>(p);
    } catch (...) {
      return Status::BadRequest("server \"" + server + "\" has an invalid port");
    }
  }
  return u;
}

std::string JsonStr(const Json& obj, const char* field) {
  if (!obj.is_object()) return "";
  auto it = obj.find(field);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : "";
}

// Builds "?a=b&c=d" from the non-empty parameters.
class Query {
 public:
  Query& Add(const std::string& key, const std::string& value) {
    if (value.empty()) return *this;
    out_ += out_.empty() ? '?' : '&';
    out_ += http::PercentEncode(key) + "=" + http::PercentEncode(value);
    return *this;
  }
  Query& AddInt(const std::string& key, int64_t value) {
    return value > 0 ? Add(key, std::to_string(value)) : *this;
  }
  Query& AddBool(const std::string& key, bool value) { return value ? Add(key, "true") : *this; }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

void AddWriteOptions(Query* q, const WriteOptions& o, bool apply) {
  q->Add("fieldManager", o.field_manager);
  if (o.dry_run) q->Add("dryRun", "All");
  q->Add("fieldValidation", o.field_validation);
  // force is only legal on apply patches; the API server rejects it elsewhere.
  if (apply) q->AddBool("force", o.force);
}

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

// Reads a chunked watch response on its own thread. The thread owns its connection and shares
// only the queue with the consumer, so it may outlive the stream object: http::Client cannot be
// interrupted from another thread, so after Stop the thread exits when the next bytes (an event or
// a bookmark) arrive or the server closes the connection.
class HttpWatch : public WatchStream {
 public:
  HttpWatch(std::unique_ptr<http::Client> conn, http::ClientRequest request)
      : queue_(std::make_shared<WatchQueue>()) {
    auto queue = queue_;
    std::thread([queue, conn = std::move(conn), request = std::move(request)]() mutable {
      Read(queue, conn.get(), request);
    }).detach();
  }
  ~HttpWatch() override { Stop(); }

  bool Next(WatchEvent* event, std::chrono::milliseconds timeout, bool* timed_out) override {
    return queue_->Next(event, timeout, timed_out);
  }
  void Stop() override { queue_->Stop(); }

 private:
  static void PushError(WatchQueue* queue, const Status& status) {
    queue->Push(WatchEvent{"ERROR", apiserver::StatusToJson(status)});
  }

  static void Read(const std::shared_ptr<WatchQueue>& queue, http::Client* conn,
                   const http::ClientRequest& request) {
    std::string pending;
    bool bad_line = false;
    auto on_data = [&](std::string_view data) {
      if (queue->stopped()) return false;
      pending.append(data.data(), data.size());
      size_t start = 0;
      while (true) {
        size_t nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        std::string_view line(pending.data() + start, nl - start);
        start = nl + 1;
        if (line.empty() || line == "\r") continue;
        auto j = ParseJson(line);
        if (!j.ok() || !j->is_object() || !(*j)["type"].is_string()) {
          bad_line = true;
          return false;
        }
        if (!queue->Push(WatchEvent{(*j)["type"].get<std::string>(), (*j)["object"]})) {
          return false;
        }
      }
      pending.erase(0, start);
      return true;
    };
    auto response = conn->Stream(request, on_data);
    if (!queue->stopped()) {
      if (!response.ok()) {
        PushError(queue.get(), response.status());
      } else if (response->status < 200 || response->status >= 300) {
        PushError(queue.get(), DecodeError(*response));
      } else if (bad_line) {
        PushError(queue.get(), Status::Internal("the watch stream carried an undecodable event"));
      }
    }
    queue->Close();
  }

  std::shared_ptr<WatchQueue> queue_;
};

class TempFile {
 public:
  TempFile() = default;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  Status Write(const std::string& content) {
    const char* dir = std::getenv("TMPDIR");
    std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/skiff-client-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    int fd = ::mkstemp(buf.data());  // created 0600: it may hold a private key
    if (fd < 0) return Status::Internal("cannot create a temporary file for client credentials");
    path_ = buf.data();
    size_t off = 0;
    while (off < content.size()) {
      ssize_t n = ::write(fd, content.data() + off, content.size() - off);
      if (n < 0) {
        ::close(fd);
        return Status::Internal("cannot write client credentials to " + path_);
      }
      off += n;
    }
    ::close(fd);
    return Status::Ok();
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class HttpClient : public Client {
 public:
  HttpClient(ClusterConfig config, ServerUrl url) : config_(std::move(config)), url_(url) {}

  Status Init() {
    options_.host = url_.host;
    options_.port = url_.port;
    options_.use_tls = url_.tls;
    options_.ca_pem = config_.ca_pem;
    options_.insecure_skip_verify = config_.insecure_skip_tls_verify;
    // http::ClientOptions takes the client certificate and key as files.
    if (!config_.client_cert_pem.empty()) {
      SKIFF_RETURN_IF_ERROR(cert_file_.Write(config_.client_cert_pem));
      SKIFF_RETURN_IF_ERROR(key_file_.Write(config_.client_key_pem));
      options_.client_cert_file = cert_file_.path();
      options_.client_key_file = key_file_.path();
    }
    return Status::Ok();
  }

  StatusOr<Json> Get(const Resource& r, const std::string& ns, const std::string& name) override {
    return Call("GET", Path(r, ns, name), "", "");
  }

  StatusOr<Json> List(const Resource& r, const std::string& ns,
                      const ListOptions& options) override {
    Query q;
    q.Add("labelSelector", options.label_selector)
        .Add("fieldSelector", options.field_selector)
        .AddInt("limit", options.limit)
        .Add("continue", options.continue_token)
        .Add("resourceVersion", options.resource_version);
    return Call("GET", Path(r, ns, "") + q.str(), "", "");
  }

  StatusOr<std::unique_ptr<WatchStream>> Watch(const Resource& r, const std::string& ns,
                                               const WatchOptions& options) override {
    Query q;
    q.Add("watch", "true")
        .Add("labelSelector", options.label_selector)
        .Add("fieldSelector", options.field_selector)
        .Add("resourceVersion", options.resource_version)
        .AddBool("allowWatchBookmarks", options.allow_bookmarks)
        .AddInt("timeoutSeconds", options.timeout_seconds)
        .AddBool("sendInitialEvents", options.send_initial_events);
    if (options.send_initial_events) q.Add("resourceVersionMatch", "NotOlderThan");
    http::ClientRequest req = Request("GET", Path(r, ns, "") + q.str(), "", "");
    return std::unique_ptr<WatchStream>(new HttpWatch(http::NewClient(options_), std::move(req)));
  }

  StatusOr<Json> Create(const Resource& r, const std::string& ns, const Json& object,
                        const WriteOptions& options) override {
    Query q;
    AddWriteOptions(&q, options, false);
    return Call("POST", Path(r, ns, "") + q.str(), Dump(object), "application/json");
  }

  StatusOr<Json> Update(const Resource& r, const std::string& ns, const Json& object,
                        const WriteOptions& options) override {
    return DoUpdate(r, ns, object, options, "");
  }

  StatusOr<Json> UpdateStatus(const Resource& r, const std::string& ns, const Json& object,
                              const WriteOptions& options) override {
    return DoUpdate(r, ns, object, options, "/status");
  }

  StatusOr<Json> Patch(const Resource& r, const std::string& ns, const std::string& name,
                       PatchType type, const std::string& patch, const WriteOptions& options,
                       const std::string& subresource) override {
    Query q;
    AddWriteOptions(&q, options, type == PatchType::kApply);
    std::string path = Path(r, ns, name);
    if (!subresource.empty()) path += "/" + subresource;
    return Call("PATCH", path + q.str(), patch, PatchContentType(type));
  }

  StatusOr<Json> Delete(const Resource& r, const std::string& ns, const std::string& name,
                        const DeleteOptions& options) override {
    Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
    if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
    if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
    if (!options.precondition_resource_version.empty()) {
      body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    if (options.dry_run) body["dryRun"] = Json::array({"All"});
    return Call("DELETE", Path(r, ns, name), Dump(body), "application/json");
  }

 private:
  static std::string Dump(const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  std::string Path(const Resource& r, const std::string& ns, const std::string& name) const {
    std::string p = url_.path_prefix;
    p += r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
    if (!ns.empty()) p += "/namespaces/" + http::PercentEncode(ns);
    p += "/" + r.plural;
    if (!name.empty()) p += "/" + http::PercentEncode(name);
    return p;
  }

  http::ClientRequest Request(const std::string& method, const std::string& target,
                              std::string body, const std::string& content_type) const {
    http::ClientRequest req;
    req.method = method;
    req.target = target;
    req.headers["Accept"] = "application/json";
    req.headers["User-Agent"] = "skiff-client";
    if (!content_type.empty()) req.headers["Content-Type"] = content_type;
    // Like kubectl, never send a bearer token in the clear.
    if (!config_.token.empty() && url_.tls) {
      req.headers["Authorization"] = "Bearer " + config_.token;
    }
    req.body = std::move(body);
    return req;
  }

  StatusOr<Json> Call(const std::string& method, const std::string& target, std::string body,
                      const std::string& content_type) {
    http::ClientRequest req = Request(method, target, std::move(body), content_type);
    std::unique_ptr<http::Client> conn = Checkout();
    auto response = conn->Do(req);
    Return(std::move(conn));
    if (!response.ok()) return response.status();
    if (response->status < 200 || response->status >= 300) return DecodeError(*response);
    auto parsed = ParseJson(response->body);
    if (!parsed.ok()) {
      return Status::Internal("the server sent an undecodable response to " + method + " " +
                              target + ": " + parsed.status().message());
    }
    return parsed;
  }

  StatusOr<Json> DoUpdate(const Resource& r, const std::string& ns, const Json& object,
                          const WriteOptions& options, const std::string& suffix) {
    const Json* name = FindPath(object, "metadata.name");
    if (!name || !name->is_string() || name->get<std::string>().empty()) {
      return Status::BadRequest("an update needs the object's metadata.name");
    }
    Query q;
    AddWriteOptions(&q, options, false);
    return Call("PUT", Path(r, ns, name->get<std::string>()) + suffix + q.str(), Dump(object),
                "application/json");
  }

  // http::Client is one connection and not thread-safe: each call borrows an idle one (or makes a
  // new one) and returns it, so concurrent callers never share a connection and idle ones are
  // reused with keep-alive.
  std::unique_ptr<http::Client> Checkout() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return http::NewClient(options_);
  }

  void Return(std::unique_ptr<http::Client> c) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }

  static constexpr size_t kMaxIdle = 16;

  const ClusterConfig config_;
  const ServerUrl url_;
  http::ClientOptions options_;
  TempFile cert_file_;
  TempFile key_file_;
  std::mutex mu_;
  std::vector<std::unique_ptr<http::Client>> idle_;  // GUARDED_BY(mu_)
};

// Reports a configuration error on every call, so NewHttpClient can keep its signature.
class BrokenClient : public Client {
 public:
  explicit BrokenClient(Status s) : s_(std::move(s)) {}
  StatusOr<Json> Get(const Resource&, const std::string&, const std::string&) override {
    return s_;
  }
  StatusOr<Json> List(const Resource&, const std::string&, const ListOptions&) override {
    return s_;
  }
  StatusOr<std::unique_ptr<WatchStream>> Watch(const Resource&, const std::string&,
                                               const WatchOptions&) override {
    return s_;
  }
  StatusOr<Json> Create(const Resource&, const std::string&, const Json&,
                        const WriteOptions&) override {
    return s_;
  }
  StatusOr<Json> Update(const Resource&, const std::string&, const Json&,
                        const WriteOptions&) override {
    return s_;
  }
  StatusOr<Json> UpdateStatus(const Resource&, const std::string&, const Json&,
                              const WriteOptions&) override {
    return s_;
  }
  StatusOr<Json> Patch(const Resource&, const std::string&, const std::string&, PatchType,
                       const std::string&, const WriteOptions&, const std::string&) override {
    return s_;
  }
  StatusOr<Json> Delete(const Resource&, const std::string&, const std::string&,
                        const DeleteOptions&) override {
    return s_;
  }

 private:
  Status s_;
};

}  // namespace

std::unique_ptr<Client> NewHttpClient(const ClusterConfig& config) {
  auto url = ParseServer(config.server);
  if (!url.ok()) return std::make_unique<BrokenClient>(url.status());
  auto client = std::make_unique<HttpClient>(config, *url);
  Status s = client->Init();
  if (!s.ok()) return std::make_unique<BrokenClient>(s);
  return client;
}

}  // namespace skiff::client

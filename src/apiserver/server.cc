#include "apiserver/server.h"

#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/schema.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pki.h"

namespace skiff::apiserver {

namespace fs = std::filesystem;

namespace {

// Marks the CRDs that describe skiff's own kinds; they are published, not served from.
constexpr char kBuiltinAnnotation[] = "skiff.io/builtin";
constexpr char kHashAnnotation[] = "skiff.io/definition-hash";
constexpr char kSystemUser[] = "system:skiff";

bool IsBuiltinCrd(const Json& crd) {
  const Json* a = FindPath(crd, "metadata.annotations");
  return a && a->is_object() && a->value(kBuiltinAnnotation, "") == "true";
}

// Namespaces start Active; CRDs are checked and marked Established as soon as they are accepted.
class CoreAdmission : public AdmissionPlugin {
 public:
  Status Admit(const RequestContext& ctx, Operation op, const api::ResourceInfo& res, Json* object,
               const Json* old) override {
    const bool crd = res.group == "apiextensions.k8s.io" && res.kind == "CustomResourceDefinition";
    if (crd && ((object && IsBuiltinCrd(*object)) || (old && IsBuiltinCrd(*old))) &&
        ctx.user.name != kSystemUser) {
      const std::string name = (*object)["metadata"].value("name", "");
      Status s = Status::Forbidden("customresourcedefinitions.apiextensions.k8s.io \"" + name +
                                   "\" is forbidden: it describes one of skiff's built-in kinds, "
                                   "which cannot be changed or deleted");
      s.WithDetails(name, res.group, res.plural);
      return s;
    }
    if (op == Operation::kDelete) {
      if (res.group.empty() && res.kind == "Namespace") {
        const std::string name = (*object)["metadata"].value("name", "");
        if (name == "default" || name == "kube-system" || name == "kube-public") {
          Status s = Status::Forbidden("namespaces \"" + name +
                                       "\" is forbidden: this namespace may not be deleted");
          s.WithDetails(name, "", "namespaces");
          return s;
        }
      }
      return Status::Ok();
    }
    if (res.group.empty() && (res.kind == "ConfigMap" || res.kind == "Secret")) {
      // etcd's request limit makes this Kubernetes' ceiling; users expect the same refusal here.
      constexpr size_t kMaxDataBytes = 1024 * 1024;
      size_t total = 0;
      for (const char* field : {"data", "binaryData", "stringData"}) {
        if (!object->contains(field) || !(*object)[field].is_object()) continue;
        for (auto& [k, v] : (*object)[field].items()) {
          total += k.size() + (v.is_string() ? v.get_ref<const std::string&>().size() : 0);
        }
      }
      if (total > kMaxDataBytes) {
        return api::InvalidStatus(
            res.GroupKind(), (*object)["metadata"].value("name", ""),
            {{"FieldValueTooLong", "Too long: must have at most 1048576 bytes",
              res.kind == "Secret" ? "data" : "[]"}});
      }
    }
    if (res.group.empty() && res.kind == "Namespace") {
      if (!old || !FindPath(*old, "metadata.deletionTimestamp")) {
        (*object)["status"]["phase"] = "Active";
      }
    }
    if (crd) {
      // Skiff's own definitions are trusted; a user's must describe a servable kind.
      if (!IsBuiltinCrd(*object)) {
        auto resources = api::ResourcesFromCrd(*object, false);
        if (!resources.ok()) return resources.status();
      }
      const std::string name = FindPath(*object, "metadata.name")
                                   ? (*object)["metadata"]["name"].get<std::string>()
                                   : "";
      const std::string expected =
          (*object)["spec"].value("names", Json::object()).value("plural", "") + "." +
          (*object)["spec"].value("group", "");
      if (name != expected) {
        return api::InvalidStatus(
            res.GroupKind(), name,
            {{"FieldValueInvalid",
              "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group",
              "metadata.name"}});
      }
      const std::string now = FormatRfc3339(std::chrono::system_clock::now());
      Json& status = (*object)["status"];
      status["acceptedNames"] = (*object)["spec"]["names"];
      status["conditions"] = Json::array({{{"type", "NamesAccepted"},
                                           {"status", "True"},
                                           {"reason", "NoConflicts"},
                                           {"message", "no conflicts found"},
                                           {"lastTransitionTime", now}},
                                          {{"type", "Established"},
                                           {"status", "True"},
                                           {"reason", "InitialNamesAccepted"},
                                           {"message", "the initial names have been accepted"},
                                           {"lastTransitionTime", now}}});
      Json stored = Json::array();
      for (const Json& v : (*object)["spec"].value("versions", Json::array())) {
        if (v.value("storage", false)) stored.push_back(v.value("name", ""));
      }
      status["storedVersions"] = stored;
    }
    return Status::Ok();
  }
};

}  // namespace

StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions options) {
  std::unique_ptr<ApiServer> s(new ApiServer());
  s->options_ = std::move(options);
  const ApiServerOptions& o = s->options_;
  std::error_code ec;
  fs::create_directories(o.data_dir, ec);
  if (ec)
    return Status::Internal("cannot create data directory " + o.data_dir + ": " + ec.message());
  ::chmod(o.data_dir.c_str(), 0700);

  if (o.in_memory_store) {
    s->store_ = store::NewMemoryStore();
  } else {
    store::SqliteOptions so;
    so.path = o.data_dir + "/store.db";
    so.fsync_each_commit = o.fsync_each_commit;
    so.history_revisions = o.history_revisions;
    auto st = store::OpenSqliteStore(so);
    if (!st.ok()) return st.status();
    s->store_ = std::move(*st);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed_ms = [&t0] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t0)
        .count();
  };
  SKIFF_LOG(Debug) << "store opened in " << elapsed_ms() << " ms";
  SKIFF_RETURN_IF_ERROR(s->registry_.LoadBuiltins());
  SKIFF_LOG(Debug) << "built-in kinds loaded at " << elapsed_ms() << " ms";
  s->api_ = std::make_unique<ObjectApi>(&s->registry_, s->store_.get(), Clock::Real());
  s->api_->AddAdmissionPlugin(std::make_unique<CoreAdmission>());
  SKIFF_RETURN_IF_ERROR(s->Bootstrap());
  SKIFF_RETURN_IF_ERROR(s->StartCrdSync());
  SKIFF_LOG(Debug) << "bootstrap done at " << elapsed_ms() << " ms";

  // Service-account tokens outlive restarts with the store that names their accounts.
  auto sa_tokens =
      ServiceAccountTokens::Open(o.in_memory_store ? "" : o.data_dir + "/service-account.key");
  if (!sa_tokens.ok()) return sa_tokens.status();
  s->sa_tokens_ = std::move(*sa_tokens);
  AuthenticatorOptions ao;
  ao.tokens[s->admin_token_] = UserInfo{"admin", {"system:masters"}};
  ao.verify_token = [tokens = s->sa_tokens_.get()](const std::string& token) {
    return tokens->Verify(token);
  };
  if (o.insecure_http)
    ao.anonymous_user = UserInfo{"admin", {"system:masters", "system:authenticated"}};
  s->authn_ = NewAuthenticator(std::move(ao));
  s->authz_ = NewAllowAllAuthorizer();

  http::ServerOptions ho;
  ho.address = o.address;
  ho.port = o.port;
  ho.threads = o.threads;
  ho.max_body_bytes = o.max_body_bytes;
  ho.use_tls = !o.insecure_http;
  if (ho.use_tls) {
    std::string pki_dir = o.data_dir + "/pki";
    auto certs = pki::EnsureServingCerts(pki_dir);
    if (!certs.ok()) return certs.status();
    ho.tls.cert_pem_file = certs->cert_file;
    ho.tls.key_pem_file = certs->key_file;
    ho.tls.client_ca_file = certs->ca_cert_file;
    s->ca_file_ = certs->ca_cert_file;
    s->ca_pem_ = certs->ca_pem;
  }
  HandlerOptions hopts;
  hopts.server_address = o.address + ":" + std::to_string(o.port);
  s->handler_ =
      std::make_unique<ApiHandler>(s->api_.get(), s->authn_.get(), s->authz_.get(), hopts);
  ApiHandler* handler = s->handler_.get();
  s->http_ = http::NewServer(ho, [handler](http::Request& r) { return handler->Handle(r); });
  SKIFF_RETURN_IF_ERROR(s->http_->Start());
  ApiServer* raw = s.get();
  s->publisher_ = std::thread([raw] { raw->PublishBuiltinCrds(); });
  SKIFF_LOG(Debug) << "serving at " << elapsed_ms() << " ms";
  return s;
}

ApiServer::~ApiServer() { Stop(); }

void ApiServer::Stop() {
  stopping_ = true;
  if (publisher_.joinable()) publisher_.join();
  if (http_) http_->Stop();
  // Followed `kubectl logs -f` streams call into the node agent; none may outlive the server.
  if (handler_) handler_->StopLogStreams();
  if (crd_watch_) crd_watch_->Cancel();
  http_.reset();
  crd_watch_.reset();
}

uint16_t ApiServer::port() const { return http_ ? http_->port() : 0; }

std::string ApiServer::ServiceAccountToken(const std::string& ns, const std::string& name) const {
  return sa_tokens_->Issue(ns, name);
}

std::string ApiServer::url() const {
  return std::string(options_.insecure_http ? "http" : "https") + "://" + options_.address + ":" +
         std::to_string(port());
}

Status ApiServer::Bootstrap() {
  // The admin token: generated once, readable only by this user.
  const std::string token_file = options_.data_dir + "/admin.token";
  auto token = ReadFile(token_file);
  if (token.ok() && !token->empty()) {
    admin_token_ = *token;
    while (!admin_token_.empty() && isspace(static_cast<unsigned char>(admin_token_.back()))) {
      admin_token_.pop_back();
    }
  } else {
    admin_token_ = pki::RandomToken(24);
    SKIFF_RETURN_IF_ERROR(WriteFileAtomic(token_file, admin_token_ + "\n", 0600));
  }

  RequestContext ctx{{"system:skiff", {"system:masters"}}, "skiff"};
  auto ns_res = registry_.Find("", "v1", "namespaces");
  if (!ns_res) return Status::Internal("the built-in definitions lack core/v1 namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease", "kubeflow"}) {
    if (store_->Get(ObjectApi::Key(*ns_res, "", ns)).ok()) continue;
    Json obj = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}};
    auto created = api_->Create(ctx, *ns_res, "", obj, {});
    if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  }
  return Status::Ok();
}

Status ApiServer::StartCrdSync() {
  auto crd_res = registry_.Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!crd_res) return Status::Ok();
  const std::string prefix = ObjectApi::Prefix(*crd_res, "");
  store::ListOptions lo;
  lo.prefix = prefix;
  auto existing = store_->List(lo);
  if (!existing.ok()) return existing.status();
  auto is_builtin = [](const Json& crd) { return IsBuiltinCrd(crd); };
  for (const store::Record& rec : existing->records) {
    auto crd = ParseJson(rec.value);
    if (!crd.ok() || is_builtin(*crd)) continue;
    Status s = registry_.AddCrd(*crd, false);
    if (!s.ok()) SKIFF_LOG(Warn) << "ignoring stored CRD " << rec.key << ": " << s.message();
  }
  api::ResourceRegistry* registry = &registry_;
  auto w = store_->WatchPrefix(
      prefix, existing->revision, [registry, is_builtin](const std::vector<store::Event>& events) {
        for (const store::Event& e : events) {
          auto crd = ParseJson(e.record.value);
          if (!crd.ok() || is_builtin(*crd)) continue;
          const std::string name =
              FindPath(*crd, "metadata.name") ? (*crd)["metadata"]["name"].get<std::string>() : "";
          if (e.type == store::EventType::kDeleted) {
            registry->RemoveCrd(name);
          } else {
            Status s = registry->AddCrd(*crd, false);
            if (!s.ok()) SKIFF_LOG(Warn) << "CRD " << name << " not served: " << s.message();
          }
        }
        return true;
      });
  if (!w.ok()) return w.status();
  crd_watch_ = std::move(*w);
  return Status::Ok();
}

namespace {

// A CRD document for one built-in (group, plural), every served version included.
Json BuiltinCrd(const std::vector<api::ResourcePtr>& versions) {
  const api::ResourceInfo& first = *versions.front();
  Json names = {{"plural", first.plural},
                {"singular", first.singular},
                {"kind", first.kind},
                {"listKind", first.list_kind}};
  if (!first.short_names.empty()) names["shortNames"] = first.short_names;
  if (!first.categories.empty()) names["categories"] = first.categories;
  Json vs = Json::array();
  for (size_t i = 0; i < versions.size(); ++i) {
    const api::ResourceInfo& r = *versions[i];
    Json v = {{"name", r.version},
              {"served", true},
              {"storage", i == 0},
              {"schema", {{"openAPIV3Schema", r.SchemaCopy()}}}};
    if (r.status_subresource) v["subresources"] = {{"status", Json::object()}};
    Json cols = Json::array();
    for (const api::PrinterColumn& c : r.columns) {
      Json col = {{"name", c.name}, {"type", c.type}, {"jsonPath", c.json_path}};
      if (!c.description.empty()) col["description"] = c.description;
      if (!c.format.empty()) col["format"] = c.format;
      if (c.priority) col["priority"] = c.priority;
      cols.push_back(col);
    }
    if (!cols.empty()) v["additionalPrinterColumns"] = cols;
    vs.push_back(v);
  }
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata",
           {{"name", first.plural + "." + first.group},
            {"labels", {{"app.kubernetes.io/managed-by", "skiff"}}},
            {"annotations", {{kBuiltinAnnotation, "true"}}}}},
          {"spec",
           {{"group", first.group},
            {"names", names},
            {"scope", first.namespaced ? "Namespaced" : "Cluster"},
            {"versions", vs}}}};
}

}  // namespace

void ApiServer::PublishBuiltinCrds() {
  auto crd_res = registry_.Find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  if (!crd_res) return;
  std::map<std::string, std::vector<api::ResourcePtr>> by_name;
  for (const api::ResourcePtr& r : registry_.All()) {
    // Kubernetes' own groups are not CRDs on a cluster either.
    if (!r->builtin || r->group.empty() || r->group == "batch" ||
        r->group.find("k8s.io") != std::string::npos || !r->stored) {
      continue;
    }
    by_name[r->plural + "." + r->group].push_back(r);
  }
  // The definitions are compiled in: their hash says whether a stored CRD is current, without
  // expanding any schema (which is what makes publishing expensive).
  std::string all_files;
  for (const auto& [file, content] : api::BuiltinFiles()) all_files.append(content);
  const std::string hash = pki::Sha256Hex(all_files);
  RequestContext ctx{{kSystemUser, {"system:masters"}}, "skiff"};
  for (auto& [name, versions] : by_name) {
    if (stopping_) return;
    auto live = api_->Get(ctx, *crd_res, "", name);
    if (live.ok()) {
      const Json* h = FindPath(*live, "metadata.annotations");
      if (h && h->value(kHashAnnotation, "") == hash) continue;
    }
    Json crd = BuiltinCrd(versions);
    crd["metadata"]["annotations"][kHashAnnotation] = hash;
    if (live.ok()) {
      crd["metadata"]["resourceVersion"] = (*live)["metadata"]["resourceVersion"];
      auto updated = api_->Update(ctx, *crd_res, "", name, crd, {}, false);
      if (!updated.ok())
        SKIFF_LOG(Warn) << "publishing CRD " << name << ": " << updated.status().message();
    } else {
      auto created = api_->Create(ctx, *crd_res, "", crd, {});
      if (!created.ok())
        SKIFF_LOG(Warn) << "publishing CRD " << name << ": " << created.status().message();
    }
  }
  // Start-up (loading the store, expanding schemas) leaves large freed trees behind; hand their
  // pages back to the system.
  malloc_trim(0);
}

std::string ApiServer::Kubeconfig() const {
  auto b64 = [](const std::string& in) { return Base64Encode(in); };
  Json cluster = {{"server", url()}};
  if (!ca_pem_.empty()) cluster["certificate-authority-data"] = b64(ca_pem_);
  Json cfg = {
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", {{{"name", "skiff"}, {"cluster", cluster}}}},
      {"users", {{{"name", "skiff-admin"}, {"user", {{"token", admin_token_}}}}}},
      {"contexts",
       {{{"name", "skiff"},
         {"context", {{"cluster", "skiff"}, {"user", "skiff-admin"}, {"namespace", "default"}}}}}},
      {"current-context", "skiff"},
      {"preferences", Json::object()}};
  return ToYaml(cfg);
}

}  // namespace skiff::apiserver

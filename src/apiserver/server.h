// ApiServer: the store, the resource registry, ObjectApi and the HTTPS endpoint, assembled and
// bootstrapped (certificates, admin token, default namespaces, user CRDs).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "api/resource.h"
#include "apiserver/auth.h"
#include "apiserver/handler.h"
#include "apiserver/object_api.h"
#include "apiserver/service_account_token.h"
#include "common/status.h"
#include "http/server.h"
#include "store/store.h"

namespace skiff::apiserver {

struct ApiServerOptions {
  std::string data_dir;  // $SKIFF_HOME
  std::string address = "127.0.0.1";
  uint16_t port = 6443;        // 0: any free port
  bool insecure_http = false;  // plain HTTP, every request is the admin (development only)
  int threads = 4;
  bool in_memory_store = false;  // tests: no SQLite file
  bool fsync_each_commit = false;
  int64_t history_revisions = 10000;
  size_t max_body_bytes = 3 * 1024 * 1024;
};

class ApiServer {
 public:
  static StatusOr<std::unique_ptr<ApiServer>> Start(ApiServerOptions options);
  ~ApiServer();

  ObjectApi* api() { return api_.get(); }
  api::ResourceRegistry* registry() { return &registry_; }
  store::Store* store() { return store_.get(); }
  ApiHandler* handler() { return handler_.get(); }

  uint16_t port() const;
  std::string url() const;  // https://127.0.0.1:6443
  const std::string& admin_token() const { return admin_token_; }
  const std::string& ca_file() const { return ca_file_; }
  // A kubeconfig for the admin user (token auth, CA embedded).
  std::string Kubeconfig() const;
  // The CA that signed the serving certificate, PEM ("" over plain HTTP): a Pod's ca.crt.
  const std::string& ca_pem() const { return ca_pem_; }
  // A bearer token for the ServiceAccount `ns`/`name`, which this server accepts as user
  // system:serviceaccount:<ns>:<name>. Thread-safe.
  std::string ServiceAccountToken(const std::string& ns, const std::string& name) const;

  void Stop();

 private:
  ApiServer() = default;
  Status Bootstrap();
  Status StartCrdSync();
  // Stores skiff's own non-core kinds as CustomResourceDefinitions (`kubectl get crd`), in the
  // background after start-up; unchanged definitions are not rewritten.
  void PublishBuiltinCrds();

  ApiServerOptions options_;
  std::unique_ptr<store::Store> store_;
  api::ResourceRegistry registry_;
  std::unique_ptr<ObjectApi> api_;
  std::unique_ptr<ServiceAccountTokens> sa_tokens_;
  std::unique_ptr<Authenticator> authn_;
  std::unique_ptr<Authorizer> authz_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<store::Watch> crd_watch_;
  std::thread publisher_;
  std::atomic<bool> stopping_{false};
  std::string admin_token_;
  std::string ca_file_;
  std::string ca_pem_;
};

}  // namespace skiff::apiserver

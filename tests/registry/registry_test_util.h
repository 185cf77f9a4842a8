// A real API server with the Model Registry route, for the REST and plugin tests: HTTPS on
// 127.0.0.1 port 0, an in-memory store, and a kubeconfig for its admin.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "../client/test_util.h"
#include "apiserver/server.h"
#include "http/client.h"
#include "registry/rest.h"

namespace skiff::registry {

class RegistryServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::ApiServerOptions o;
    o.data_dir = dir_.File("home");
    o.port = 0;
    o.in_memory_store = true;
    o.threads = 2;
    auto server = apiserver::ApiServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    server_->handler()->AddRoute(RegistryRoutes(server_->api()));
    kubeconfig_ = dir_.File("kubeconfig");
    std::ofstream(kubeconfig_) << server_->Kubeconfig();
    http::ClientOptions co;
    co.port = server_->port();
    co.use_tls = true;
    co.ca_file = server_->ca_file();
    http_ = http::NewClient(co);
  }

  void TearDown() override {
    http_.reset();
    if (server_) server_->Stop();
  }

  struct Answer {
    int status = 0;
    Json body;
  };

  // One REST call; `path` is relative to /api/model_registry/v1alpha3/.
  Answer Call(const std::string& method, const std::string& path, const Json& body = nullptr) {
    http::ClientRequest req;
    req.method = method;
    req.target = std::string(kRestPrefix) + path;
    req.headers["Authorization"] = "Bearer " + server_->admin_token();
    req.headers["Accept"] = "application/json";
    if (!body.is_null()) {
      req.body = body.dump();
      req.headers["Content-Type"] = "application/json";
    }
    auto r = http_->Do(req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    Answer a;
    a.status = r->status;
    auto parsed = ParseJson(r->body);
    EXPECT_TRUE(parsed.ok()) << method << " " << path << ": " << r->body;
    if (parsed.ok()) a.body = *parsed;
    return a;
  }

  skiff::testing::TempDir dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<http::Client> http_;
  std::string kubeconfig_;
};

}  // namespace skiff::registry

// A test fixture serving the real ApiServer over HTTPS (in-memory store, port 0) with a client
// that trusts its CA; tests talk to it the way kubectl does.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "apiserver/server.h"
#include "http/client.h"

namespace skiff::apiserver {

class HttpsApiServerTest : public ::testing::Test {
 protected:
  // Lets a suite adjust the server (e.g. a smaller body limit) before it starts.
  virtual void Configure(ApiServerOptions* options) {}

  void SetUp() override {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("skiff-https-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    ApiServerOptions o;
    o.data_dir = dir_.string();
    o.port = 0;
    o.in_memory_store = true;
    o.threads = 2;
    Configure(&o);
    auto s = ApiServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = NewClient();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<http::Client> NewClient() {
    http::ClientOptions co;
    co.port = server_->port();
    co.use_tls = true;
    co.ca_file = server_->ca_file();
    return http::NewClient(co);
  }

  // Sends a request with the admin token (unless `auth` is false); JSON bodies by default.
  http::Response Do(const std::string& method, const std::string& target,
                    const std::string& body = "", http::Headers headers = {}, bool auth = true) {
    http::ClientRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.headers = std::move(headers);
    if (auth) r.headers["Authorization"] = "Bearer " + server_->admin_token();
    if (!body.empty() && !r.headers.count("Content-Type")) {
      r.headers["Content-Type"] = "application/json";
    }
    auto resp = client_->Do(r);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : http::Response{};
  }

  std::filesystem::path dir_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<http::Client> client_;
};

}  // namespace skiff::apiserver

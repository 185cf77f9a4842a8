// The REST surface over a real HTTPS listener: what kubectl and other HTTP clients receive.
#include "apiserver/handler.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "apiserver/server.h"
#include "http/client.h"
#include "https_fixture.h"

namespace skiff::apiserver {
namespace {

class HandlerTest : public HttpsApiServerTest {
 protected:
  void Configure(ApiServerOptions* o) override { o->max_body_bytes = 256 * 1024; }
};

TEST_F(HandlerTest, VersionAndHealthNeedNoToken) {
  auto v = Do("GET", "/version", "", {}, false);
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ(Json::parse(v.body)["gitVersion"], "v1.32.0");
  EXPECT_EQ(Do("GET", "/readyz", "", {}, false).body, "ok");
}

TEST_F(HandlerTest, ApiNeedsAValidToken) {
  auto anon = Do("GET", "/api/v1/namespaces", "", {}, false);
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(Json::parse(anon.body)["reason"], "Unauthorized");
  auto wrong = Do("GET", "/api/v1/namespaces", "", {{"Authorization", "Bearer nope"}}, false);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Do("GET", "/api/v1/namespaces").status, 200);
}

TEST_F(HandlerTest, AggregatedAndLegacyDiscovery) {
  auto agg = Do(
      "GET", "/apis", "",
      {{"Accept",
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}});
  EXPECT_EQ(agg.status, 200);
  EXPECT_NE(agg.headers["Content-Type"].find("as=APIGroupDiscoveryList"), std::string::npos);
  Json list = Json::parse(agg.body);
  EXPECT_EQ(list["kind"], "APIGroupDiscoveryList");
  bool tfjobs = false;
  for (const Json& g : list["items"]) {
    for (const Json& v : g["versions"]) {
      for (const Json& r : v["resources"]) {
        if (r["resource"] == "tfjobs") {
          tfjobs = true;
          EXPECT_EQ(r["responseKind"]["kind"], "TFJob");
          EXPECT_EQ(r["scope"], "Namespaced");
        }
      }
    }
  }
  EXPECT_TRUE(tfjobs);

  Json legacy = Json::parse(Do("GET", "/apis/kubeflow.org/v1").body);
  EXPECT_EQ(legacy["kind"], "APIResourceList");
  EXPECT_EQ(Do("GET", "/apis/nothing.example/v1").status, 404);
}

TEST_F(HandlerTest, OpenApiIndexPointsAtDocuments) {
  Json index = Json::parse(Do("GET", "/openapi/v3").body);
  ASSERT_TRUE(index["paths"].contains("apis/kubeflow.org/v1"));
  std::string url = index["paths"]["apis/kubeflow.org/v1"]["serverRelativeURL"];
  auto doc = Do("GET", url);
  EXPECT_EQ(doc.status, 200);
  EXPECT_NE(doc.body.find("org.kubeflow.v1.TFJob"), std::string::npos);
}

TEST_F(HandlerTest, CrudTablesAndErrors) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  auto created = Do(
      "POST", base,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1"}},"data":{"k":"v"}})");
  EXPECT_EQ(created.status, 201);
  auto dup = Do("POST", base, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(Json::parse(dup.body)["reason"], "AlreadyExists");

  auto table = Do("GET", base, "",
                  {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  Json t = Json::parse(table.body);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["columnDefinitions"][0]["name"], "Name");
  EXPECT_EQ(t["rows"][0]["cells"][0], "a");
  EXPECT_EQ(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");

  auto bad_json = Do("POST", base, "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(Json::parse(bad_json.body)["kind"], "Status");

  std::string big(300 * 1024, 'x');
  auto too_big = Do("POST", base, R"({"metadata":{"name":"big"},"data":{"k":")" + big + "\"}}");
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(Do("GET", base + "/big").status, 404) << "nothing written";

  auto smp = Do("PATCH", "/apis/kubeflow.org/v1/namespaces/default/tfjobs/x", "{}",
                {{"Content-Type", "application/strategic-merge-patch+json"}});
  EXPECT_EQ(smp.status, 415);

  auto del = Do("DELETE", base + "/a", R"({"propagationPolicy":"Background"})");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(Do("GET", base + "/a").status, 404);
}

TEST_F(HandlerTest, WatchStreamsEventsAndExpiresOldVersions) {
  const std::string base = "/api/v1/namespaces/default/configmaps";
  ASSERT_EQ(Do("POST", base, R"({"metadata":{"name":"w1"}})").status, 201);
  auto list = Json::parse(Do("GET", base).body);
  std::string rv = list["metadata"]["resourceVersion"];
  ASSERT_EQ(Do("POST", base, R"({"metadata":{"name":"w2"}})").status, 201);

  auto watcher = NewClient();
  http::ClientRequest r;
  r.target = base + "?watch=true&resourceVersion=" + rv + "&timeoutSeconds=5";
  r.headers["Authorization"] = "Bearer " + server_->admin_token();
  std::string received;
  auto resp = watcher->Stream(r, [&](std::string_view chunk) {
    received += chunk;
    return received.find("w2") == std::string::npos;  // stop once w2 arrived
  });
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_NE(received.find("\"type\":\"ADDED\""), std::string::npos);
  EXPECT_EQ(received.find("w1"), std::string::npos) << "events after resourceVersion only";

  // Compact everything, then ask for the old version: an ERROR event with 410 Expired.
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Do("POST", base, R"({"metadata":{"generateName":"c-"}})").status, 201);
  }
  ASSERT_TRUE(server_->store()->Compact(1).ok());
  auto expired_client = NewClient();
  r.target = base + "?watch=true&resourceVersion=1";
  std::string expired;
  ASSERT_TRUE(expired_client
                  ->Stream(r,
                           [&](std::string_view c) {
                             expired += c;
                             return true;
                           })
                  .ok());
  EXPECT_NE(expired.find("\"type\":\"ERROR\""), std::string::npos) << expired;
  EXPECT_NE(expired.find("410"), std::string::npos) << expired;
}

}  // namespace
}  // namespace skiff::apiserver

// The lineage HTTP routes, called directly with constructed requests.
#include "pipelines/lineage_routes.h"

#include <gtest/gtest.h>

namespace skiff::pipelines {
namespace {

const apiserver::UserInfo kUser{"alice", {"system:authenticated"}};

class LineageRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(LineageStore::Open(":memory:").value());
    route_ = LineageRoutes(store_.get());

    ExecutionRecord train;
    train.state = "COMPLETE";
    train.namespace_name = "team-a";
    train.pipeline = "mnist";
    train.run_name = "mnist-run";
    train.run_uid = "uid-1";
    train.task = "train";
    train.image = "skiff/ml";
    train.input_parameters = {{"lr", 0.01}};
    train.outputs = {ArtifactRecord{0, "model", "model", "system.Model", "file:///m", {}}};
    ASSERT_TRUE(store_->RecordExecution(train).ok());
    ExecutionRecord evaluate = train;
    evaluate.task = "evaluate";
    evaluate.inputs = train.outputs;
    evaluate.outputs = {ArtifactRecord{0, "metrics", "metrics", "system.Metrics", "file:///x",
                                       Json{{"accuracy", 0.9}}}};
    ASSERT_TRUE(store_->RecordExecution(evaluate).ok());
  }

  // Sends a request; nullopt when the route does not serve the path.
  std::optional<http::Response> Get(const std::string& path,
                                    std::multimap<std::string, std::string> query = {},
                                    const apiserver::UserInfo& user = kUser,
                                    const std::string& method = "GET") {
    http::Request req;
    req.method = method;
    req.path = path;
    req.query = std::move(query);
    auto reply = route_(req, user);
    if (!reply) return std::nullopt;
    EXPECT_FALSE(reply->is_stream());
    return reply->response();
  }

  static Json Body(const http::Response& r) { return ParseJson(r.body).value(); }

  std::unique_ptr<LineageStore> store_;
  apiserver::ExtraRoute route_;
};

TEST_F(LineageRoutesTest, LineageOfAnArtifact) {
  auto r = Get("/apis/skiff.io/v1/lineage", {{"uri", "file:///x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/json");
  Json body = Body(*r);
  EXPECT_EQ(body["artifact"]["metadata"]["accuracy"], 0.9);
  EXPECT_EQ(body["producedBy"]["task"], "evaluate");
  EXPECT_EQ(body["producedBy"]["inputs"]["artifacts"][0]["producedBy"]["task"], "train");
  EXPECT_EQ(
      body["producedBy"]["inputs"]["artifacts"][0]["producedBy"]["inputs"]["parameters"]["lr"],
      0.01);
}

TEST_F(LineageRoutesTest, UnknownUriIsANotFoundStatus) {
  auto r = Get("/apis/skiff.io/v1/lineage", {{"uri", "file:///none"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  Json body = Body(*r);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["reason"], "NotFound");
  EXPECT_NE(body["message"].get<std::string>().find("file:///none"), std::string::npos);
}

TEST_F(LineageRoutesTest, MissingUriIsABadRequest) {
  auto r = Get("/apis/skiff.io/v1/lineage");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Body(*r)["kind"], "Status");
  EXPECT_EQ(Get("/apis/skiff.io/v1/executions")->status, 400);
  EXPECT_EQ(Get("/apis/skiff.io/v1/artifacts", {{"limit", "x"}})->status, 400);
}

TEST_F(LineageRoutesTest, ArtifactsByTypeAndLimit) {
  auto r = Get("/apis/skiff.io/v1/artifacts", {{"type", "system.Metrics"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  Json items = Body(*r)["artifacts"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["uri"], "file:///x");
  EXPECT_EQ(items[0]["producedBy"]["run"], "mnist-run");
  EXPECT_EQ(Body(*Get("/apis/skiff.io/v1/artifacts"))["artifacts"].size(), 2u);
  EXPECT_EQ(Body(*Get("/apis/skiff.io/v1/artifacts", {{"limit", "1"}}))["artifacts"].size(), 1u);
}

TEST_F(LineageRoutesTest, ExecutionsOfARun) {
  auto r = Get("/apis/skiff.io/v1/executions", {{"run", "uid-1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  Json items = Body(*r)["executions"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["task"], "train");
  EXPECT_EQ(items[1]["task"], "evaluate");
  EXPECT_EQ(items[1]["inputs"][0]["uri"], "file:///m");
  EXPECT_EQ(items[1]["outputs"][0]["key"], "metrics");
  EXPECT_EQ(Body(*Get("/apis/skiff.io/v1/executions", {{"run", "other"}}))["executions"],
            Json::array());
}

TEST_F(LineageRoutesTest, UnauthenticatedUsersAreRefused) {
  auto r = Get("/apis/skiff.io/v1/lineage", {{"uri", "file:///x"}},
               apiserver::UserInfo{"system:anonymous", {"system:unauthenticated"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(Body(*r)["reason"], "Unauthorized");
  EXPECT_EQ(Get("/apis/skiff.io/v1/artifacts", {}, apiserver::UserInfo{"bob", {}})->status, 401);
}

TEST_F(LineageRoutesTest, WritesAreNotAllowed) {
  auto r = Get("/apis/skiff.io/v1/artifacts", {}, kUser, "POST");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST_F(LineageRoutesTest, OtherPathsAreLeftToTheApiServer) {
  EXPECT_FALSE(Get("/apis/skiff.io/v1"));
  EXPECT_FALSE(Get("/apis/skiff.io/v1/lineages"));
  EXPECT_FALSE(Get("/apis/kubeflow.org/v2beta1/pipelineruns"));
  EXPECT_FALSE(Get("/metrics"));
}

}  // namespace
}  // namespace skiff::pipelines

// The pods/log endpoint over HTTPS: container selection, kubectl's query parameters, errors for
// containers that have not started, and streaming with follow.
#include <gtest/gtest.h>

#include <atomic>

#include "https_fixture.h"

namespace skiff::apiserver {
namespace {

class PodLogTest : public HttpsApiServerTest {
 protected:
  void SetUp() override {
    HttpsApiServerTest::SetUp();
    server_->handler()->SetPodLogSource([this](
                                            const Json& pod, const PodLogRequest& r,
                                            const std::function<bool()>& cancelled,
                                            const std::function<bool(const std::string&)>& sink) {
      last_ = r;
      if (r.container == "waiting") return Status::NotFound("no log yet");
      if (r.previous)
        return Status::NotFound("previous terminated container \"main\" in pod \"p\" not found");
      for (int i = 0; i < lines_; ++i) {
        if (cancelled() || !sink(pod["metadata"]["name"].get<std::string>() + " line " +
                                 std::to_string(i) + "\n")) {
          break;
        }
      }
      return Status::Ok();
    });
  }

  void CreatePod(const std::string& name, Json containers, bool bound = true) {
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata", {{"name", name}}},
                {"spec", {{"containers", containers}}}};
    if (bound) pod["spec"]["nodeName"] = "node1";
    auto r = Do("POST", "/api/v1/namespaces/default/pods", pod.dump());
    ASSERT_EQ(r.status, 201) << r.body;
    Json status = Json::parse(r.body);
    status["status"] = {
        {"phase", "Running"},
        {"containerStatuses",
         Json::array({{{"name", containers[0]["name"]},
                       {"restartCount", 0},
                       {"state", {{"running", {{"startedAt", "2026-11-29T00:00:00Z"}}}}}}})}};
    auto u = Do("PUT", "/api/v1/namespaces/default/pods/" + name + "/status", status.dump());
    ASSERT_EQ(u.status, 200) << u.body;
  }

  PodLogRequest last_;
  int lines_ = 3;
};

Json Containers(std::initializer_list<const char*> names) {
  Json out = Json::array();
  for (const char* n : names) out.push_back({{"name", n}, {"image", "busybox"}});
  return out;
}

TEST_F(PodLogTest, ReturnsTheLogAsPlainText) {
  CreatePod("p", Containers({"main"}));
  auto r = Do("GET",
              "/api/v1/namespaces/default/pods/p/log?tailLines=5&timestamps=true&sinceSeconds=60");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "p line 0\np line 1\np line 2\n");
  EXPECT_EQ(last_.container, "main");
  EXPECT_EQ(last_.tail_lines, 5);
  EXPECT_TRUE(last_.timestamps);
  EXPECT_TRUE(last_.since.has_value());
}

TEST_F(PodLogTest, ContainerMustBeNamedWhenThereAreSeveral) {
  CreatePod("multi", Containers({"a", "b"}));
  auto r = Do("GET", "/api/v1/namespaces/default/pods/multi/log");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("a container name must be specified for pod multi, choose one of: [a b]"),
            std::string::npos)
      << r.body;
  r = Do("GET", "/api/v1/namespaces/default/pods/multi/log?container=c");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("container c is not valid for pod multi"), std::string::npos) << r.body;
  r = Do("GET", "/api/v1/namespaces/default/pods/multi/log?container=b");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(last_.container, "b");
}

TEST_F(PodLogTest, WaitingContainersAndMissingPods) {
  CreatePod("w", Containers({"waiting"}));
  auto r = Do("GET", "/api/v1/namespaces/default/pods/w/log");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json::parse(r.body)["message"],
            "container \"waiting\" in pod \"w\" is waiting to start: ContainerCreating");
  r = Do("GET", "/api/v1/namespaces/default/pods/nope/log");
  EXPECT_EQ(r.status, 404);
  CreatePod("p", Containers({"main"}));
  r = Do("GET", "/api/v1/namespaces/default/pods/p/log?previous=true");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("previous terminated container"), std::string::npos) << r.body;
  r = Do("POST", "/api/v1/namespaces/default/pods/p/log", "{}");
  EXPECT_EQ(r.status, 405);
}

TEST_F(PodLogTest, FollowStreamsUntilTheSourceEnds) {
  lines_ = 50;
  CreatePod("p", Containers({"main"}));
  http::ClientRequest req;
  req.method = "GET";
  req.target = "/api/v1/namespaces/default/pods/p/log?follow=true";
  req.headers["Authorization"] = "Bearer " + server_->admin_token();
  std::string got;
  auto resp = client_->Stream(req, [&](std::string_view chunk) {
    got.append(chunk);
    return true;
  });
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_TRUE(last_.follow);
  EXPECT_NE(got.find("p line 0\n"), std::string::npos);
  EXPECT_NE(got.find("p line 49\n"), std::string::npos);
}

}  // namespace
}  // namespace skiff::apiserver

// Route resolution by Host and path, and the weighted split.
#include "inference/routing_table.h"

#include <gtest/gtest.h>

namespace skiff::inference {
namespace {

ServiceRoute Service(const std::string& ns, const std::string& name, bool transformer,
                     bool explainer) {
  ServiceRoute s;
  s.ns = ns;
  s.name = name;
  auto comp = [](const std::string& c) {
    ComponentRoute r;
    r.component = c;
    r.revisions.push_back({c + "-rev", "", {}, 100, nullptr});
    return r;
  };
  s.predictor = comp("predictor");
  if (transformer) s.transformer = comp("transformer");
  if (explainer) s.explainer = comp("explainer");
  return s;
}

TEST(Routing, ResolvesHostsAndPaths) {
  RoutingTable table("example.com");
  table.Publish(Service("default", "mnist", false, true));
  table.Publish(Service("team", "img", true, false));
  auto snap = table.Current();
  auto r = ResolveRoute(*snap, "mnist.default.example.com:8081", "/v2/models/mnist/infer");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->component->component, "predictor");
  EXPECT_EQ(r->path, "/v2/models/mnist/infer");
  r = ResolveRoute(*snap, "MNIST.default.svc.cluster.local", "/v1/models/mnist:explain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->component->component, "explainer");
  r = ResolveRoute(*snap, "img.team.example.com", "/v1/models/img:predict");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->component->component, "transformer");  // the entry when there is one
  r = ResolveRoute(*snap, "img-predictor.team.example.com", "/v1/models/img:predict");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->component->component, "predictor");
  r = ResolveRoute(*snap, "127.0.0.1:8081", "/serving/team/img/v2/health/ready?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->service->name, "img");
  EXPECT_EQ(r->path, "/v2/health/ready?x=1");
  r = ResolveRoute(*snap, "", "/serving/team/img-predictor");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->component->component, "predictor");
  EXPECT_EQ(r->path, "/");
  EXPECT_FALSE(ResolveRoute(*snap, "nope.default.example.com", "/"));
  EXPECT_FALSE(ResolveRoute(*snap, "mnist.default.example.org", "/"));
  EXPECT_FALSE(ResolveRoute(*snap, "localhost:8081", "/v2/models/mnist/infer"));
  EXPECT_FALSE(ResolveRoute(*snap, "", "/serving/default"));
  EXPECT_FALSE(ResolveRoute(*snap, "img-explainer.team.example.com", "/"));
  table.Remove("team", "img");
  EXPECT_FALSE(ResolveRoute(*table.Current(), "img.team.example.com", "/"));
}

TEST(Routing, SplitFollowsPercentages) {
  ComponentRoute c;
  c.revisions.push_back({"a", "", {}, 20, nullptr});
  c.revisions.push_back({"b", "", {}, 80, nullptr});
  int a = 0;
  for (int i = 0; i < 1000; ++i) a += c.Pick()->name == "a" ? 1 : 0;
  EXPECT_NEAR(a, 200, 5);
  // Any short run splits close to the share too.
  a = 0;
  for (int i = 0; i < 50; ++i) a += c.Pick()->name == "a" ? 1 : 0;
  EXPECT_NEAR(a, 10, 2);
}

TEST(Routing, UnchangedRoutesAreNotRepublished) {
  RoutingTable table;
  int changes = 0;
  table.AddListener([&] { ++changes; });
  ServiceRoute s = Service("ns", "m", false, false);
  s.signature = "v1";
  table.Publish(s);
  table.Publish(s);
  EXPECT_EQ(changes, 1);
  s.signature = "v2";
  table.Publish(s);
  EXPECT_EQ(changes, 2);
}

}  // namespace
}  // namespace skiff::inference

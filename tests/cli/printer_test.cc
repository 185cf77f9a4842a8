// The pure parts of the CLI: kubectl's column alignment, ages, labels, the RestMapper and the
// three-way merge patch of client-side apply.
#include "cli/printer.h"

#include <gtest/gtest.h>

#include <sstream>

#include "cli/apply.h"
#include "cli/describe.h"
#include "cli/rest_mapper.h"

namespace skiff::cli {
namespace {

std::string Tab(size_t min_width, size_t padding, const std::string& text) {
  TabWriter w(min_width, padding);
  w.Write(text);
  std::ostringstream out;
  w.Flush(out);
  return out.str();
}

TEST(TabWriterTest, AlignsColumnsLikeKubectlGet) {
  EXPECT_EQ(Tab(6, 3, "NAME\tDATA\tAGE\nkube-root-ca.crt\t1\t5d\n"),
            "NAME               DATA   AGE\n"
            "kube-root-ca.crt   1      5d\n");
}

TEST(TabWriterTest, LinesWithoutCellsEndABlock) {
  // describe: "Spec:" has no tab, so the lines after it align among themselves.
  EXPECT_EQ(Tab(0, 2, "Name:\tx\nAnnotations:\t<none>\nSpec:\n  A:\t1\n  Long Name:\t2\n"),
            "Name:         x\n"
            "Annotations:  <none>\n"
            "Spec:\n"
            "  A:          1\n"
            "  Long Name:  2\n");
}

TEST(TabWriterTest, CountsUtf8CharactersNotBytes) {
  EXPECT_EQ(Tab(0, 1, "é\tx\nab\ty\n"), "é  x\nab y\n");
}

TEST(HumanDurationTest, MatchesKubernetes) {
  using std::chrono::seconds;
  EXPECT_EQ(HumanDuration(seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(5 * 60 + 3)), "5m3s");
  EXPECT_EQ(HumanDuration(seconds(5 * 60)), "5m");
  EXPECT_EQ(HumanDuration(seconds(17 * 60)), "17m");
  EXPECT_EQ(HumanDuration(seconds(4 * 3600 + 10 * 60)), "4h10m");
  EXPECT_EQ(HumanDuration(seconds(20 * 3600)), "20h");
  EXPECT_EQ(HumanDuration(seconds(4 * 86400 + 2 * 3600)), "4d2h");
  EXPECT_EQ(HumanDuration(seconds(100 * 86400)), "100d");
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
}

TEST(ParseTimestampTest, ReadsRfc3339) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:01:00Z"), 60);
  EXPECT_EQ(ParseTimestamp("1970-01-01T01:00:00.123456Z"), 3600);
  EXPECT_EQ(ParseTimestamp("1970-01-01T02:00:00+01:00"), 3600);
  EXPECT_FALSE(ParseTimestamp("yesterday").has_value());
}

TEST(SmartLabelTest, MatchesKubectlDescribe) {
  EXPECT_EQ(SmartLabel("creationTimestamp"), "Creation Timestamp");
  EXPECT_EQ(SmartLabel("apiVersion"), "API Version");
  EXPECT_EQ(SmartLabel("uid"), "UID");
  EXPECT_EQ(SmartLabel("tfReplicaSpecs"), "Tf Replica Specs");
  EXPECT_EQ(SmartLabel("nvidia.com/gpu"), "nvidia.com/gpu");
  EXPECT_EQ(SmartLabel("Worker"), "Worker");
}

RestMapper TestMapper() {
  Json core = {{"kind", "APIGroupDiscoveryList"},
               {"items",
                {{{"metadata", {{"name", ""}}},
                  {"versions",
                   {{{"version", "v1"},
                     {"resources",
                      {{{"resource", "configmaps"},
                        {"responseKind", {{"kind", "ConfigMap"}}},
                        {"scope", "Namespaced"},
                        {"singularResource", "configmap"},
                        {"shortNames", {"cm"}},
                        {"categories", {"all"}}},
                       {{"resource", "namespaces"},
                        {"responseKind", {{"kind", "Namespace"}}},
                        {"scope", "Cluster"},
                        {"singularResource", "namespace"},
                        {"shortNames", {"ns"}}}}}}}}}}}};
  auto isvc = [](const std::string& group) {
    return Json{{"metadata", {{"name", group}}},
                {"versions",
                 {{{"version", "v1beta1"},
                   {"resources",
                    {{{"resource", "inferenceservices"},
                      {"responseKind", {{"kind", "InferenceService"}}},
                      {"scope", "Namespaced"},
                      {"singularResource", "inferenceservice"},
                      {"shortNames", {"isvc"}},
                      {"categories", {"all", "kubeflow"}}}}}}}}};
  };
  Json groups = {{"kind", "APIGroupDiscoveryList"},
                 {"items", {isvc("serving.kserve.io"), isvc("serving.kubeflow.org")}}};
  auto mapper = RestMapper::FromAggregatedDiscovery(core, groups);
  EXPECT_TRUE(mapper.ok()) << mapper.status().ToString();
  return mapper.ok() ? *mapper : RestMapper();
}

TEST(RestMapperTest, ResolvesEveryNameForm) {
  RestMapper m = TestMapper();
  // `configmaps.v1.` is kubectl's fully qualified form for the core group.
  for (const char* arg : {"configmaps", "configmap", "ConfigMap", "CM", "configmaps.v1."}) {
    auto r = m.ForArg(arg);
    ASSERT_TRUE(r.ok()) << arg;
    EXPECT_EQ(r->resource.plural, "configmaps");
    EXPECT_TRUE(r->namespaced);
  }
  auto ns = m.ForArg("ns");
  ASSERT_TRUE(ns.ok());
  EXPECT_FALSE(ns->namespaced);
  EXPECT_EQ(ns->KindGroup(), "namespace");

  // An unqualified name takes the first group in discovery order; a qualified one its own.
  EXPECT_EQ(m.ForArg("isvc")->resource.group, "serving.kserve.io");
  EXPECT_EQ(m.ForArg("isvc.serving.kubeflow.org")->resource.group, "serving.kubeflow.org");
  EXPECT_EQ(m.ForArg("inferenceservices.v1beta1.serving.kubeflow.org")->resource.group,
            "serving.kubeflow.org");
  EXPECT_EQ(m.ForArg("inferenceservice.serving.kserve.io")->GroupResource(),
            "inferenceservices.serving.kserve.io");
  EXPECT_FALSE(m.ForArg("configmaps.v2.").ok());
  EXPECT_EQ(m.ForArg("nope").status().message(),
            "the server doesn't have a resource type \"nope\"");

  auto k = m.ForKind("serving.kubeflow.org/v1beta1", "InferenceService");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->resource.group, "serving.kubeflow.org");
  EXPECT_EQ(k->KindGroup(), "inferenceservice.serving.kubeflow.org");
  EXPECT_FALSE(m.ForKind("serving.kubeflow.org/v1", "InferenceService").ok());
}

TEST(RestMapperTest, CategoriesNameSeveralTypes) {
  RestMapper m = TestMapper();
  std::vector<std::string> all;
  for (const Mapping& x : m.ForCategory("all")) all.push_back(x.GroupResource());
  EXPECT_EQ(all, std::vector<std::string>({"configmaps", "inferenceservices.serving.kserve.io",
                                           "inferenceservices.serving.kubeflow.org"}));
  EXPECT_EQ(m.ForCategory("kubeflow").size(), 2u);
  EXPECT_TRUE(m.ForCategory("nope").empty());
}

TEST(ThreeWayMergePatchTest, ChangesAddsAndDeletesOnlyWhatWasApplied) {
  Json original = {{"metadata", {{"name", "x"}}}, {"data", {{"a", "1"}, {"b", "2"}}}};
  Json modified = {{"metadata", {{"name", "x"}}}, {"data", {{"a", "9"}, {"c", "3"}}}};
  Json current = {{"metadata", {{"name", "x"}, {"uid", "u"}, {"labels", {{"o", "x"}}}}},
                  {"data", {{"a", "1"}, {"b", "2"}, {"other", "kept"}}},
                  {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(ThreeWayMergePatch(original, modified, current),
            Json({{"data", {{"a", "9"}, {"b", nullptr}, {"c", "3"}}}}));
}

TEST(ThreeWayMergePatchTest, NothingToDoIsAnEmptyPatch) {
  Json applied = {{"spec", {{"list", {1, 2}}, {"empty", Json::object()}}}};
  Json current = applied;
  current["status"] = {{"x", 1}};
  EXPECT_EQ(ThreeWayMergePatch(applied, applied, current), Json::object());
  // Lists are replaced whole; without a last-applied configuration nothing is deleted.
  Json modified = {{"spec", {{"list", {3}}}}};
  EXPECT_EQ(ThreeWayMergePatch(nullptr, modified, current), Json({{"spec", {{"list", {3}}}}}));
}

TEST(ThreeWayMergePatchTest, ListsOnlyDefaultedByTheServerAreNotResent) {
  Json applied = {{"spec", {{"containers", {{{"name", "main"}, {"image", "a"}}}}}}};
  Json live = {{"spec",
                {{"containers",
                  {{{"name", "main"}, {"image", "a"}, {"terminationMessagePath", "/dev/x"}}}}}}};
  EXPECT_EQ(ThreeWayMergePatch(applied, applied, live), Json::object());

  // The user changed the list: it is sent whole.
  Json changed = {{"spec", {{"containers", {{{"name", "main"}, {"image", "b"}}}}}}};
  EXPECT_EQ(ThreeWayMergePatch(applied, changed, live), changed);
  // The user removed a field inside an item: the list differs from the last applied one.
  Json applied_env = applied;
  applied_env["spec"]["containers"][0]["env"] = Json::array({{{"name", "X"}}});
  Json live_env = live;
  live_env["spec"]["containers"][0]["env"] = Json::array({{{"name", "X"}}});
  EXPECT_EQ(ThreeWayMergePatch(applied_env, applied, live_env), applied);
  // Someone else changed what the user set: the user's configuration is restored.
  Json drifted = live;
  drifted["spec"]["containers"][0]["image"] = "other";
  EXPECT_EQ(ThreeWayMergePatch(applied, applied, drifted), applied);
}

}  // namespace
}  // namespace skiff::cli

// The garbage collector, the namespace controller and the event recorder, running in a Manager
// over the in-process client, observed only through the API as a user would.
#include "controllers/core_controllers.h"

#include <gtest/gtest.h>

#include "../client/test_util.h"
#include "apiserver/server.h"
#include "client/http_client.h"
#include "controllers/event_recorder.h"
#include "controllers/namespace_controller.h"
#include "controllers/object_meta.h"

namespace skiff::controllers {
namespace {

using skiff::testing::ConfigMap;
using skiff::testing::Eventually;
using skiff::testing::InProcessEnv;
using skiff::testing::kConfigMaps;
using skiff::testing::kNamespaces;
using skiff::testing::kSecrets;

Json OwnedSecret(const std::string& name, const Json& owner, bool block = false) {
  Json ref = {{"apiVersion", owner.value("apiVersion", "")},
              {"kind", owner.value("kind", "")},
              {"name", NameOf(owner)},
              {"uid", UidOf(owner)},
              {"controller", true}};
  if (block) ref["blockOwnerDeletion"] = true;
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"ownerReferences", Json::array({ref})}}}};
}

class CoreControllersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mgr_ = std::make_unique<Manager>(env_.client.get());
    CoreControllerOptions o;
    o.gc.registry_poll = std::chrono::milliseconds(50);
    Status s = StartCoreControllers(*mgr_, env_.client.get(), &env_.registry, o);
    ASSERT_TRUE(s.ok()) << s.ToString();
    mgr_->Start();
  }
  void TearDown() override { mgr_->Stop(); }

  bool Gone(const client::Resource& r, const std::string& ns, const std::string& name) {
    auto got = env_.client->Get(r, ns, name);
    return !got.ok() && got.status().code() == Code::kNotFound;
  }
  bool EventuallyGone(const client::Resource& r, const std::string& ns, const std::string& name) {
    return Eventually([&] { return Gone(r, ns, name); });
  }

  InProcessEnv env_;
  std::unique_ptr<Manager> mgr_;
};

TEST_F(CoreControllersTest, BackgroundDeletionRemovesDependents) {
  auto owner = env_.client->Create(kConfigMaps, "default", ConfigMap("owner"));
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("dep1", *owner)).ok());
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("dep2", *owner)).ok());
  ASSERT_TRUE(
      env_.client
          ->Create(
              kSecrets, "default",
              Json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "bystander"}}}})
          .ok());

  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "owner").ok());
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "dep1"));
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "dep2"));
  EXPECT_TRUE(env_.client->Get(kSecrets, "default", "bystander").ok());
}

TEST_F(CoreControllersTest, DependentsOfAnOwnerThatNeverExistedAreCollected) {
  Json fake_owner = ConfigMap("ghost");
  fake_owner["metadata"]["uid"] = "00000000-0000-0000-0000-000000000000";
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("orphaned", fake_owner)).ok());
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "orphaned"));
}

TEST_F(CoreControllersTest, AnOwnerRecreatedWithANewUidDoesNotKeepOldDependents) {
  auto first = env_.client->Create(kConfigMaps, "default", ConfigMap("phoenix"));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("old-dep", *first)).ok());
  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "phoenix").ok());
  ASSERT_TRUE(env_.client->Create(kConfigMaps, "default", ConfigMap("phoenix")).ok());
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "old-dep"));
  EXPECT_TRUE(env_.client->Get(kConfigMaps, "default", "phoenix").ok());
}

TEST_F(CoreControllersTest, ForegroundDeletionWaitsForBlockingDependents) {
  auto owner = env_.client->Create(kConfigMaps, "default", ConfigMap("fg"));
  ASSERT_TRUE(owner.ok());
  // The dependent holds a finalizer so we can watch the owner wait for it.
  Json dep = OwnedSecret("fg-dep", *owner, /*block=*/true);
  dep["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", dep).ok());

  client::DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "fg", fg).ok());

  // The GC deletes the dependent (it is marked, held by its finalizer)...
  EXPECT_TRUE(Eventually([&] {
    auto d = env_.client->Get(kSecrets, "default", "fg-dep");
    return d.ok() && IsDeleting(*d);
  }));
  // ...and the owner stays while the blocking dependent exists.
  auto waiting = env_.client->Get(kConfigMaps, "default", "fg");
  ASSERT_TRUE(waiting.ok());
  EXPECT_TRUE(HasFinalizer(*waiting, "foregroundDeletion"));

  ASSERT_TRUE(env_.client
                  ->Patch(kSecrets, "default", "fg-dep", client::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})")
                  .ok());
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "fg-dep"));
  EXPECT_TRUE(EventuallyGone(kConfigMaps, "default", "fg"));
}

TEST_F(CoreControllersTest, ForegroundDeletionWithoutDependentsFinishes) {
  ASSERT_TRUE(env_.client->Create(kConfigMaps, "default", ConfigMap("alone")).ok());
  client::DeleteOptions fg;
  fg.propagation_policy = "Foreground";
  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "alone", fg).ok());
  EXPECT_TRUE(EventuallyGone(kConfigMaps, "default", "alone"));
}

TEST_F(CoreControllersTest, OrphanDeletionKeepsDependentsAndDropsTheirReferences) {
  auto owner = env_.client->Create(kConfigMaps, "default", ConfigMap("parent"));
  ASSERT_TRUE(owner.ok());
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("kept", *owner, true)).ok());
  client::DeleteOptions orphan;
  orphan.propagation_policy = "Orphan";
  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "parent", orphan).ok());
  EXPECT_TRUE(EventuallyGone(kConfigMaps, "default", "parent"));
  auto kept = env_.client->Get(kSecrets, "default", "kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(OwnerRefs(*kept).empty());
}

TEST_F(CoreControllersTest, ClusterScopedDependentOfANamespacedKindIsNotCollected) {
  // A Namespace "owned" by a ConfigMap is invalid (upstream ignores it); a dangling Secret is the
  // control that shows the collector has run meanwhile.
  Json fake_owner = ConfigMap("nobody");
  fake_owner["metadata"]["uid"] = "11111111-1111-1111-1111-111111111111";
  Json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata",
              {{"name", "invalid-owner"},
               {"ownerReferences",
                {{{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"name", "nobody"},
                  {"uid", UidOf(fake_owner)}}}}}}};
  ASSERT_TRUE(env_.client->Create(kNamespaces, "", ns).ok());
  ASSERT_TRUE(env_.client->Create(kSecrets, "default", OwnedSecret("control", fake_owner)).ok());
  EXPECT_TRUE(EventuallyGone(kSecrets, "default", "control"));
  EXPECT_TRUE(env_.client->Get(kNamespaces, "", "invalid-owner").ok());
}

TEST_F(CoreControllersTest, DeletingANamespaceRemovesItsContentThenItself) {
  env_.CreateNamespace("doomed");
  for (const char* n : {"a", "b", "c"}) {
    ASSERT_TRUE(env_.client->Create(kConfigMaps, "doomed", ConfigMap(n)).ok());
  }
  ASSERT_TRUE(env_.client->Create(kConfigMaps, "default", ConfigMap("survivor")).ok());
  auto marked = env_.client->Delete(kNamespaces, "", "doomed");
  ASSERT_TRUE(marked.ok());
  EXPECT_EQ((*marked)["status"]["phase"], "Terminating");

  EXPECT_TRUE(EventuallyGone(kNamespaces, "", "doomed"));
  auto left = env_.client->List(kConfigMaps, "doomed", {});
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE((*left)["items"].empty());
  EXPECT_TRUE(env_.client->Get(kConfigMaps, "default", "survivor").ok());
}

TEST_F(CoreControllersTest, ANamespaceWaitsForFinalizersAndSaysSo) {
  env_.CreateNamespace("held");
  Json cm = ConfigMap("sticky");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(env_.client->Create(kConfigMaps, "held", cm).ok());
  ASSERT_TRUE(env_.client->Delete(kNamespaces, "", "held").ok());

  auto condition = [&](const Json& ns, const std::string& type) -> Json {
    const Json* conds = FindPath(ns, "status.conditions");
    if (conds && conds->is_array()) {
      for (const Json& c : *conds) {
        if (c.value("type", "") == type) return c;
      }
    }
    return Json::object();
  };
  Json ns;
  EXPECT_TRUE(Eventually([&] {
    auto got = env_.client->Get(kNamespaces, "", "held");
    if (!got.ok()) return false;
    ns = *got;
    return condition(ns, "NamespaceFinalizersRemaining").value("status", "") == "True";
  }));
  EXPECT_EQ(condition(ns, "NamespaceContentRemaining").value("status", ""), "True");
  EXPECT_NE(condition(ns, "NamespaceContentRemaining").value("message", "").find("configmaps"),
            std::string::npos);
  EXPECT_NE(
      condition(ns, "NamespaceFinalizersRemaining").value("message", "").find("example.com/hold"),
      std::string::npos);
  EXPECT_EQ(ns["status"]["phase"], "Terminating");

  ASSERT_TRUE(env_.client
                  ->Patch(kConfigMaps, "held", "sticky", client::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})")
                  .ok());
  EXPECT_TRUE(EventuallyGone(kNamespaces, "", "held"));
}

TEST_F(CoreControllersTest, KindsAddedLaterAreCollectedToo) {
  const Json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", "widgets.example.com"}}},
      {"spec",
       {{"group", "example.com"},
        {"scope", "Namespaced"},
        {"names",
         {{"plural", "widgets"},
          {"singular", "widget"},
          {"kind", "Widget"},
          {"listKind", "WidgetList"}}},
        {"versions",
         {{{"name", "v1"},
           {"served", true},
           {"storage", true},
           {"schema",
            {{"openAPIV3Schema",
              {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}};
  Status added = env_.registry.AddCrd(crd, false);
  ASSERT_TRUE(added.ok()) << added.ToString();
  const client::Resource widgets{"example.com", "v1", "widgets"};

  auto owner = env_.client->Create(kConfigMaps, "default", ConfigMap("widget-owner"));
  ASSERT_TRUE(owner.ok());
  Json widget = OwnedSecret("w1", *owner);
  widget["apiVersion"] = "example.com/v1";
  widget["kind"] = "Widget";
  auto created = env_.client->Create(widgets, "default", widget);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(env_.client->Delete(kConfigMaps, "default", "widget-owner").ok());
  EXPECT_TRUE(EventuallyGone(widgets, "default", "w1"));
}

// The same collector, through the HTTP client against a real API server: everything a controller
// needs (list, watch, get, patch, delete) works over the wire, as it would against a cluster.
TEST(CoreControllersHttpTest, GarbageCollectionOverHttp) {
  skiff::testing::TempDir dir;
  apiserver::ApiServerOptions o;
  o.data_dir = dir.File("home");
  o.port = 0;
  o.in_memory_store = true;
  o.insecure_http = true;
  o.threads = 2;
  auto server = apiserver::ApiServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  client::ClusterConfig config;
  config.server = (*server)->url();
  auto http = client::NewHttpClient(config);
  {
    Manager mgr(http.get());
    CoreControllerOptions co;
    co.gc.registry_poll = std::chrono::milliseconds(100);
    ASSERT_TRUE(StartCoreControllers(mgr, http.get(), (*server)->registry(), co).ok());
    mgr.Start();

    auto owner = http->Create(kConfigMaps, "default", ConfigMap("remote-owner"));
    ASSERT_TRUE(owner.ok()) << owner.status().ToString();
    ASSERT_TRUE(http->Create(kSecrets, "default", OwnedSecret("remote-dep", *owner)).ok());
    ASSERT_TRUE(http->Delete(kConfigMaps, "default", "remote-owner").ok());
    EXPECT_TRUE(Eventually([&] {
      auto got = http->Get(kSecrets, "default", "remote-dep");
      return !got.ok() && got.status().code() == Code::kNotFound;
    }));

    http->Create(
        kNamespaces, "",
        Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "remote-ns"}}}});
    ASSERT_TRUE(http->Create(kConfigMaps, "remote-ns", ConfigMap("content")).ok());
    ASSERT_TRUE(http->Delete(kNamespaces, "", "remote-ns").ok());
    EXPECT_TRUE(Eventually([&] {
      auto got = http->Get(kNamespaces, "", "remote-ns");
      return !got.ok() && got.status().code() == Code::kNotFound;
    }));
    mgr.Stop();  // must return promptly although watches are blocked reading
  }
  (*server)->Stop();
}

class FakeClock : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now; }
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

TEST(EventRecorderTest, RepeatsAggregateIntoOneEvent) {
  InProcessEnv env;
  FakeClock clock;
  EventRecorder recorder(env.client.get(), "test-controller", "host-1", &clock);
  auto cm = env.client->Create(kConfigMaps, "default", ConfigMap("subject"));
  ASSERT_TRUE(cm.ok());

  recorder.Event(*cm, "Warning", "BackOff", "retrying");
  clock.now += std::chrono::minutes(1);
  recorder.Event(*cm, "Warning", "BackOff", "retrying");
  recorder.Event(*cm, "Normal", "Synced", "all good");

  auto events = env.client->List(kEventsResource, "default", {});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ((*events)["items"].size(), 2u);
  Json backoff;
  for (const Json& e : (*events)["items"]) {
    if (e["reason"] == "BackOff") backoff = e;
  }
  ASSERT_TRUE(backoff.is_object());
  EXPECT_EQ(backoff["count"], 2);
  EXPECT_EQ(backoff["type"], "Warning");
  EXPECT_EQ(backoff["message"], "retrying");
  EXPECT_NE(backoff["firstTimestamp"], backoff["lastTimestamp"]);
  EXPECT_EQ(backoff["involvedObject"]["kind"], "ConfigMap");
  EXPECT_EQ(backoff["involvedObject"]["name"], "subject");
  EXPECT_EQ(backoff["involvedObject"]["namespace"], "default");
  EXPECT_EQ(backoff["involvedObject"]["uid"], UidOf(*cm));
  EXPECT_EQ(backoff["source"]["component"], "test-controller");
  EXPECT_EQ(backoff["reportingComponent"], "test-controller");
  EXPECT_EQ(NameOf(backoff).rfind("subject.", 0), 0u);

  // Past the aggregation window, a repeat starts a new Event.
  clock.now += std::chrono::minutes(11);
  recorder.Event(*cm, "Warning", "BackOff", "retrying");
  events = env.client->List(kEventsResource, "default", {});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)["items"].size(), 3u);
}

TEST(EventRecorderTest, ADeletedEventIsRecreated) {
  InProcessEnv env;
  FakeClock clock;
  EventRecorder recorder(env.client.get(), "test-controller", "", &clock);
  auto cm = env.client->Create(kConfigMaps, "default", ConfigMap("s"));
  ASSERT_TRUE(cm.ok());
  recorder.Event(*cm, "Normal", "Created", "made it");
  auto events = env.client->List(kEventsResource, "default", {});
  ASSERT_EQ((*events)["items"].size(), 1u);
  ASSERT_TRUE(env.client->Delete(kEventsResource, "default", NameOf((*events)["items"][0])).ok());
  clock.now += std::chrono::seconds(1);
  recorder.Event(*cm, "Normal", "Created", "made it");
  events = env.client->List(kEventsResource, "default", {});
  ASSERT_EQ((*events)["items"].size(), 1u);
  EXPECT_EQ((*events)["items"][0]["count"], 1);
}

}  // namespace
}  // namespace skiff::controllers

namespace skiff::controllers {
namespace {

Json EventAt(const std::string& name, const std::string& last) {
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name}}},
          {"involvedObject", {{"kind", "Pod"}, {"name", "p"}, {"namespace", "default"}}},
          {"reason", "Started"},
          {"message", "m"},
          {"type", "Normal"},
          {"lastTimestamp", last}};
}

TEST(EventTtlTest, DeletesOnlyEventsPastTheirTtlAcrossPages) {
  skiff::testing::InProcessEnv env;
  const auto now = std::chrono::system_clock::now();
  const std::string old_time = FormatRfc3339(now - std::chrono::hours(2));
  const std::string fresh_time = FormatRfc3339(now - std::chrono::minutes(5));
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(
        env.client->Create(kEventsResource, "default", EventAt("old" + std::to_string(i), old_time))
            .ok());
  }
  ASSERT_TRUE(env.client->Create(kEventsResource, "default", EventAt("fresh", fresh_time)).ok());
  EventTtlOptions o;
  o.page_size = 3;  // several pages
  EventTtlCollector collector(env.client.get(), o);
  EXPECT_EQ(collector.SweepOnce(), 7);
  auto left = env.client->List(kEventsResource, "default", {});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ((*left)["items"].size(), 1u);
  EXPECT_EQ((*left)["items"][0]["metadata"]["name"], "fresh");
  EXPECT_EQ(collector.SweepOnce(), 0);
}

}  // namespace
}  // namespace skiff::controllers

// ObjectApi semantics over the in-memory store with the built-in kinds: what kubectl users see.
#include "apiserver/object_api.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "api/resource.h"
#include "store/store.h"

namespace skiff::apiserver {
namespace {

class ObjectApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.LoadBuiltins().ok());
    store_ = store::NewMemoryStore();
    api_ = std::make_unique<ObjectApi>(&registry_, store_.get(), Clock::Real());
    ns_ = registry_.Find("", "v1", "namespaces");
    cm_ = registry_.Find("", "v1", "configmaps");
    pod_ = registry_.Find("", "v1", "pods");
    tfjob_ = registry_.Find("kubeflow.org", "v1", "tfjobs");
    ASSERT_TRUE(ns_ && cm_ && pod_ && tfjob_);
    for (const char* n : {"default", "other"}) {
      ASSERT_TRUE(api_->Create(ctx_, *ns_, "", {{"metadata", {{"name", n}}}}, {}).ok());
    }
  }

  Json ConfigMap(const std::string& name, Json labels = Json::object()) {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"labels", labels}}},
            {"data", {{"k", "v"}}}};
  }

  Json TfJob(const std::string& name, Json replicas = 2) {
    Json container = {{"name", "tensorflow"}, {"image", "tensorflow/tensorflow:2.8.0"}};
    return {{"apiVersion", "kubeflow.org/v1"},
            {"kind", "TFJob"},
            {"metadata", {{"name", name}}},
            {"spec",
             {{"tfReplicaSpecs",
               {{"Worker",
                 {{"replicas", replicas},
                  {"template", {{"spec", {{"containers", Json::array({container})}}}}}}}}}}}};
  }

  api::ResourceRegistry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectApi> api_;
  RequestContext ctx_{{"admin", {"system:masters"}}, "kubectl/v1.32.0 (linux/amd64)"};
  api::ResourcePtr ns_, cm_, pod_, tfjob_;
};

TEST_F(ObjectApiTest, CreateFillsServerMetadata) {
  auto created = api_->Create(ctx_, *cm_, "default", ConfigMap("a"), {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const Json& meta = (*created)["metadata"];
  EXPECT_EQ(meta["namespace"], "default");
  EXPECT_EQ(meta["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(meta["generation"], 1);
  EXPECT_FALSE(meta["creationTimestamp"].get<std::string>().empty());
  EXPECT_FALSE(meta["resourceVersion"].get<std::string>().empty());
  ASSERT_TRUE(meta.contains("managedFields"));
  EXPECT_EQ(meta["managedFields"][0]["manager"], "kubectl");

  auto got = api_->Get(ctx_, *cm_, "default", "a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)["metadata"]["resourceVersion"], meta["resourceVersion"]);
}

TEST_F(ObjectApiTest, GenerateNameAddsSuffix) {
  Json obj = ConfigMap("");
  obj["metadata"].erase("name");
  obj["metadata"]["generateName"] = "job-";
  auto created = api_->Create(ctx_, *cm_, "default", obj, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string name = (*created)["metadata"]["name"];
  EXPECT_EQ(name.rfind("job-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
}

TEST_F(ObjectApiTest, ErrorsUseKubernetesWording) {
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "default", ConfigMap("a"), {}).ok());
  auto dup = api_->Create(ctx_, *cm_, "default", ConfigMap("a"), {});
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().HttpCode(), 409);
  EXPECT_EQ(dup.status().Reason(), "AlreadyExists");
  EXPECT_EQ(dup.status().message(), "configmaps \"a\" already exists");

  auto missing = api_->Get(ctx_, *tfjob_, "default", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().HttpCode(), 404);
  EXPECT_EQ(missing.status().message(), "tfjobs.kubeflow.org \"nope\" not found");

  auto no_ns = api_->Create(ctx_, *cm_, "ghost", ConfigMap("b"), {});
  ASSERT_FALSE(no_ns.ok());
  EXPECT_EQ(no_ns.status().message(), "namespaces \"ghost\" not found");
}

TEST_F(ObjectApiTest, RejectsBadNamesNamespacesAndKinds) {
  auto bad_name = api_->Create(ctx_, *cm_, "default", ConfigMap("Bad_Name"), {});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().HttpCode(), 422);
  ASSERT_FALSE(bad_name.status().causes().empty());
  EXPECT_EQ(bad_name.status().causes()[0].field, "metadata.name");

  Json other_ns = ConfigMap("c");
  other_ns["metadata"]["namespace"] = "other";
  auto mismatch = api_->Create(ctx_, *cm_, "default", other_ns, {});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().HttpCode(), 400);

  Json wrong_kind = ConfigMap("d");
  wrong_kind["kind"] = "Secret";
  auto kind = api_->Create(ctx_, *cm_, "default", wrong_kind, {});
  ASSERT_FALSE(kind.ok());
  EXPECT_EQ(kind.status().HttpCode(), 400);
  EXPECT_FALSE(api_->Get(ctx_, *cm_, "default", "d").ok());
}

TEST_F(ObjectApiTest, SchemaViolationNamesTheField) {
  auto bad = api_->Create(ctx_, *tfjob_, "default", TfJob("t", "three"), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().HttpCode(), 422);
  EXPECT_NE(bad.status().message().find("spec.tfReplicaSpecs.Worker.replicas"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(api_->Get(ctx_, *tfjob_, "default", "t").ok());
}

TEST_F(ObjectApiTest, StrictFieldValidationRejectsUnknownFields) {
  Json job = TfJob("t");
  job["spec"]["bogus"] = 1;
  api::WriteOptions strict;
  strict.field_validation = "Strict";
  auto rejected = api_->Create(ctx_, *tfjob_, "default", job, strict);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("spec.bogus"), std::string::npos);

  std::vector<std::string> warnings;
  auto pruned = api_->Create(ctx_, *tfjob_, "default", job, {}, &warnings);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_FALSE((*pruned)["spec"].contains("bogus"));
  ASSERT_EQ(warnings.size(), 1u);
}

TEST_F(ObjectApiTest, OptimisticConcurrency) {
  auto created = api_->Create(ctx_, *tfjob_, "default", TfJob("t"), {});
  ASSERT_TRUE(created.ok());
  Json stale = *created;
  Json next = *created;
  next["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 3;
  auto updated = api_->Update(ctx_, *tfjob_, "default", "t", next, {}, false);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  EXPECT_EQ((*updated)["metadata"]["generation"], 2);

  stale["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 5;
  auto conflict = api_->Update(ctx_, *tfjob_, "default", "t", stale, {}, false);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().HttpCode(), 409);
  EXPECT_NE(conflict.status().message().find("the object has been modified"), std::string::npos);

  Json no_rv = *updated;
  no_rv["metadata"].erase("resourceVersion");
  auto unconditional = api_->Update(ctx_, *tfjob_, "default", "t", no_rv, {}, false);
  ASSERT_FALSE(unconditional.ok());
  EXPECT_EQ(unconditional.status().HttpCode(), 422);
}

TEST_F(ObjectApiTest, NoOpUpdateWritesNothing) {
  auto created = api_->Create(ctx_, *cm_, "default", ConfigMap("a"), {});
  ASSERT_TRUE(created.ok());
  int64_t before = store_->CurrentRevision();
  auto same = api_->Update(ctx_, *cm_, "default", "a", *created, {}, false);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(store_->CurrentRevision(), before);
  EXPECT_EQ((*same)["metadata"]["resourceVersion"], (*created)["metadata"]["resourceVersion"]);
}

TEST_F(ObjectApiTest, StatusSubresourceSeparatesSpecAndStatus) {
  auto created = api_->Create(ctx_, *tfjob_, "default", TfJob("t"), {});
  ASSERT_TRUE(created.ok());
  Json with_status = *created;
  with_status["status"] = {
      {"conditions", Json::array({{{"type", "Created"}, {"status", "True"}}})}};
  with_status["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] = 7;
  auto st = api_->Update(ctx_, *tfjob_, "default", "t", with_status, {}, true);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ((*st)["status"]["conditions"][0]["type"], "Created");
  EXPECT_EQ((*st)["spec"]["tfReplicaSpecs"]["Worker"]["replicas"], 2) << "spec ignored on /status";
  EXPECT_EQ((*st)["metadata"]["generation"], 1);

  Json main = *st;
  main["status"] = {{"conditions", Json::array()}};
  auto upd = api_->Update(ctx_, *tfjob_, "default", "t", main, {}, false);
  ASSERT_TRUE(upd.ok());
  EXPECT_EQ((*upd)["status"]["conditions"].size(), 1u) << "status ignored on the main resource";
}

TEST_F(ObjectApiTest, PatchKinds) {
  ASSERT_TRUE(api_->Create(ctx_, *tfjob_, "default", TfJob("t"), {}).ok());
  auto merged = api_->Patch(ctx_, *tfjob_, "default", "t", api::PatchType::kMerge,
                            R"({"metadata":{"labels":{"team":"ml"}}})", {}, false);
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ((*merged)["metadata"]["labels"]["team"], "ml");

  auto json_patch = api_->Patch(
      ctx_, *tfjob_, "default", "t", api::PatchType::kJson,
      R"([{"op":"replace","path":"/spec/tfReplicaSpecs/Worker/replicas","value":4}])", {}, false);
  ASSERT_TRUE(json_patch.ok()) << json_patch.status().ToString();
  EXPECT_EQ((*json_patch)["spec"]["tfReplicaSpecs"]["Worker"]["replicas"], 4);

  auto smp = api_->Patch(ctx_, *tfjob_, "default", "t", api::PatchType::kStrategicMerge,
                         R"({"spec":{}})", {}, false);
  ASSERT_FALSE(smp.ok());
  EXPECT_EQ(smp.status().HttpCode(), 415);

  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}}},
              {"spec",
               {{"containers", Json::array({{{"name", "a"}, {"image", "busybox"}},
                                            {{"name", "b"}, {"image", "busybox"}}})}}}};
  ASSERT_TRUE(api_->Create(ctx_, *pod_, "default", pod, {}).ok());
  auto pod_smp =
      api_->Patch(ctx_, *pod_, "default", "p", api::PatchType::kStrategicMerge,
                  R"({"spec":{"containers":[{"name":"b","image":"alpine"}]}})", {}, false);
  ASSERT_TRUE(pod_smp.ok()) << pod_smp.status().ToString();
  ASSERT_EQ((*pod_smp)["spec"]["containers"].size(), 2u);
  EXPECT_EQ((*pod_smp)["spec"]["containers"][1]["image"], "alpine");
}

TEST_F(ObjectApiTest, ServerSideApplyCreatesAndDetectsConflicts) {
  api::WriteOptions a;
  a.field_manager = "alice";
  auto applied = api_->Patch(
      ctx_, *cm_, "default", "cfg", api::PatchType::kApply,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: one\n", a, false);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ((*applied)["data"]["k"], "one");
  EXPECT_EQ((*applied)["metadata"]["managedFields"][0]["operation"], "Apply");

  api::WriteOptions b;
  b.field_manager = "bob";
  auto conflict = api_->Patch(
      ctx_, *cm_, "default", "cfg", api::PatchType::kApply,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: two\n", b, false);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().HttpCode(), 409);
  EXPECT_EQ(conflict.status().Reason(), "FieldManagerConflict");

  b.force = true;
  auto forced = api_->Patch(
      ctx_, *cm_, "default", "cfg", api::PatchType::kApply,
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  k: two\n", b, false);
  ASSERT_TRUE(forced.ok()) << forced.status().ToString();
  EXPECT_EQ((*forced)["data"]["k"], "two");
}

TEST_F(ObjectApiTest, FinalizersDelayDeletion) {
  Json obj = ConfigMap("f");
  obj["metadata"]["finalizers"] = {"example.com/keep"};
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "default", obj, {}).ok());
  auto marked = api_->Delete(ctx_, *cm_, "default", "f", {});
  ASSERT_TRUE(marked.ok());
  EXPECT_TRUE((*marked)["metadata"].contains("deletionTimestamp"));
  EXPECT_TRUE(api_->Get(ctx_, *cm_, "default", "f").ok());

  auto gone = api_->Patch(ctx_, *cm_, "default", "f", api::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})", {}, false);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(api_->Get(ctx_, *cm_, "default", "f").status().HttpCode(), 404);
}

TEST_F(ObjectApiTest, ListSelectorsAndPaging) {
  for (int i = 0; i < 7; ++i) {
    Json labels = {{"app", i % 2 == 0 ? "even" : "odd"}};
    ASSERT_TRUE(
        api_->Create(ctx_, *cm_, "default", ConfigMap("cm" + std::to_string(i), labels), {}).ok());
  }
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "other", ConfigMap("elsewhere"), {}).ok());

  api::ListOptions even;
  even.label_selector = "app=even";
  auto listed = api_->List(ctx_, *cm_, "default", even);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 4u);

  api::ListOptions by_name;
  by_name.field_selector = "metadata.name=cm3";
  EXPECT_EQ(api_->List(ctx_, *cm_, "", by_name)->items.size(), 1u);

  EXPECT_EQ(api_->List(ctx_, *cm_, "", {})->items.size(), 8u);

  api::ListOptions page;
  page.limit = 3;
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    auto p = api_->List(ctx_, *cm_, "default", page);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ++pages;
    for (auto& item : p->items) seen.push_back(ParseJson(item)->at("metadata").at("name"));
    if (p->continue_token.empty()) break;
    page.continue_token = p->continue_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 7u);

  api::ListOptions bad;
  bad.label_selector = "app in (a";
  EXPECT_EQ(api_->List(ctx_, *cm_, "default", bad).status().HttpCode(), 400);
}

TEST_F(ObjectApiTest, WatchDeliversCurrentAndLaterChanges) {
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "default", ConfigMap("before"), {}).ok());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, std::string>> events;
  api::WatchOptions wo;  // resourceVersion "": current objects first
  auto w = api_->Watch(ctx_, *cm_, "default", wo, [&](std::vector<WatchEventData>&& batch) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& e : batch) {
      events.emplace_back(e.type, ParseJson(e.object)->at("metadata").at("name"));
    }
    cv.notify_all();
    return true;
  });
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "default", ConfigMap("after"), {}).ok());
  ASSERT_TRUE(api_->Delete(ctx_, *cm_, "default", "before", {}).ok());
  ASSERT_TRUE(api_->Create(ctx_, *cm_, "other", ConfigMap("elsewhere"), {}).ok());
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return events.size() >= 3; }));
  EXPECT_EQ(events[0], std::make_pair(std::string("ADDED"), std::string("before")));
  EXPECT_EQ(events[1], std::make_pair(std::string("ADDED"), std::string("after")));
  EXPECT_EQ(events[2], std::make_pair(std::string("DELETED"), std::string("before")));
  lock.unlock();
  (*w)->Cancel();
  EXPECT_EQ(events.size(), 3u) << "the other namespace's object is not in this watch";
}

}  // namespace
}  // namespace skiff::apiserver

namespace skiff::apiserver {
namespace {

Json RunningPod(const std::string& name, const std::string& node, const std::string& phase) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})},
                {"terminationGracePeriodSeconds", 5}}}};
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  if (!phase.empty()) pod["status"] = {{"phase", phase}};
  return pod;
}

TEST_F(ObjectApiTest, DeletingARunningPodWaitsForTheNodeAgent) {
  ASSERT_TRUE(api_->Create(ctx_, *pod_, "default", RunningPod("p", "node1", ""), {}).ok());
  auto marked = api_->Delete(ctx_, *pod_, "default", "p", {});
  ASSERT_TRUE(marked.ok()) << marked.status().ToString();
  // Still there, marked with the Pod's own grace period.
  auto got = api_->Get(ctx_, *pod_, "default", "p");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE((*got)["metadata"].contains("deletionTimestamp"));
  EXPECT_EQ((*got)["metadata"]["deletionGracePeriodSeconds"], 5);

  // A second delete with a longer grace changes nothing; a shorter one shortens it.
  api::DeleteOptions longer;
  longer.grace_period_seconds = 60;
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "p", longer).ok());
  EXPECT_EQ((*api_->Get(ctx_, *pod_, "default", "p"))["metadata"]["deletionGracePeriodSeconds"], 5);
  api::DeleteOptions shorter;
  shorter.grace_period_seconds = 2;
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "p", shorter).ok());
  EXPECT_EQ((*api_->Get(ctx_, *pod_, "default", "p"))["metadata"]["deletionGracePeriodSeconds"], 2);

  // The agent's final delete (grace 0) removes it.
  api::DeleteOptions now;
  now.grace_period_seconds = 0;
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "p", now).ok());
  EXPECT_EQ(api_->Get(ctx_, *pod_, "default", "p").status().code(), Code::kNotFound);
}

TEST_F(ObjectApiTest, PodsNoNodeRunsAreDeletedAtOnce) {
  // Unbound: nothing to stop.
  ASSERT_TRUE(api_->Create(ctx_, *pod_, "default", RunningPod("unbound", "", ""), {}).ok());
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "unbound", {}).ok());
  EXPECT_EQ(api_->Get(ctx_, *pod_, "default", "unbound").status().code(), Code::kNotFound);
  // Finished: its processes are gone.
  auto created = api_->Create(ctx_, *pod_, "default", RunningPod("done", "node1", ""), {});
  ASSERT_TRUE(created.ok());
  Json status = *created;
  status["status"] = {{"phase", "Succeeded"}};
  ASSERT_TRUE(api_->Update(ctx_, *pod_, "default", "done", status, {}, true).ok());
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "done", {}).ok());
  EXPECT_EQ(api_->Get(ctx_, *pod_, "default", "done").status().code(), Code::kNotFound);
  // A marked Pod that finished meanwhile goes with the next delete, whatever its grace.
  ASSERT_TRUE(api_->Create(ctx_, *pod_, "default", RunningPod("late", "node1", ""), {}).ok());
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "late", {}).ok());
  Json late = *api_->Get(ctx_, *pod_, "default", "late");
  late["status"] = {{"phase", "Failed"}};
  ASSERT_TRUE(api_->Update(ctx_, *pod_, "default", "late", late, {}, true).ok());
  ASSERT_TRUE(api_->Delete(ctx_, *pod_, "default", "late", {}).ok());
  EXPECT_EQ(api_->Get(ctx_, *pod_, "default", "late").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace skiff::apiserver

namespace skiff::apiserver {
namespace {

TEST_F(ObjectApiTest, SettingNodeNameBindsAndRecordsPodScheduled) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "b"}}},
              {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
  auto created = api_->Create(ctx_, *pod_, "default", pod, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  // An earlier scheduling attempt said it could not place the Pod.
  Json unschedulable = *created;
  unschedulable["status"]["conditions"] =
      Json::array({{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"}}});
  ASSERT_TRUE(api_->Update(ctx_, *pod_, "default", "b", unschedulable, {}, true).ok());

  Json bind = *api_->Get(ctx_, *pod_, "default", "b");
  bind["spec"]["nodeName"] = "node1";
  auto bound = api_->Update(ctx_, *pod_, "default", "b", bind, {}, false);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  const Json& conditions = (*bound)["status"]["conditions"];
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0]["type"], "PodScheduled");
  EXPECT_EQ(conditions[0]["status"], "True");
  EXPECT_FALSE(conditions[0].contains("reason"));
  // Other updates of a bound Pod leave its status alone.
  Json relabel = *bound;
  relabel["metadata"]["labels"] = {{"a", "b"}};
  auto again = api_->Update(ctx_, *pod_, "default", "b", relabel, {}, false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["status"]["conditions"], conditions);
}

}  // namespace
}  // namespace skiff::apiserver

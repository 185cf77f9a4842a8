// Server-side apply and update tracking on a PipelineRun-shaped schema: the managedFields kubectl
// shows, the conflicts `kubectl apply --server-side` reports, and how ownership moves.
#include "apiserver/managed_fields.h"

#include <gtest/gtest.h>

#include <string>

#include "apiserver/patch.h"

namespace skiff::apiserver {
namespace {

constexpr char kVersion[] = "kubeflow.org/v1";
constexpr char kT1[] = "2025-01-01T00:00:01Z";
constexpr char kT2[] = "2025-01-01T00:00:02Z";
constexpr char kT3[] = "2025-01-01T00:00:03Z";

Json J(const char* text) { return Json::parse(text); }

const Json& Schema() {
  static const Json schema = J(R"({
    "type": "object",
    "properties": {
      "apiVersion": {"type": "string"},
      "kind": {"type": "string"},
      "metadata": {"type": "object"},
      "spec": {
        "type": "object",
        "properties": {
          "pipelineRef": {"type": "string"},
          "timeout": {"type": "string"},
          "params": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
              "name": {"type": "string"}, "value": {"type": "string"}}}
          },
          "tags": {"type": "array", "x-kubernetes-list-type": "set",
                   "items": {"type": "string"}},
          "args": {"type": "array", "items": {"type": "string"}},
          "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                       "additionalProperties": {"type": "string"}},
          "env": {"type": "object", "additionalProperties": {"type": "string"}},
          "ports": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            "items": {"type": "object", "properties": {
              "containerPort": {"type": "integer"},
              "protocol": {"type": "string", "default": "TCP"}}}
          }
        }
      },
      "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    }
  })");
  return schema;
}

// The configuration of the reference log's `kubectl apply --server-side -f x.yaml`.
Json Config(const char* pipeline_ref = "hello") {
  Json config = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
    "metadata":{"labels":{"app":"demo"},"name":"run1","namespace":"default"},
    "spec":{"params":[{"name":"a","value":"1"}],"pipelineRef":"hello"}})");
  config["spec"]["pipelineRef"] = pipeline_ref;
  return config;
}

// What the store would hold after a create: server metadata added by the caller.
Json Stored(Json object) {
  object["metadata"]["uid"] = "uid-1";
  object["metadata"]["resourceVersion"] = "7";
  object["metadata"]["creationTimestamp"] = kT1;
  return object;
}

Json Apply(const Json* live, const Json& config, const std::string& manager, const char* now,
           bool force = false) {
  StatusOr<Json> result = ServerSideApply(live, config, manager, force, Schema(), kVersion, now);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : Json();
}

// The managedFields entry of `manager` with `operation`, or null.
Json EntryOf(const Json& object, const std::string& manager, const std::string& operation) {
  for (const Json& e : object["metadata"].value("managedFields", Json::array())) {
    if (e["manager"] == manager && e["operation"] == operation) return e;
  }
  return Json();
}

// An object created by `kubectl apply` (client-side): POST by kubectl-client-side-apply.
Json CreatedClientSide(const char* pipeline_ref = "hello") {
  Json object = Stored(Config(pipeline_ref));
  TrackUpdate(nullptr, &object, "kubectl-client-side-apply", "Update", Schema(), kVersion, kT1);
  return object;
}

TEST(ServerSideApplyTest, CreateRecordsManagedFields) {
  Json config = Config();
  config["metadata"]["uid"] = "client-made-up";  // server-set metadata in a config is ignored
  config["metadata"]["resourceVersion"] = "99";
  config["metadata"]["managedFields"] = J(R"([{"manager":"forged","operation":"Apply"}])");
  config["status"] = J(R"({"phase":"Succeeded"})");
  Json created = Apply(nullptr, config, "kubectl", kT1);

  EXPECT_EQ(created["metadata"]["managedFields"], J(R"([{
      "manager": "kubectl", "operation": "Apply", "apiVersion": "kubeflow.org/v1",
      "time": "2025-01-01T00:00:01Z", "fieldsType": "FieldsV1",
      "fieldsV1": {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
          "f:params": {"k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:value": {}}},
          "f:pipelineRef": {}
        }
      }}])"));
  Json without_managed = created;
  without_managed["metadata"].erase("managedFields");
  EXPECT_EQ(without_managed, Config());
}

TEST(ServerSideApplyTest, ReapplyWithoutAFieldRemovesIt) {
  Json config = Config();
  config["spec"]["timeout"] = "1h";
  config["metadata"]["labels"]["extra"] = "1";
  Json live = Stored(Apply(nullptr, config, "kubectl", kT1));
  ASSERT_EQ(live["spec"]["timeout"], "1h");

  Json updated = Apply(&live, Config(), "kubectl", kT2);
  EXPECT_FALSE(updated["spec"].contains("timeout"));
  EXPECT_EQ(updated["metadata"]["labels"], J(R"({"app":"demo"})"));
  EXPECT_EQ(updated["metadata"]["uid"], "uid-1");  // server metadata survives
  Json entry = EntryOf(updated, "kubectl", "Apply");
  EXPECT_EQ(entry["time"], kT2);
  EXPECT_FALSE(entry["fieldsV1"]["f:spec"].contains("f:timeout"));
  EXPECT_FALSE(entry["fieldsV1"]["f:metadata"]["f:labels"].contains("f:extra"));
}

TEST(ServerSideApplyTest, DroppedFieldStaysWhileAnotherManagerOwnsIt) {
  Json config = Config();
  config["spec"]["timeout"] = "1h";
  Json live = Stored(Apply(nullptr, config, "kubectl", kT1));
  // Another applier states the same value: shared ownership.
  Json other = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
                     "metadata":{"name":"run1"},"spec":{"timeout":"1h"}})");
  live = Apply(&live, other, "ops", kT2);

  Json updated = Apply(&live, Config(), "kubectl", kT3);
  EXPECT_EQ(updated["spec"]["timeout"], "1h");
  EXPECT_EQ(EntryOf(updated, "ops", "Apply")["fieldsV1"], J(R"({"f:spec":{"f:timeout":{}}})"));
}

TEST(ServerSideApplyTest, ConflictWithClientSideApplyIs409WithCause) {
  Json live = CreatedClientSide();
  StatusOr<Json> result =
      ServerSideApply(&live, Config("hello2"), "kubectl", false, Schema(), kVersion, kT2);
  ASSERT_FALSE(result.ok());
  const Status& status = result.status();
  EXPECT_EQ(status.code(), Code::kConflict);
  EXPECT_EQ(status.HttpCode(), 409);
  EXPECT_EQ(status.Reason(), "FieldManagerConflict");
  EXPECT_EQ(status.message(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using "
            "kubeflow.org/v1: .spec.pipelineRef");
  ASSERT_EQ(status.causes().size(), 1u);
  EXPECT_EQ(status.causes()[0].type, "FieldManagerConflict");
  EXPECT_EQ(status.causes()[0].message,
            "conflict with \"kubectl-client-side-apply\" using kubeflow.org/v1");
  EXPECT_EQ(status.causes()[0].field, ".spec.pipelineRef");
}

TEST(ServerSideApplyTest, SeveralConflictsUsePluralMessage) {
  Json live = CreatedClientSide();
  Json config = Config("hello2");
  config["spec"]["params"][0]["value"] = "2";
  StatusOr<Json> result = ServerSideApply(&live, config, "kubectl", false, Schema(), kVersion, kT2);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using "
            "kubeflow.org/v1:\n- .spec.params[name=\"a\"].value\n- .spec.pipelineRef");
  ASSERT_EQ(result.status().causes().size(), 2u);
  EXPECT_EQ(result.status().causes()[0].field, ".spec.params[name=\"a\"].value");
}

TEST(ServerSideApplyTest, ConflictWithAnotherApplierNamesItWithoutVersion) {
  Json live = Stored(Apply(nullptr, Config(), "kubectl", kT1));
  StatusOr<Json> result =
      ServerSideApply(&live, Config("hello2"), "me", false, Schema(), kVersion, kT2);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.pipelineRef");
}

TEST(ServerSideApplyTest, ForceTakesOwnership) {
  // `kubectl apply --server-side --field-manager=me --force-conflicts -f x2.yaml`.
  Json live = CreatedClientSide();
  Json updated = Apply(&live, Config("hello2"), "me", kT2, /*force=*/true);
  EXPECT_EQ(updated["spec"]["pipelineRef"], "hello2");
  Json mine = EntryOf(updated, "me", "Apply");
  EXPECT_TRUE(mine["fieldsV1"]["f:spec"].contains("f:pipelineRef"));
  Json theirs = EntryOf(updated, "kubectl-client-side-apply", "Update");
  ASSERT_FALSE(theirs.is_null());
  EXPECT_FALSE(theirs["fieldsV1"]["f:spec"].contains("f:pipelineRef"));
  EXPECT_TRUE(theirs["fieldsV1"]["f:spec"].contains("f:params"));  // unchanged fields stay theirs
  EXPECT_EQ(theirs["time"], kT1);

  // Now the old owner is the one who conflicts.
  StatusOr<Json> back =
      ServerSideApply(&updated, Config("hello3"), "kubectl", false, Schema(), kVersion, kT3);
  ASSERT_FALSE(back.ok());
  EXPECT_EQ(back.status().causes()[0].message, "conflict with \"me\"");
}

TEST(ServerSideApplyTest, SameValueIsSharedNotConflicting) {
  Json live = CreatedClientSide();
  Json updated = Apply(&live, Config("hello"), "kubectl", kT2);
  EXPECT_TRUE(EntryOf(updated, "kubectl", "Apply")["fieldsV1"]["f:spec"].contains("f:pipelineRef"));
  EXPECT_TRUE(
      EntryOf(updated, "kubectl-client-side-apply", "Update")["fieldsV1"]["f:spec"].contains(
          "f:pipelineRef"));
  // Appliers come before updaters, as Kubernetes orders them.
  EXPECT_EQ(updated["metadata"]["managedFields"][0]["operation"], "Apply");
  EXPECT_EQ(updated["metadata"]["managedFields"][1]["operation"], "Update");
}

TEST(ServerSideApplyTest, AssociativeListsMergeByKey) {
  Json live = Stored(Apply(nullptr, Config(), "kubectl", kT1));
  Json config = Config();
  config["spec"]["params"].push_back(J(R"({"name":"b","value":"2"})"));
  live = Apply(&live, config, "kubectl", kT2);
  Json other = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
                     "metadata":{"name":"run1"},"spec":{"params":[{"name":"c","value":"3"}]}})");
  live = Apply(&live, other, "ops", kT2);
  EXPECT_EQ(live["spec"]["params"],
            J(R"([{"name":"a","value":"1"},{"name":"b","value":"2"},{"name":"c","value":"3"}])"));
  EXPECT_EQ(
      EntryOf(live, "ops", "Apply")["fieldsV1"],
      J(R"({"f:spec":{"f:params":{"k:{\"name\":\"c\"}":{".":{},"f:name":{},"f:value":{}}}}})"));

  // kubectl drops b: it goes; c belongs to ops and stays.
  Json updated = Apply(&live, Config(), "kubectl", kT3);
  EXPECT_EQ(updated["spec"]["params"], J(R"([{"name":"a","value":"1"},{"name":"c","value":"3"}])"));
}

TEST(ServerSideApplyTest, SetAndAtomicListEncoding) {
  Json config = Config();
  config["spec"]["tags"] = J(R"(["x","y"])");
  config["spec"]["args"] = J(R"(["--a","--b"])");
  config["spec"]["selector"] = J(R"({"k":"v"})");
  Json created = Apply(nullptr, config, "kubectl", kT1);
  const Json spec = EntryOf(created, "kubectl", "Apply")["fieldsV1"]["f:spec"];
  EXPECT_EQ(spec["f:tags"], J(R"({"v:\"x\"":{},"v:\"y\"":{}})"));
  EXPECT_EQ(spec["f:args"], J("{}"));      // atomic list: one leaf
  EXPECT_EQ(spec["f:selector"], J("{}"));  // atomic map: one leaf

  // Set items from two appliers union.
  Json other = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
                     "metadata":{"name":"run1"},"spec":{"tags":["z"]}})");
  Json merged = Apply(&created, other, "ops", kT2);
  EXPECT_EQ(merged["spec"]["tags"], J(R"(["x","y","z"])"));
}

TEST(ServerSideApplyTest, KeyFieldLeftToItsDefaultIsKeyedByTheDefault) {
  Json config = Config();
  config["spec"]["ports"] = J(R"([{"containerPort":80},{"containerPort":53,"protocol":"UDP"}])");
  Json created = Apply(nullptr, config, "kubectl", kT1);
  const Json ports = EntryOf(created, "kubectl", "Apply")["fieldsV1"]["f:spec"]["f:ports"];
  EXPECT_EQ(ports, J(R"({
      "k:{\"containerPort\":53,\"protocol\":\"UDP\"}": {".":{},"f:containerPort":{},"f:protocol":{}},
      "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".":{},"f:containerPort":{}}})"));
}

TEST(ServerSideApplyTest, ReferenceLogSequence) {
  // The three commands of the reference log's "ssa" section.
  Json live = Stored(Apply(nullptr, Config("hello"), "kubectl", kT1));
  live = Apply(&live, Config("hello2"), "kubectl", kT2);  // own field: no conflict
  EXPECT_EQ(live["spec"]["pipelineRef"], "hello2");
  EXPECT_EQ(EntryOf(live, "kubectl", "Apply")["time"], kT2);

  Json forced = Apply(&live, Config("hello2"), "me", kT3, /*force=*/true);
  // Same values: "me" shares every field with kubectl, nothing moves.
  EXPECT_EQ(EntryOf(forced, "me", "Apply")["fieldsV1"],
            EntryOf(forced, "kubectl", "Apply")["fieldsV1"]);
  EXPECT_EQ(forced["metadata"]["managedFields"].size(), 2u);
}

TEST(ServerSideApplyTest, NullInConfigRemovesTheField) {
  Json config = Config();
  config["spec"]["timeout"] = "1h";
  Json live = Stored(Apply(nullptr, config, "kubectl", kT1));
  Json next = Config();
  next["spec"]["timeout"] = nullptr;
  Json updated = Apply(&live, next, "kubectl", kT2);
  EXPECT_FALSE(updated["spec"].contains("timeout"));
}

TEST(ServerSideApplyTest, MainResourceIgnoresStatusAndStatusSubresourceIgnoresSpec) {
  Json live = Stored(Apply(nullptr, Config(), "kubectl", kT1));
  live["status"] = J(R"({"phase":"Running"})");
  Json config = Config("changed-through-status");
  config["status"] = J(R"({"phase":"Succeeded"})");
  StatusOr<Json> on_status = ServerSideApply(&live, config, "controller", false, Schema(), kVersion,
                                             kT2, /*status_subresource=*/true);
  ASSERT_TRUE(on_status.ok()) << on_status.status().ToString();
  EXPECT_EQ((*on_status)["status"]["phase"], "Succeeded");
  EXPECT_EQ((*on_status)["spec"]["pipelineRef"], "hello");
  bool found = false;
  for (const Json& e : (*on_status)["metadata"]["managedFields"]) {
    if (e["manager"] != "controller") continue;
    found = true;
    EXPECT_EQ(e["subresource"], "status");
    EXPECT_EQ(e["fieldsV1"], J(R"({"f:status":{"f:phase":{}}})"));
  }
  EXPECT_TRUE(found);

  Json main = Apply(&*on_status, config, "kubectl", kT3, /*force=*/true);
  EXPECT_EQ(main["status"]["phase"], "Succeeded");  // status untouched by a main-resource apply
  EXPECT_FALSE(EntryOf(main, "kubectl", "Apply")["fieldsV1"].contains("f:status"));
}

TEST(ServerSideApplyTest, UntrackedLiveObjectBelongsToBeforeFirstApply) {
  Json live = Stored(Config());  // created without ownership tracking
  StatusOr<Json> result =
      ServerSideApply(&live, Config("hello2"), "kubectl", false, Schema(), kVersion, kT2);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().causes()[0].message,
            "conflict with \"before-first-apply\" using kubeflow.org/v1");
}

TEST(ServerSideApplyTest, NoopApplyKeepsTime) {
  Json live = Stored(Apply(nullptr, Config(), "kubectl", kT1));
  Json again = Apply(&live, Config(), "kubectl", kT2);
  EXPECT_EQ(EntryOf(again, "kubectl", "Apply")["time"], kT1);
  EXPECT_EQ(again, live);
}

TEST(ServerSideApplyTest, ConfigMustBeAnObject) {
  StatusOr<Json> result =
      ServerSideApply(nullptr, J("[1]"), "kubectl", false, Schema(), kVersion, kT1);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kBadRequest);
}

TEST(TrackUpdateTest, CreateOwnsEverythingWithNodeMarkers) {
  Json created = Stored(Config());
  created["metadata"]["annotations"] = J(R"({"note":"x"})");
  TrackUpdate(nullptr, &created, "kubectl-client-side-apply", "Update", Schema(), kVersion, kT1);
  EXPECT_EQ(created["metadata"]["managedFields"], J(R"([{
      "manager": "kubectl-client-side-apply", "operation": "Update",
      "apiVersion": "kubeflow.org/v1", "time": "2025-01-01T00:00:01Z", "fieldsType": "FieldsV1",
      "fieldsV1": {
        "f:metadata": {"f:annotations": {".": {}, "f:note": {}},
                       "f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
          ".": {},
          "f:params": {".": {}, "k:{\"name\":\"a\"}": {".": {}, "f:name": {}, "f:value": {}}},
          "f:pipelineRef": {}
        }
      }}])"));
}

TEST(TrackUpdateTest, MergePatchGivesChangedFieldsToThePatcher) {
  Json live = Stored(Apply(nullptr, Config(), "kubectl", kT1));
  StatusOr<Json> patched = ApplyMergePatch(
      live, J(R"({"metadata":{"labels":{"x":"y"}},"spec":{"pipelineRef":"hello2"}})"));
  ASSERT_TRUE(patched.ok());
  Json updated = *patched;
  TrackUpdate(&live, &updated, "kubectl-patch", "Update", Schema(), kVersion, kT2);

  Json patcher = EntryOf(updated, "kubectl-patch", "Update");
  EXPECT_EQ(patcher["fieldsV1"],
            J(R"({"f:metadata":{"f:labels":{"f:x":{}}},"f:spec":{"f:pipelineRef":{}}})"));
  EXPECT_EQ(patcher["time"], kT2);
  Json applier = EntryOf(updated, "kubectl", "Apply");
  EXPECT_FALSE(applier["fieldsV1"]["f:spec"].contains("f:pipelineRef"));
  EXPECT_TRUE(applier["fieldsV1"]["f:spec"].contains("f:params"));
  EXPECT_EQ(applier["time"], kT1);

  // A second patch by the same manager merges into its entry.
  Json again = updated;
  again["spec"]["timeout"] = "5m";
  TrackUpdate(&updated, &again, "kubectl-patch", "Update", Schema(), kVersion, kT3);
  EXPECT_EQ(EntryOf(again, "kubectl-patch", "Update")["fieldsV1"],
            J(R"({"f:metadata":{"f:labels":{"f:x":{}}},
                  "f:spec":{"f:pipelineRef":{},"f:timeout":{}}})"));
  EXPECT_EQ(again["metadata"]["managedFields"].size(), 2u);
}

TEST(TrackUpdateTest, RemovedFieldsLeaveEveryEntryAndEmptyEntriesGo) {
  Json config = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
                      "metadata":{"name":"run1"},"spec":{"timeout":"1h"}})");
  Json live = Stored(Apply(nullptr, config, "kubectl", kT1));
  Json updated = live;
  updated["spec"].erase("timeout");
  TrackUpdate(&live, &updated, "editor", "Update", Schema(), kVersion, kT2);
  EXPECT_FALSE(updated["metadata"].contains("managedFields"));
}

TEST(TrackUpdateTest, UnchangedObjectChangesNothing) {
  Json live = CreatedClientSide();
  Json same = live;
  TrackUpdate(&live, &same, "someone", "Update", Schema(), kVersion, kT2);
  EXPECT_EQ(same, live);
}

TEST(TrackUpdateTest, ClientOmittingManagedFieldsKeepsThem) {
  Json live = CreatedClientSide();
  Json put = live;
  put["metadata"].erase("managedFields");  // a PUT body from a client that ignores them
  put["spec"]["timeout"] = "1m";
  TrackUpdate(&live, &put, "kubectl-edit", "Update", Schema(), kVersion, kT2);
  EXPECT_FALSE(EntryOf(put, "kubectl-client-side-apply", "Update").is_null());
  EXPECT_EQ(EntryOf(put, "kubectl-edit", "Update")["fieldsV1"],
            J(R"({"f:spec":{"f:timeout":{}}})"));
}

TEST(TrackUpdateTest, EmptyManagedFieldsResetsOwnership) {
  Json live = CreatedClientSide();
  Json put = live;
  put["metadata"]["managedFields"] = Json::array();
  TrackUpdate(&live, &put, "admin", "Update", Schema(), kVersion, kT2);
  EXPECT_FALSE(put["metadata"].contains("managedFields"));
}

TEST(TrackUpdateTest, StatusSubresourceTracksOnlyStatus) {
  Json live = CreatedClientSide();
  Json updated = live;
  updated["status"] = J(R"({"phase":"Running"})");
  TrackUpdate(&live, &updated, "skiff-controller", "Update", Schema(), kVersion, kT2,
              /*status_subresource=*/true);
  Json entry = EntryOf(updated, "skiff-controller", "Update");
  EXPECT_EQ(entry["subresource"], "status");
  EXPECT_EQ(entry["fieldsV1"], J(R"({"f:status":{".":{},"f:phase":{}}})"));
  // Updaters are ordered by time: the older client-side apply entry stays first.
  ASSERT_EQ(updated["metadata"]["managedFields"].size(), 2u);
  EXPECT_EQ(updated["metadata"]["managedFields"][0]["manager"], "kubectl-client-side-apply");
}

TEST(TrackUpdateTest, MapEntriesAreOwnedIndividually) {
  Json live = CreatedClientSide();
  Json updated = live;
  updated["spec"]["env"] = J(R"({"A":"1"})");
  TrackUpdate(&live, &updated, "a", "Update", Schema(), kVersion, kT2);
  Json second = updated;
  second["spec"]["env"]["B"] = "2";
  TrackUpdate(&updated, &second, "b", "Update", Schema(), kVersion, kT3);
  EXPECT_EQ(EntryOf(second, "a", "Update")["fieldsV1"],
            J(R"({"f:spec":{"f:env":{".":{},"f:A":{}}}})"));
  EXPECT_EQ(EntryOf(second, "b", "Update")["fieldsV1"], J(R"({"f:spec":{"f:env":{"f:B":{}}}})"));
}

}  // namespace
}  // namespace skiff::apiserver

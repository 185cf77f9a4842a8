// Merge patch (RFC 7386 appendix A), JSON patch (RFC 6902 appendix A plus the errors kubectl users
// see) and strategic merge patch on a Pod-shaped schema.
#include "apiserver/patch.h"

#include <gtest/gtest.h>

#include <string>

namespace skiff::apiserver {
namespace {

Json J(const char* text) { return Json::parse(text); }

// ---- RFC 7386 ----

struct MergeCase {
  const char* target;
  const char* patch;
  const char* result;
};

class MergePatchRfcTest : public testing::TestWithParam<MergeCase> {};

TEST_P(MergePatchRfcTest, MatchesAppendixA) {
  const MergeCase& c = GetParam();
  StatusOr<Json> result = ApplyMergePatch(J(c.target), J(c.patch));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, J(c.result)) << "target " << c.target << " patch " << c.patch;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc7386, MergePatchRfcTest,
    testing::Values(MergeCase{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
                    MergeCase{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
                    MergeCase{R"({"a":"b"})", R"({"a":null})", R"({})"},
                    MergeCase{R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
                    MergeCase{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
                    MergeCase{R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
                    MergeCase{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
                              R"({"a":{"b":"d"}})"},
                    MergeCase{R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
                    MergeCase{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
                    MergeCase{R"({"a":"b"})", R"(["c"])", R"(["c"])"},
                    MergeCase{R"({"a":"foo"})", "null", "null"},
                    MergeCase{R"({"a":"foo"})", R"("bar")", R"("bar")"},
                    MergeCase{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
                    MergeCase{R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
                    MergeCase{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"}));

TEST(MergePatchTest, KubectlClientSideApplyPatch) {
  // The body kubectl sends on the second `kubectl apply` (reference log, section apply-v3).
  Json live = J(R"({"apiVersion":"kubeflow.org/v1","kind":"PipelineRun",
    "metadata":{"name":"run1","labels":{"app":"demo"},"annotations":{"a":"1"}},
    "spec":{"params":[{"name":"a","value":"1"}],"pipelineRef":"hello"}})");
  StatusOr<Json> result = ApplyMergePatch(
      live, J(R"({"metadata":{"annotations":{"a":"2"}},"spec":{"pipelineRef":"hello2"}})"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)["spec"]["pipelineRef"], "hello2");
  EXPECT_EQ((*result)["spec"]["params"], live["spec"]["params"]);
  EXPECT_EQ((*result)["metadata"]["annotations"]["a"], "2");
  EXPECT_EQ((*result)["metadata"]["labels"]["app"], "demo");
}

// ---- RFC 6902 ----

struct JsonPatchCase {
  const char* name;
  const char* target;
  const char* patch;
  const char* result;  // nullptr: the patch must fail with 422
};

class JsonPatchRfcTest : public testing::TestWithParam<JsonPatchCase> {};

TEST_P(JsonPatchRfcTest, MatchesAppendixA) {
  const JsonPatchCase& c = GetParam();
  StatusOr<Json> result = ApplyJsonPatch(J(c.target), J(c.patch));
  if (c.result == nullptr) {
    ASSERT_FALSE(result.ok()) << "expected failure, got " << result->dump();
    EXPECT_EQ(result.status().code(), Code::kInvalid) << result.status().ToString();
    EXPECT_EQ(result.status().HttpCode(), 422);
    return;
  }
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, J(c.result));
}

INSTANTIATE_TEST_SUITE_P(
    Rfc6902, JsonPatchRfcTest,
    testing::Values(
        JsonPatchCase{"A1_AddObjectMember", R"({"foo":"bar"})",
                      R"([{"op":"add","path":"/baz","value":"qux"}])",
                      R"({"baz":"qux","foo":"bar"})"},
        JsonPatchCase{"A2_AddArrayElement", R"({"foo":["bar","baz"]})",
                      R"([{"op":"add","path":"/foo/1","value":"qux"}])",
                      R"({"foo":["bar","qux","baz"]})"},
        JsonPatchCase{"A3_RemoveObjectMember", R"({"baz":"qux","foo":"bar"})",
                      R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
        JsonPatchCase{"A4_RemoveArrayElement", R"({"foo":["bar","qux","baz"]})",
                      R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
        JsonPatchCase{"A5_Replace", R"({"baz":"qux","foo":"bar"})",
                      R"([{"op":"replace","path":"/baz","value":"boo"}])",
                      R"({"baz":"boo","foo":"bar"})"},
        JsonPatchCase{"A6_MoveValue",
                      R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                      R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
                      R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
        JsonPatchCase{"A7_MoveArrayElement", R"({"foo":["all","grass","cows","eat"]})",
                      R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
                      R"({"foo":["all","cows","eat","grass"]})"},
        JsonPatchCase{"A8_TestSuccess", R"({"baz":"qux","foo":["a",2,"c"]})",
                      R"([{"op":"test","path":"/baz","value":"qux"},
                          {"op":"test","path":"/foo/1","value":2}])",
                      R"({"baz":"qux","foo":["a",2,"c"]})"},
        JsonPatchCase{"A9_TestFailure", R"({"baz":"qux"})",
                      R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr},
        JsonPatchCase{"A10_AddNestedMember", R"({"foo":"bar"})",
                      R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
                      R"({"foo":"bar","child":{"grandchild":{}}})"},
        JsonPatchCase{"A11_IgnoreUnrecognizedMembers", R"({"foo":"bar"})",
                      R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])",
                      R"({"foo":"bar","baz":"qux"})"},
        JsonPatchCase{"A12_AddToNonexistentTarget", R"({"foo":"bar"})",
                      R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr},
        JsonPatchCase{"A14_EscapeOrdering", R"({"/":9,"~1":10})",
                      R"([{"op":"test","path":"/~01","value":10}])", R"({"/":9,"~1":10})"},
        JsonPatchCase{"A15_StringIsNotNumber", R"({"/":9,"~1":10})",
                      R"([{"op":"test","path":"/~01","value":"10"}])", nullptr},
        JsonPatchCase{"A16_AddArrayValueAtEnd", R"({"foo":["bar"]})",
                      R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])",
                      R"({"foo":["bar",["abc","def"]]})"},
        JsonPatchCase{
            "SlashEscape", R"({"metadata":{"labels":{}}})",
            R"([{"op":"add","path":"/metadata/labels/app.kubernetes.io~1name","value":"x"}])",
            R"({"metadata":{"labels":{"app.kubernetes.io/name":"x"}}})"},
        JsonPatchCase{"Copy", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
                      R"({"a":{"b":1},"c":{"b":1}})"},
        JsonPatchCase{"ReplaceWholeDocument", R"({"a":1})",
                      R"([{"op":"replace","path":"","value":[1]}])", "[1]"},
        JsonPatchCase{"TestWholeDocument", R"({"a":1})",
                      R"([{"op":"test","path":"","value":{"a":1}}])", R"({"a":1})"},
        JsonPatchCase{"RemoveMissingKey", R"({"a":1})", R"([{"op":"remove","path":"/b"}])",
                      nullptr},
        JsonPatchCase{"IndexPastEnd", R"({"a":[1]})", R"([{"op":"add","path":"/a/2","value":0}])",
                      nullptr},
        JsonPatchCase{"AddAtEndIndex", R"({"a":[1]})", R"([{"op":"add","path":"/a/1","value":0}])",
                      R"({"a":[1,0]})"},
        JsonPatchCase{"LeadingZeroIndex", R"({"a":[1,2]})",
                      R"([{"op":"replace","path":"/a/01","value":0}])", nullptr},
        JsonPatchCase{"DashOnlyForAdd", R"({"a":[1]})",
                      R"([{"op":"replace","path":"/a/-","value":0}])", nullptr},
        JsonPatchCase{"MoveIntoOwnChild", R"({"a":{"b":{}}})",
                      R"([{"op":"move","from":"/a","path":"/a/b/c"}])", nullptr},
        JsonPatchCase{"MoveMissingFrom", R"({"a":1})", R"([{"op":"move","from":"/x","path":"/y"}])",
                      nullptr},
        JsonPatchCase{"PointerWithoutSlash", R"({"a":1})",
                      R"([{"op":"replace","path":"a","value":0}])", nullptr},
        JsonPatchCase{"LaterFailureUndoesEarlierOps", R"({"a":1})",
                      R"([{"op":"replace","path":"/a","value":2},
                          {"op":"test","path":"/a","value":1}])",
                      nullptr}),
    [](const testing::TestParamInfo<JsonPatchCase>& info) { return info.param.name; });

TEST(JsonPatchTest, ReplaceOfMissingKeyNamesThePath) {
  StatusOr<Json> result =
      ApplyJsonPatch(J(R"({"spec":{}})"), J(R"([{"op":"replace","path":"/spec/foo","value":1}])"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kInvalid);
  EXPECT_EQ(result.status().message(),
            "jsonpatch replace operation does not apply: doc is missing key: /spec/foo");
}

TEST(JsonPatchTest, TestFailureSaysWhichPath) {
  StatusOr<Json> result =
      ApplyJsonPatch(J(R"({"a":1})"), J(R"([{"op":"test","path":"/a","value":2}])"));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("test operation"), std::string::npos);
  EXPECT_NE(result.status().message().find("/a"), std::string::npos);
}

TEST(JsonPatchTest, MalformedDocumentsAreBadRequest) {
  for (const char* patch : {
           R"({"op":"add","path":"/a","value":1})",  // not an array
           R"([{"path":"/a","value":1}])",           // no op
           R"([{"op":"add","value":1}])",            // no path
           R"([{"op":"frobnicate","path":"/a"}])",   // unknown op
           R"([{"op":"add","path":"/a"}])",          // no value
           R"([{"op":"move","path":"/a"}])",         // no from
           R"([42])",                                // operation not an object
       }) {
    StatusOr<Json> result = ApplyJsonPatch(J(R"({"a":0})"), J(patch));
    ASSERT_FALSE(result.ok()) << patch;
    EXPECT_EQ(result.status().code(), Code::kBadRequest) << patch;
    EXPECT_EQ(result.status().HttpCode(), 400) << patch;
  }
}

TEST(JsonPatchTest, NullValueIsAValue) {
  StatusOr<Json> result =
      ApplyJsonPatch(J(R"({"a":1})"), J(R"([{"op":"add","path":"/b","value":null}])"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, J(R"({"a":1,"b":null})"));
}

// ---- Strategic merge patch ----

const Json& PodSchema() {
  static const Json schema = J(R"({
    "type": "object",
    "properties": {
      "apiVersion": {"type": "string"},
      "kind": {"type": "string"},
      "metadata": {"type": "object"},
      "spec": {
        "type": "object",
        "properties": {
          "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
          "tolerations": {"type": "array", "items": {"type": "object"}},
          "containers": {
            "type": "array",
            "x-kubernetes-patch-merge-key": "name",
            "x-kubernetes-patch-strategy": "merge",
            "items": {
              "type": "object",
              "properties": {
                "name": {"type": "string"},
                "image": {"type": "string"},
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {
                  "type": "array",
                  "x-kubernetes-patch-merge-key": "name",
                  "x-kubernetes-patch-strategy": "merge",
                  "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "value": {"type": "string"}}}
                },
                "ports": {
                  "type": "array",
                  "x-kubernetes-list-type": "map",
                  "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                  "items": {"type": "object", "properties": {
                    "containerPort": {"type": "integer"},
                    "protocol": {"type": "string", "default": "TCP"},
                    "name": {"type": "string"}}}
                }
              }
            }
          },
          "volumes": {
            "type": "array",
            "x-kubernetes-patch-merge-key": "name",
            "x-kubernetes-patch-strategy": "merge,retainKeys",
            "items": {"type": "object", "properties": {
              "name": {"type": "string"},
              "emptyDir": {"type": "object"},
              "hostPath": {"type": "object", "properties": {"path": {"type": "string"}}}}}
          }
        }
      }
    }
  })");
  return schema;
}

Json Smp(const Json& target, const char* patch) {
  StatusOr<Json> result = ApplyStrategicMergePatch(target, J(patch), PodSchema());
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : Json();
}

Json Pod() {
  return J(R"({"apiVersion":"v1","kind":"Pod",
    "metadata":{"name":"p","labels":{"app":"demo","tier":"web"},"finalizers":["a","b","c"],
                "ownerReferences":[{"uid":"u1","kind":"Job","name":"j1"}]},
    "spec":{"nodeSelector":{"disk":"ssd"},
            "tolerations":[{"key":"x"},{"key":"y"}],
            "containers":[
              {"name":"main","image":"img:1","args":["--a"],
               "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
              {"name":"side","image":"side:1"}],
            "volumes":[{"name":"data","emptyDir":{}}]}})");
}

TEST(StrategicMergePatchTest, ContainersMergeByName) {
  Json result = Smp(Pod(), R"({"spec":{"containers":[
      {"name":"side","image":"side:2"},{"name":"extra","image":"extra:1"}]}})");
  const Json& containers = result["spec"]["containers"];
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers[0], Pod()["spec"]["containers"][0]);  // untouched
  EXPECT_EQ(containers[1], J(R"({"name":"side","image":"side:2"})"));
  EXPECT_EQ(containers[2], J(R"({"name":"extra","image":"extra:1"})"));
}

TEST(StrategicMergePatchTest, EnvMergesByNameInsideAContainer) {
  Json result = Smp(Pod(), R"({"spec":{"containers":[
      {"name":"main","env":[{"name":"B","value":"20"},{"name":"C","value":"3"}]}]}})");
  EXPECT_EQ(result["spec"]["containers"][0]["env"],
            J(R"([{"name":"A","value":"1"},{"name":"B","value":"20"},{"name":"C","value":"3"}])"));
  EXPECT_EQ(result["spec"]["containers"][0]["image"], "img:1");
}

TEST(StrategicMergePatchTest, ListsWithoutStrategyAreReplaced) {
  Json result = Smp(Pod(), R"({"spec":{"tolerations":[{"key":"z"}],
      "containers":[{"name":"main","args":["--b"]}]}})");
  EXPECT_EQ(result["spec"]["tolerations"], J(R"([{"key":"z"}])"));
  EXPECT_EQ(result["spec"]["containers"][0]["args"], J(R"(["--b"])"));
}

TEST(StrategicMergePatchTest, PatchDeleteRemovesListElement) {
  Json result = Smp(Pod(), R"({"spec":{"containers":[{"name":"side","$patch":"delete"}]}})");
  ASSERT_EQ(result["spec"]["containers"].size(), 1u);
  EXPECT_EQ(result["spec"]["containers"][0]["name"], "main");
}

TEST(StrategicMergePatchTest, PatchDeleteRemovesMap) {
  Json result = Smp(Pod(), R"({"spec":{"nodeSelector":{"$patch":"delete"}}})");
  EXPECT_FALSE(result["spec"].contains("nodeSelector"));
}

TEST(StrategicMergePatchTest, PatchReplaceOnMapReplacesIt) {
  Json result = Smp(Pod(), R"({"metadata":{"labels":{"$patch":"replace","only":"me"}}})");
  EXPECT_EQ(result["metadata"]["labels"], J(R"({"only":"me"})"));
}

TEST(StrategicMergePatchTest, PatchReplaceInListReplacesTheList) {
  Json result = Smp(Pod(), R"({"spec":{"containers":[
      {"$patch":"replace"},{"name":"solo","image":"solo:1"}]}})");
  EXPECT_EQ(result["spec"]["containers"], J(R"([{"name":"solo","image":"solo:1"}])"));
}

TEST(StrategicMergePatchTest, NullDeletesAndMapsMerge) {
  Json result = Smp(Pod(), R"({"metadata":{"labels":{"tier":null,"new":"1"}}})");
  EXPECT_EQ(result["metadata"]["labels"], J(R"({"app":"demo","new":"1"})"));
}

TEST(StrategicMergePatchTest, RetainKeysClearsOtherMembers) {
  // Switching a volume's source: the old source must go, not linger beside the new one.
  Json result = Smp(Pod(), R"({"spec":{"volumes":[
      {"name":"data","$retainKeys":["name","hostPath"],"hostPath":{"path":"/x"}}]}})");
  EXPECT_EQ(result["spec"]["volumes"], J(R"([{"name":"data","hostPath":{"path":"/x"}}])"));
}

TEST(StrategicMergePatchTest, FinalizersMergeAndDeleteFromPrimitiveList) {
  Json added = Smp(Pod(), R"({"metadata":{"finalizers":["d","a"]}})");
  EXPECT_EQ(added["metadata"]["finalizers"], J(R"(["a","b","c","d"])"));
  Json removed = Smp(Pod(), R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})");
  EXPECT_EQ(removed["metadata"]["finalizers"], J(R"(["a","c"])"));
}

TEST(StrategicMergePatchTest, OwnerReferencesMergeByUidWhateverTheCrdSays) {
  Json result = Smp(Pod(), R"({"metadata":{"ownerReferences":[
      {"uid":"u1","name":"j1-renamed"},{"uid":"u2","kind":"Job","name":"j2"}]}})");
  EXPECT_EQ(result["metadata"]["ownerReferences"],
            J(R"([{"uid":"u1","kind":"Job","name":"j1-renamed"},
                  {"uid":"u2","kind":"Job","name":"j2"}])"));
}

TEST(StrategicMergePatchTest, SetElementOrderReordersTheList) {
  Json pod = Pod();
  pod["spec"]["containers"].push_back(J(R"({"name":"third","image":"t:1"})"));
  Json result = Smp(pod, R"({"spec":{
      "$setElementOrder/containers":[{"name":"third"},{"name":"main"},{"name":"side"}],
      "containers":[{"name":"main","image":"img:2"}]}})");
  const Json& containers = result["spec"]["containers"];
  ASSERT_EQ(containers.size(), 3u);
  EXPECT_EQ(containers[0]["name"], "third");
  EXPECT_EQ(containers[1]["name"], "main");
  EXPECT_EQ(containers[1]["image"], "img:2");
  EXPECT_EQ(containers[2]["name"], "side");
}

TEST(StrategicMergePatchTest, SetElementOrderKeepsServerOnlyItemsInPlace) {
  // "side" was added by someone else; the client orders only what it knows.
  Json result = Smp(Pod(), R"({"spec":{
      "$setElementOrder/containers":[{"name":"new"},{"name":"main"}],
      "containers":[{"name":"new","image":"n:1"}]}})");
  std::vector<std::string> names;
  for (const Json& c : result["spec"]["containers"]) names.push_back(c["name"]);
  // "new" was not on the server, so server-only "side" is not displaced by it (Kubernetes'
  // mergeSortedSlice), and "main" keeps its place after "new" as ordered.
  EXPECT_EQ(names, (std::vector<std::string>{"side", "new", "main"}));
}

TEST(StrategicMergePatchTest, SetElementOrderOnPrimitiveList) {
  Json result = Smp(Pod(), R"({"metadata":{"$setElementOrder/finalizers":["c","a","b"]}})");
  EXPECT_EQ(result["metadata"]["finalizers"], J(R"(["c","a","b"])"));
}

TEST(StrategicMergePatchTest, MultiKeyMapListMergesByAllKeys) {
  Json pod = Pod();
  pod["spec"]["containers"][0]["ports"] =
      J(R"([{"containerPort":80,"protocol":"TCP"},{"containerPort":80,"protocol":"UDP"}])");
  Json result = Smp(pod, R"({"spec":{"containers":[{"name":"main","ports":[
      {"containerPort":80,"protocol":"UDP","name":"dns"}]}]}})");
  EXPECT_EQ(result["spec"]["containers"][0]["ports"], J(R"([{"containerPort":80,"protocol":"TCP"},
                  {"containerPort":80,"protocol":"UDP","name":"dns"}])"));
}

TEST(StrategicMergePatchTest, NewElementsLoseTheirDirectives) {
  Json result = Smp(Pod(), R"({"spec":{"containers":[
      {"name":"new","env":[{"name":"X","value":"1"},{"name":"Y","$patch":"delete"}]}]}})");
  EXPECT_EQ(result["spec"]["containers"][2],
            J(R"({"name":"new","env":[{"name":"X","value":"1"}]})"));
}

TEST(StrategicMergePatchTest, ErrorsAreBadRequest) {
  StatusOr<Json> missing_key =
      ApplyStrategicMergePatch(Pod(), J(R"({"spec":{"containers":[{"image":"x"}]}})"), PodSchema());
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.status().code(), Code::kBadRequest);
  EXPECT_NE(missing_key.status().message().find("merge key: name"), std::string::npos);

  StatusOr<Json> not_object = ApplyStrategicMergePatch(Pod(), J("[1]"), PodSchema());
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().code(), Code::kBadRequest);

  StatusOr<Json> bad_directive =
      ApplyStrategicMergePatch(Pod(), J(R"({"spec":{"$patch":"explode"}})"), PodSchema());
  ASSERT_FALSE(bad_directive.ok());
  EXPECT_EQ(bad_directive.status().code(), Code::kBadRequest);
}

TEST(StrategicMergePatchTest, KubectlLabelPatch) {
  Json result = Smp(Pod(), R"({"metadata":{"labels":{"x":"y"}}})");
  EXPECT_EQ(result["metadata"]["labels"], J(R"({"app":"demo","tier":"web","x":"y"})"));
  // Everything else is untouched.
  Json expected = Pod();
  expected["metadata"]["labels"]["x"] = "y";
  EXPECT_EQ(result, expected);
}

}  // namespace
}  // namespace skiff::apiserver

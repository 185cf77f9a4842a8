// ServingRuntime selection, case by case against KServe's rules (GetSupportingRuntimes,
// RuntimeSupportsModel, the checks of a named runtime), and the older predictor spellings.
#include "inference/runtime_match.h"

#include <gtest/gtest.h>

#include "inference/builtin_runtimes.h"

namespace skiff::inference {
namespace {

RuntimeCandidate Rt(const std::string& name, const std::string& spec_json, bool cluster = false,
                    const std::string& created = "2025-01-01T00:00:00Z") {
  return {name, cluster, Json::parse(spec_json), created};
}

ModelSpec Model(const std::string& format, std::optional<std::string> version = std::nullopt) {
  ModelSpec m;
  m.format = format;
  m.version = std::move(version);
  return m;
}

std::vector<RuntimeCandidate> Builtins() {
  return {{kTorchScriptRuntime, true, TorchScriptRuntime()["spec"], "2025-01-01T00:00:00Z"},
          {kXgboostRuntime, true, XgboostRuntime()["spec"], "2025-01-01T00:00:00Z"}};
}

TEST(RuntimeMatch, BuiltinsServePytorchAndXgboost) {
  auto c = SelectRuntime(Model("pytorch"), {}, Builtins());
  ASSERT_TRUE(c.ok) << c.message;
  EXPECT_EQ(c.name, kTorchScriptRuntime);
  EXPECT_TRUE(c.cluster);
  EXPECT_EQ(c.protocol, "v1");  // the runtime's lowest protocol when the model names none
  c = SelectRuntime(Model("xgboost", "2"), {}, Builtins());
  ASSERT_TRUE(c.ok) << c.message;
  EXPECT_EQ(c.name, kXgboostRuntime);
}

TEST(RuntimeMatch, NoSupportingRuntimeListsWhatIsAvailable) {
  auto c = SelectRuntime(Model("tensorflow", "2.8"), {}, Builtins());
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "NoSupportingRuntime");
  EXPECT_NE(c.message.find("tensorflow 2.8"), std::string::npos) << c.message;
  EXPECT_NE(c.message.find("pytorch 1, pytorch 2, xgboost 1, xgboost 2"), std::string::npos)
      << c.message;
}

TEST(RuntimeMatch, VersionMustMatchAListedVersionExactly) {
  const auto rts = {Rt("tf", R"({"supportedModelFormats":[{"name":"tensorflow","version":"2",
                                 "autoSelect":true}]})")};
  std::vector<RuntimeCandidate> ns(rts);
  EXPECT_TRUE(SelectRuntime(Model("tensorflow"), ns, {}).ok);
  EXPECT_TRUE(SelectRuntime(Model("tensorflow", "2"), ns, {}).ok);
  EXPECT_FALSE(SelectRuntime(Model("tensorflow", "2.8"), ns, {}).ok);
  EXPECT_FALSE(SelectRuntime(Model("tensorflow", "1"), ns, {}).ok);
}

TEST(RuntimeMatch, AutoSelectUnlessNamed) {
  std::vector<RuntimeCandidate> ns = {
      Rt("manual", R"({"supportedModelFormats":[{"name":"onnx","version":"1"}]})")};
  auto c = SelectRuntime(Model("onnx"), ns, {});
  EXPECT_FALSE(c.ok);
  EXPECT_EQ(c.reason, "NoSupportingRuntime");
  ModelSpec named = Model("onnx", "1");
  named.runtime = "manual";
  c = SelectRuntime(named, ns, {});
  ASSERT_TRUE(c.ok) << c.message;
  EXPECT_EQ(c.name, "manual");
}

TEST(RuntimeMatch, NamedRuntimeChecks) {
  std::vector<RuntimeCandidate> ns = {
      Rt("off", R"({"disabled":true,"supportedModelFormats":[{"name":"onnx"}]})"),
      Rt("v2only", R"({"protocolVersions":["v2"],"supportedModelFormats":[{"name":"onnx"}]})")};
  ModelSpec m = Model("onnx");
  m.runtime = "missing";
  EXPECT_EQ(SelectRuntime(m, ns, {}).reason, "RuntimeNotRecognized");
  m.runtime = "off";
  EXPECT_EQ(SelectRuntime(m, ns, {}).reason, "RuntimeDisabled");
  m.runtime = "v2only";
  m.protocol_version = "v1";
  EXPECT_EQ(SelectRuntime(m, ns, {}).reason, "NoSupportingRuntime");
  m.protocol_version = "v2";
  EXPECT_TRUE(SelectRuntime(m, ns, {}).ok);
  m.format = "sklearn";
  auto c = SelectRuntime(m, ns, {});
  EXPECT_EQ(c.reason, "NoSupportingRuntime");
  EXPECT_NE(c.message.find("framework/version"), std::string::npos);
}

TEST(RuntimeMatch, DisabledAndMultiModelRuntimesNeverQualify) {
  std::vector<RuntimeCandidate> ns = {
      Rt("off", R"({"disabled":true,"supportedModelFormats":[{"name":"onnx","autoSelect":true}]})"),
      Rt("mm",
         R"({"multiModel":true,"supportedModelFormats":[{"name":"onnx","autoSelect":true}]})")};
  EXPECT_TRUE(SupportingRuntimes(Model("onnx"), ns, {}).empty());
}

TEST(RuntimeMatch, ProtocolDefaultsToV1) {
  std::vector<RuntimeCandidate> ns = {
      Rt("v2only", R"({"protocolVersions":["v2"],
                       "supportedModelFormats":[{"name":"onnx","autoSelect":true}]})"),
      Rt("any", R"({"supportedModelFormats":[{"name":"onnx","autoSelect":true}]})")};
  auto v1 = SupportingRuntimes(Model("onnx"), ns, {});
  ASSERT_EQ(v1.size(), 1u);
  EXPECT_EQ(v1[0].name, "any");  // no protocolVersions: every protocol
  ModelSpec m = Model("onnx");
  m.protocol_version = "v2";
  EXPECT_EQ(SupportingRuntimes(m, ns, {}).size(), 2u);
}

TEST(RuntimeMatch, NamespaceRuntimesComeFirstThenPriority) {
  const std::string low =
      R"({"supportedModelFormats":[{"name":"pytorch","autoSelect":true,"priority":1}]})";
  const std::string high =
      R"({"supportedModelFormats":[{"name":"pytorch","autoSelect":true,"priority":9}]})";
  const std::string none = R"({"supportedModelFormats":[{"name":"pytorch","autoSelect":true}]})";
  std::vector<RuntimeCandidate> ns = {Rt("ns-none", none), Rt("ns-low", low)};
  std::vector<RuntimeCandidate> cl = {Rt("cl-high", high, true), Rt("cl-low", low, true)};
  auto order = SupportingRuntimes(Model("pytorch"), ns, cl);
  ASSERT_EQ(order.size(), 4u);
  // A runtime with a priority goes before one without; the namespace's before the cluster's.
  EXPECT_EQ(order[0].name, "ns-low");
  EXPECT_EQ(order[1].name, "ns-none");
  EXPECT_EQ(order[2].name, "cl-high");
  EXPECT_EQ(order[3].name, "cl-low");
  EXPECT_EQ(SelectRuntime(Model("pytorch"), ns, cl).name, "ns-low");
}

TEST(RuntimeMatch, EqualPriorityPrefersNewestThenName) {
  const std::string spec =
      R"({"supportedModelFormats":[{"name":"pytorch","autoSelect":true,"priority":1}]})";
  std::vector<RuntimeCandidate> cl = {Rt("b-old", spec, true, "2024-01-01T00:00:00Z"),
                                      Rt("a-new", spec, true, "2025-06-01T00:00:00Z"),
                                      Rt("c-new", spec, true, "2025-06-01T00:00:00Z")};
  auto order = SupportingRuntimes(Model("pytorch"), {}, cl);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].name, "a-new");
  EXPECT_EQ(order[1].name, "c-new");
  EXPECT_EQ(order[2].name, "b-old");
}

TEST(ModelOf, ReadsEverySpelling) {
  auto m = ModelOf(Json::parse(R"({"model":{"modelFormat":{"name":"pytorch","version":"1"},
      "runtime":"rt","protocolVersion":"v2","storageUri":"file:///m","args":["--x"]}})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->format, "pytorch");
  EXPECT_EQ(m->version.value_or(""), "1");
  EXPECT_EQ(m->runtime.value_or(""), "rt");
  EXPECT_EQ(m->protocol_version.value_or(""), "v2");
  EXPECT_EQ(m->storage_uri, "file:///m");
  EXPECT_EQ(m->container["args"][0], "--x");

  // The seed's KFServing shorthand: modelFormat and storageUri on the predictor itself.
  m = ModelOf(Json::parse(R"({"modelFormat":{"name":"tensorflow","version":"2.8"},
      "storageUri":"gs://b/m","resources":{"limits":{"cpu":"1"}}})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->format, "tensorflow");
  EXPECT_EQ(m->storage_uri, "gs://b/m");
  EXPECT_EQ(m->container["resources"]["limits"]["cpu"], "1");

  m = ModelOf(Json::parse(R"({"pytorch":{"storageUri":"pvc://c/m"}})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->format, "pytorch");
  EXPECT_EQ(m->source, "pytorch");
  EXPECT_FALSE(m->protocol_version);
  m = ModelOf(Json::parse(R"({"triton":{"storageUri":"s3://b/m"}})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->protocol_version.value_or(""), "v2");

  EXPECT_FALSE(ModelOf(Json::parse(R"({"containers":[{"name":"c","image":"busybox"}]})")));
}

}  // namespace
}  // namespace skiff::inference

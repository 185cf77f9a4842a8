// The Model Registry REST API v1alpha3 as upstream documents it (paths, JSON shapes, paging,
// ordering, filterQuery, 409 on a duplicate version), served over the registry kinds.
#include <gtest/gtest.h>

#include <set>

#include "client/inprocess_client.h"
#include "registry/registry.h"
#include "registry_test_util.h"

namespace skiff::registry {
namespace {

Json StringProp(const std::string& v) {
  return {{"metadataType", "MetadataStringValue"}, {"string_value", v}};
}

class RestApiTest : public RegistryServerTest {
 protected:
  // POST registered_models; returns the created entity.
  Json CreateModel(const std::string& name, const Json& extra = Json::object()) {
    Json body = extra;
    body["name"] = name;
    Answer a = Call("POST", "registered_models", body);
    EXPECT_EQ(a.status, 201) << a.body.dump();
    return a.body;
  }
  std::vector<std::string> Names(const Json& list) {
    std::vector<std::string> out;
    for (const Json& e : list["items"]) out.push_back(e["name"]);
    return out;
  }
};

TEST_F(RestApiTest, CreatesAndGetsARegisteredModelByIdAndByName) {
  Json created =
      CreateModel("mnist", {{"description", "digits"},
                            {"owner", "ml-team"},
                            {"customProperties", {{"framework", StringProp("pytorch")}}}});
  const std::string id = created["id"];
  EXPECT_FALSE(id.empty());
  EXPECT_TRUE(std::all_of(id.begin(), id.end(), ::isdigit)) << id;
  EXPECT_EQ(created["name"], "mnist");
  EXPECT_EQ(created["state"], "LIVE");
  EXPECT_EQ(created["owner"], "ml-team");
  EXPECT_EQ(created["customProperties"]["framework"]["string_value"], "pytorch");
  EXPECT_EQ(created["customProperties"]["framework"]["metadataType"], "MetadataStringValue");
  ASSERT_TRUE(created["createTimeSinceEpoch"].is_string());
  EXPECT_GT(std::stoll(created["createTimeSinceEpoch"].get<std::string>()), 1600000000000LL);
  EXPECT_EQ(created["lastUpdateTimeSinceEpoch"], created["createTimeSinceEpoch"]);

  Answer by_id = Call("GET", "registered_models/" + id);
  EXPECT_EQ(by_id.status, 200);
  EXPECT_EQ(by_id.body, created);
  Answer by_name = Call("GET", "registered_model?name=mnist");
  EXPECT_EQ(by_name.status, 200);
  EXPECT_EQ(by_name.body["id"], id);

  Answer missing = Call("GET", "registered_models/999");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["code"], "404");
  EXPECT_NE(missing.body["message"].get<std::string>().find("999"), std::string::npos);
  EXPECT_EQ(Call("GET", "registered_model?name=nope").status, 404);
  EXPECT_EQ(Call("GET", "registered_models/abc").status, 400);
  EXPECT_EQ(Call("POST", "registered_models", {{"name", "mnist"}}).status, 409);

  // The same model is a Kubernetes object, as kubectl sees it.
  auto k8s = client::NewInProcessClient(server_->api(), {"test", {"system:masters"}});
  auto obj = k8s->Get(ResourceOf(Kind::kRegisteredModel), "default", "mnist");
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(StringAt(*obj, "status.id"), id);
  EXPECT_EQ(StringAt(*obj, "spec.description"), "digits");
}

TEST_F(RestApiTest, VersionsAndArtifactsHangUnderTheirParents) {
  const std::string model_id = CreateModel("fraud")["id"];
  Answer v1 = Call("POST", "model_versions",
                   {{"name", "v1"}, {"registeredModelId", model_id}, {"author", "ana"}});
  ASSERT_EQ(v1.status, 201) << v1.body.dump();
  EXPECT_EQ(v1.body["registeredModelId"], model_id);
  EXPECT_EQ(v1.body["author"], "ana");
  Answer v2 = Call("POST", "registered_models/" + model_id + "/versions", {{"name", "v2"}});
  ASSERT_EQ(v2.status, 201) << v2.body.dump();
  EXPECT_NE(v1.body["id"], v2.body["id"]);

  // A second v1 under the same model: upstream's conflict.
  Answer dup = Call("POST", "model_versions", {{"name", "v1"}, {"registeredModelId", model_id}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.body["message"], "model version with name v1 already exists");
  EXPECT_EQ(dup.body["code"], "409");
  // The same version name under another model is fine.
  const std::string other = CreateModel("other")["id"];
  EXPECT_EQ(Call("POST", "model_versions", {{"name", "v1"}, {"registeredModelId", other}}).status,
            201);
  EXPECT_EQ(Call("POST", "model_versions", {{"name", "v9"}, {"registeredModelId", "4242"}}).status,
            404);

  Answer listed = Call("GET", "registered_models/" + model_id + "/versions");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(Names(listed.body), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_EQ(listed.body["size"], 2);

  Answer found = Call("GET", "model_version?name=v2&parentResourceId=" + model_id);
  EXPECT_EQ(found.status, 200);
  EXPECT_EQ(found.body["id"], v2.body["id"]);

  const std::string v1_id = v1.body["id"];
  Answer art = Call("POST", "model_versions/" + v1_id + "/artifacts",
                    {{"artifactType", "model-artifact"},
                     {"name", "model"},
                     {"uri", "gs://bucket/fraud/v1"},
                     {"modelFormatName", "xgboost"}});
  ASSERT_EQ(art.status, 201) << art.body.dump();
  EXPECT_EQ(art.body["artifactType"], "model-artifact");
  EXPECT_EQ(art.body["uri"], "gs://bucket/fraud/v1");
  Answer arts = Call("GET", "model_versions/" + v1_id + "/artifacts");
  ASSERT_EQ(arts.status, 200);
  ASSERT_EQ(arts.body["items"].size(), 1u);
  EXPECT_EQ(arts.body["items"][0]["id"], art.body["id"]);
  Answer by_name = Call("GET", "model_artifact?name=model&parentResourceId=" + v1_id);
  EXPECT_EQ(by_name.status, 200) << by_name.body.dump();
  EXPECT_EQ(Call("GET", "model_artifacts/" + art.body["id"].get<std::string>()).body["uri"],
            "gs://bucket/fraud/v1");

  // kubectl's URI column: the version mirrors its first artifact.
  auto k8s = client::NewInProcessClient(server_->api(), {"test", {"system:masters"}});
  auto versions = k8s->List(ResourceOf(Kind::kModelVersion), "default", {});
  ASSERT_TRUE(versions.ok());
  bool mirrored = false;
  for (const Json& v : (*versions)["items"]) {
    if (StringAt(v, "status.id") == v1_id)
      mirrored = StringAt(v, "spec.artifact.uri") == "gs://bucket/fraud/v1";
  }
  EXPECT_TRUE(mirrored);
}

TEST_F(RestApiTest, ListsPageByPageInTheRequestedOrder) {
  for (const char* n : {"charlie", "alpha", "echo", "bravo", "delta"}) CreateModel(n);

  // Default: by id, ascending (creation order).
  Answer all = Call("GET", "registered_models");
  EXPECT_EQ(Names(all.body),
            (std::vector<std::string>{"charlie", "alpha", "echo", "bravo", "delta"}));
  EXPECT_EQ(all.body["nextPageToken"], "");

  // Two at a time by name, following nextPageToken to the end.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    Answer page =
        Call("GET", "registered_models?pageSize=2&orderBy=NAME&sortOrder=ASC" +
                        (token.empty() ? "" : "&nextPageToken=" + http::PercentEncode(token)));
    ASSERT_EQ(page.status, 200) << page.body.dump();
    EXPECT_EQ(page.body["pageSize"], 2);
    EXPECT_LE(page.body["size"].get<int>(), 2);
    for (const auto& n : Names(page.body)) seen.push_back(n);
    token = page.body["nextPageToken"];
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(seen, (std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"}));
  EXPECT_EQ(pages, 3);

  Answer desc = Call("GET", "registered_models?orderBy=CREATE_TIME&sortOrder=DESC&pageSize=3");
  EXPECT_EQ(Names(desc.body), (std::vector<std::string>{"delta", "bravo", "echo"}));
  EXPECT_FALSE(desc.body["nextPageToken"].get<std::string>().empty());
  Answer by_id_desc = Call("GET", "registered_models?orderBy=ID&sortOrder=DESC&pageSize=1");
  EXPECT_EQ(Names(by_id_desc.body), (std::vector<std::string>{"delta"}));

  EXPECT_EQ(Call("GET", "registered_models?orderBy=SIZE").status, 400);
  EXPECT_EQ(Call("GET", "registered_models?pageSize=0").status, 400);
}

TEST_F(RestApiTest, PatchArchivesAndKeepsWhatItDoesNotName) {
  Json m = CreateModel("churn", {{"description", "first"}});
  const std::string id = m["id"];
  Answer patched = Call("PATCH", "registered_models/" + id, {{"state", "ARCHIVED"}});
  ASSERT_EQ(patched.status, 200) << patched.body.dump();
  EXPECT_EQ(patched.body["state"], "ARCHIVED");
  EXPECT_EQ(patched.body["description"], "first");
  EXPECT_GE(std::stoll(patched.body["lastUpdateTimeSinceEpoch"].get<std::string>()),
            std::stoll(m["createTimeSinceEpoch"].get<std::string>()));
  EXPECT_EQ(Call("GET", "registered_models/" + id).body["state"], "ARCHIVED");
  EXPECT_EQ(Call("PATCH", "registered_models/" + id, {{"state", "GONE"}}).status, 400);
  EXPECT_EQ(Call("PATCH", "registered_models/" + id, {{"name", "renamed"}}).status, 400);

  const std::string v =
      Call("POST", "registered_models/" + id + "/versions", {{"name", "v1"}}).body["id"];
  Answer archived = Call("PATCH", "model_versions/" + v, {{"state", "ARCHIVED"}});
  EXPECT_EQ(archived.status, 200);
  EXPECT_EQ(archived.body["state"], "ARCHIVED");
}

TEST_F(RestApiTest, FilterQuerySelectsByNameStateAndCustomProperties) {
  CreateModel(
      "mnist-cnn",
      {{"customProperties",
        {{"framework", StringProp("pytorch")},
         {"accuracy", {{"metadataType", "MetadataDoubleValue"}, {"double_value", 0.93}}}}}});
  CreateModel(
      "mnist-mlp",
      {{"customProperties",
        {{"framework", StringProp("pytorch")},
         {"accuracy", {{"metadataType", "MetadataDoubleValue"}, {"double_value", 0.88}}}}}});
  const std::string xgb = CreateModel(
      "fraud-xgb", {{"customProperties", {{"framework", StringProp("xgboost")}}}})["id"];
  Call("PATCH", "registered_models/" + xgb, {{"state", "ARCHIVED"}});

  auto names = [&](const std::string& q) {
    Answer a = Call("GET", "registered_models?orderBy=NAME&filterQuery=" + http::PercentEncode(q));
    EXPECT_EQ(a.status, 200) << q << ": " << a.body.dump();
    return Names(a.body);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("name = 'mnist-cnn'"), V{"mnist-cnn"});
  EXPECT_EQ(names("name=\"fraud-xgb\""), V{"fraud-xgb"});
  EXPECT_EQ(names("name LIKE 'mnist%'"), (V{"mnist-cnn", "mnist-mlp"}));
  EXPECT_EQ(names("state = 'LIVE'"), (V{"mnist-cnn", "mnist-mlp"}));
  EXPECT_EQ(names("framework = 'xgboost'"), V{"fraud-xgb"});
  EXPECT_EQ(names("framework.string_value = 'pytorch'"), (V{"mnist-cnn", "mnist-mlp"}));
  EXPECT_EQ(names("customProperties.framework.string_value = 'pytorch' AND accuracy > 0.9"),
            V{"mnist-cnn"});
  EXPECT_EQ(names("(name = 'mnist-mlp' OR name = 'fraud-xgb') AND state = 'ARCHIVED'"),
            V{"fraud-xgb"});
  EXPECT_EQ(names("name IN ('mnist-mlp', 'nope')"), V{"mnist-mlp"});
  EXPECT_EQ(names("nosuchproperty = 'x'"), V{});

  Answer bad = Call("GET", "registered_models?filterQuery=" + http::PercentEncode("name = "));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body["message"].get<std::string>().find("filterQuery"), std::string::npos);
}

TEST_F(RestApiTest, RejectsMalformedBodies) {
  EXPECT_EQ(Call("POST", "registered_models", Json::object()).status, 400);
  EXPECT_EQ(
      Call("POST", "registered_models", {{"name", "x"}, {"customProperties", {{"a", "plain"}}}})
          .status,
      400);
  EXPECT_EQ(Call("POST", "registered_models", {{"name", "x"}, {"colour", "red"}}).status, 400);
  EXPECT_EQ(Call("DELETE", "registered_models").status, 405);
  EXPECT_EQ(Call("GET", "no_such_things").status, 404);
}

// Objects made with kubectl get REST ids the first time the registry lists them.
TEST_F(RestApiTest, ObjectsCreatedWithKubectlGetIds) {
  auto k8s = client::NewInProcessClient(server_->api(), {"test", {"system:masters"}});
  auto rm =
      k8s->Create(ResourceOf(Kind::kRegisteredModel), "default",
                  {{"apiVersion", kApiVersion},
                   {"kind", "RegisteredModel"},
                   {"metadata", {{"name", "handmade"}}},
                   {"spec", {{"description", "by hand"}, {"customProperties", {{"team", "a"}}}}}});
  ASSERT_TRUE(rm.ok()) << rm.status().ToString();
  Answer list = Call("GET", "registered_models");
  ASSERT_EQ(list.body["items"].size(), 1u);
  const Json& e = list.body["items"][0];
  EXPECT_EQ(e["name"], "handmade");
  EXPECT_FALSE(e["id"].get<std::string>().empty());
  EXPECT_EQ(e["customProperties"]["team"]["string_value"], "a");
  EXPECT_EQ(Call("GET", "registered_models/" + e["id"].get<std::string>()).body["name"],
            "handmade");
}

}  // namespace
}  // namespace skiff::registry

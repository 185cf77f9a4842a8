// The OpenAPI v3 documents, checked for what kubectl reads from them: the index's URLs and hashes,
// the PATCH operation's parameters and content types (validation and patch-type choice), and
// schemas findable by x-kubernetes-group-version-kind (explain).
#include "apiserver/openapi.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

namespace skiff::apiserver {
namespace {

using ::testing::HasSubstr;

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : Json();
}

constexpr char kTfJobs[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: tfjobs.kubeflow.org}
spec:
  group: kubeflow.org
  names: {plural: tfjobs, kind: TFJob}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        description: A distributed TensorFlow training job.
        properties:
          spec:
            type: object
            properties: {runPolicy: {type: object, properties: {suspend: {type: boolean}}}}
)";

constexpr char kPods[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pods}
spec:
  group: ""
  names: {plural: pods, kind: Pod}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object}}}
)";

constexpr char kNodes[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: nodes}
spec:
  group: ""
  names: {plural: nodes, kind: Node}
  scope: Cluster
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
)";

constexpr char kReviews[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: selfsubjectaccessreviews.authorization.k8s.io
  annotations: {skiff.io/stored: "false"}
spec:
  group: authorization.k8s.io
  names: {plural: selfsubjectaccessreviews, kind: SelfSubjectAccessReview}
  scope: Cluster
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
)";

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* crd : {kTfJobs, kPods, kNodes, kReviews}) {
      Status s = registry_.AddCrd(Yaml(crd), /*builtin=*/true);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }
  Json Doc(const std::string& gv) {
    auto doc = OpenApiDocument(registry_, gv);
    EXPECT_TRUE(doc.ok()) << doc.status().ToString();
    return doc.ok() ? Json::parse(*doc) : Json();
  }
  api::ResourceRegistry registry_;
};

TEST_F(OpenApiTest, IndexListsEveryGroupVersionWithItsHash) {
  Json index = Json::parse(OpenApiIndex(registry_));
  ASSERT_TRUE(index["paths"].contains("api/v1"));
  ASSERT_TRUE(index["paths"].contains("apis/kubeflow.org/v1"));
  ASSERT_TRUE(index["paths"].contains("apis/authorization.k8s.io/v1"));
  EXPECT_EQ(index["paths"].size(), 3u);
  std::string url = index["paths"]["apis/kubeflow.org/v1"]["serverRelativeURL"];
  auto hash = OpenApiDocumentHash(registry_, "apis/kubeflow.org/v1");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(url, "/openapi/v3/apis/kubeflow.org/v1?hash=" + *hash);
  EXPECT_EQ(hash->size(), 64u);
  EXPECT_EQ(hash->find_first_not_of("0123456789ABCDEF"), std::string::npos);
}

TEST_F(OpenApiTest, HashIsStableAndChangesWithTheSchema) {
  std::string before = *OpenApiDocumentHash(registry_, "apis/kubeflow.org/v1");
  std::string core_before = *OpenApiDocumentHash(registry_, "api/v1");
  EXPECT_EQ(*OpenApiDocumentHash(registry_, "apis/kubeflow.org/v1"), before);

  // Same content in a fresh registry: same hash (clients cache documents by it).
  api::ResourceRegistry other;
  ASSERT_TRUE(other.AddCrd(Yaml(kTfJobs), true).ok());
  EXPECT_EQ(*OpenApiDocumentHash(other, "apis/kubeflow.org/v1"), before);

  Json changed = Yaml(kTfJobs);
  changed["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
         ["extra"] = {{"type", "string"}};
  ASSERT_TRUE(registry_.AddCrd(changed, true).ok());
  EXPECT_NE(*OpenApiDocumentHash(registry_, "apis/kubeflow.org/v1"), before);
  EXPECT_EQ(*OpenApiDocumentHash(registry_, "api/v1"), core_before);
  Json doc = Doc("apis/kubeflow.org/v1");
  EXPECT_TRUE(
      doc["components"]["schemas"]["org.kubeflow.v1.TFJob"]["properties"]["spec"]["properties"]
          .contains("extra"))
      << "the cache must not serve the old document";
}

TEST_F(OpenApiTest, UnknownGroupVersionIsNotFound) {
  EXPECT_EQ(OpenApiDocument(registry_, "apis/nope.io/v1").status().code(), Code::kNotFound);
  EXPECT_EQ(OpenApiDocument(registry_, "api/v2").status().code(), Code::kNotFound);
}

TEST_F(OpenApiTest, DocumentShape) {
  Json doc = Doc("apis/kubeflow.org/v1");
  EXPECT_EQ(doc["openapi"], "3.0.0");
  EXPECT_TRUE(doc["info"].contains("title"));
  const Json& paths = doc["paths"];
  EXPECT_TRUE(paths.contains("/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs"));
  EXPECT_TRUE(paths.contains("/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}"));
  EXPECT_TRUE(paths.contains("/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}/status"));
  EXPECT_TRUE(paths.contains("/apis/kubeflow.org/v1/tfjobs"));

  const Json& item = paths["/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}"];
  EXPECT_EQ(item["get"]["operationId"], "readKubeflowOrgV1NamespacedTFJob");
  EXPECT_EQ(item["put"]["operationId"], "replaceKubeflowOrgV1NamespacedTFJob");
  EXPECT_EQ(item["delete"]["operationId"], "deleteKubeflowOrgV1NamespacedTFJob");
  EXPECT_EQ(item["patch"]["x-kubernetes-action"], "patch");
  EXPECT_EQ(item["patch"]["x-kubernetes-group-version-kind"],
            Json({{"group", "kubeflow.org"}, {"version", "v1"}, {"kind", "TFJob"}}));
  const Json& coll = paths["/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs"];
  EXPECT_EQ(coll["get"]["operationId"], "listKubeflowOrgV1NamespacedTFJob");
  EXPECT_EQ(coll["post"]["operationId"], "createKubeflowOrgV1NamespacedTFJob");
  EXPECT_EQ(coll["post"]["x-kubernetes-action"], "post");
  EXPECT_EQ(coll["delete"]["x-kubernetes-action"], "deletecollection");
  EXPECT_EQ(coll["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/org.kubeflow.v1.TFJobList");
  EXPECT_EQ(paths["/apis/kubeflow.org/v1/tfjobs"]["get"]["operationId"],
            "listKubeflowOrgV1TFJobForAllNamespaces");
  EXPECT_EQ(paths["/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}/status"]["patch"]
                 ["operationId"],
            "patchKubeflowOrgV1NamespacedTFJobStatus");
}

// kubectl apply skips client-side validation only when the PATCH operation of the kind lists
// `fieldValidation` as a query parameter; it also checks dryRun for --dry-run=server.
TEST_F(OpenApiTest, PatchOperationDeclaresFieldValidation) {
  Json doc = Doc("apis/kubeflow.org/v1");
  const Json& patch =
      doc["paths"]["/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}"]["patch"];
  std::set<std::string> query;
  for (const Json& p : patch["parameters"]) {
    if (p["in"] == "query") query.insert(p["name"].get<std::string>());
  }
  EXPECT_TRUE(query.count("fieldValidation"));
  EXPECT_TRUE(query.count("dryRun"));
  EXPECT_TRUE(query.count("fieldManager"));
  EXPECT_TRUE(query.count("force"));
}

// kubectl sends a strategic merge patch when the content type is listed; a custom kind must
// get a merge patch instead, a core kind a strategic one.
TEST_F(OpenApiTest, StrategicMergePatchOnlyForCoreKinds) {
  Json custom = Doc(
      "apis/kubeflow.org/v1")["paths"]["/apis/kubeflow.org/v1/namespaces/{namespace}/tfjobs/{name}"]
                             ["patch"]["requestBody"]["content"];
  EXPECT_FALSE(custom.contains("application/strategic-merge-patch+json"));
  EXPECT_TRUE(custom.contains("application/merge-patch+json"));
  EXPECT_TRUE(custom.contains("application/json-patch+json"));
  EXPECT_TRUE(custom.contains("application/apply-patch+yaml"));

  Json core = Doc("api/v1")["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
                           ["requestBody"]["content"];
  EXPECT_TRUE(core.contains("application/strategic-merge-patch+json"));
  EXPECT_TRUE(core.contains("application/merge-patch+json"));
}

TEST_F(OpenApiTest, ClusterScopedAndVirtualKinds) {
  Json core = Doc("api/v1");
  EXPECT_TRUE(core["paths"].contains("/api/v1/nodes"));
  EXPECT_TRUE(core["paths"].contains("/api/v1/nodes/{name}"));
  EXPECT_EQ(core["paths"]["/api/v1/nodes/{name}"]["get"]["operationId"], "readCoreV1Node");
  EXPECT_EQ(core["paths"]["/api/v1/namespaces/{namespace}/pods"]["get"]["operationId"],
            "listCoreV1NamespacedPod");

  Json authz = Doc("apis/authorization.k8s.io/v1");
  const Json& paths = authz["paths"];
  ASSERT_EQ(paths.size(), 1u) << paths.dump();
  const Json& review = paths["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"];
  EXPECT_EQ(review["post"]["operationId"], "createAuthorizationV1SelfSubjectAccessReview");
  EXPECT_FALSE(review.contains("get"));
  EXPECT_TRUE(authz["components"]["schemas"].contains(
      "io.k8s.api.authorization.v1.SelfSubjectAccessReview"));
}

TEST_F(OpenApiTest, KindSchemasCarryGvkAndReferToObjectMeta) {
  Json schemas = Doc("apis/kubeflow.org/v1")["components"]["schemas"];
  const Json& tfjob = schemas["org.kubeflow.v1.TFJob"];
  EXPECT_EQ(tfjob["x-kubernetes-group-version-kind"],
            Json::parse(R"([{"group":"kubeflow.org","version":"v1","kind":"TFJob"}])"));
  EXPECT_EQ(tfjob["description"], "A distributed TensorFlow training job.");
  EXPECT_EQ(tfjob["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_EQ(tfjob["properties"]["apiVersion"]["type"], "string");
  EXPECT_EQ(tfjob["properties"]["spec"]["properties"]["runPolicy"]["properties"]["suspend"]["type"],
            "boolean");
  const Json& list = schemas["org.kubeflow.v1.TFJobList"];
  EXPECT_EQ(list["x-kubernetes-group-version-kind"][0]["kind"], "TFJobList");
  EXPECT_EQ(list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/org.kubeflow.v1.TFJob");

  const Json& meta = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"];
  for (const char* field :
       {"name", "namespace", "labels", "annotations", "generateName", "uid", "resourceVersion",
        "creationTimestamp", "ownerReferences", "finalizers", "managedFields"}) {
    ASSERT_TRUE(meta["properties"].contains(field)) << field;
    EXPECT_FALSE(meta["properties"][field]["description"].get<std::string>().empty()) << field;
  }
  EXPECT_EQ(meta["properties"]["labels"]["additionalProperties"]["type"], "string");
}

// Every $ref in a document resolves within it (kubectl fails on a dangling one).
void ExpectRefsResolve(const Json& doc, const Json& node) {
  if (node.is_object()) {
    if (auto ref = node.find("$ref"); ref != node.end()) {
      std::string name = ref->get<std::string>().substr(strlen("#/components/schemas/"));
      EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << name;
    }
    for (const Json& v : node) ExpectRefsResolve(doc, v);
  } else if (node.is_array()) {
    for (const Json& v : node) ExpectRefsResolve(doc, v);
  }
}

TEST_F(OpenApiTest, EveryRefResolves) {
  for (const char* gv : {"apis/kubeflow.org/v1", "api/v1", "apis/authorization.k8s.io/v1"}) {
    Json doc = Doc(gv);
    ExpectRefsResolve(doc, doc);
  }
}

TEST(SchemaName, LikeKubernetes) {
  EXPECT_EQ(SchemaName("", "v1", "Pod"), "io.k8s.api.core.v1.Pod");
  EXPECT_EQ(SchemaName("batch", "v1", "Job"), "io.k8s.api.batch.v1.Job");
  EXPECT_EQ(SchemaName("rbac.authorization.k8s.io", "v1", "Role"), "io.k8s.api.rbac.v1.Role");
  EXPECT_EQ(SchemaName("scheduling.k8s.io", "v1", "PriorityClass"),
            "io.k8s.api.scheduling.v1.PriorityClass");
  EXPECT_EQ(SchemaName("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition");
  EXPECT_EQ(SchemaName("kubeflow.org", "v1", "TFJob"), "org.kubeflow.v1.TFJob");
  EXPECT_EQ(SchemaName("serving.kserve.io", "v1beta1", "InferenceService"),
            "io.kserve.serving.v1beta1.InferenceService");
  EXPECT_EQ(SchemaName("scheduling.x-k8s.io", "v1alpha1", "PodGroup"),
            "io.x-k8s.scheduling.v1alpha1.PodGroup");
  EXPECT_EQ(GroupVersionPath("", "v1"), "api/v1");
  EXPECT_EQ(GroupVersionPath("kubeflow.org", "v1"), "apis/kubeflow.org/v1");
}

TEST(OpenApiBuiltins, EveryBuiltinGroupVersionHasADocument) {
  if (api::BuiltinFiles().empty()) GTEST_SKIP() << "no built-in definitions yet";
  api::ResourceRegistry reg;
  ASSERT_TRUE(reg.LoadBuiltins().ok());
  Json index = Json::parse(OpenApiIndex(reg));
  for (const auto& gv : reg.Groups()) {
    for (const std::string& v : gv.versions) {
      std::string path = GroupVersionPath(gv.group, v);
      ASSERT_TRUE(index["paths"].contains(path)) << path;
      auto doc = OpenApiDocument(reg, path);
      ASSERT_TRUE(doc.ok()) << path;
      Json parsed = Json::parse(*doc);
      ExpectRefsResolve(parsed, parsed);
    }
  }
}

}  // namespace
}  // namespace skiff::apiserver

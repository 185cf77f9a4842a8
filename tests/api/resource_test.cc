// The registry as discovery and the CRD endpoint see it: CRD documents in, served resources out,
// with the errors a user applying a bad CRD would get, and the built-in definition format.
#include "api/resource.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/schema.h"

namespace skiff::api {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : Json();
}

constexpr char kCrd[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {plural: widgets, kind: Widget, shortNames: [wd], categories: [all]}
  scope: Namespaced
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object}}}
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size, priority: 1, description: how big}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
  - name: v1alpha1
    served: false
    storage: false
    schema:
      openAPIV3Schema: {type: object}
)";

std::vector<std::string> CauseLines(const Status& s) {
  std::vector<std::string> out;
  for (const StatusCause& c : s.causes()) out.push_back(c.field + ": " + c.message);
  return out;
}

TEST(ResourcesFromCrd, OnePerServedVersionWithDefaultsFilledIn) {
  auto infos = ResourcesFromCrd(Yaml(kCrd), /*builtin=*/false);
  ASSERT_TRUE(infos.ok()) << infos.status().ToString();
  ASSERT_EQ(infos->size(), 2u);  // v1alpha1 is not served
  const ResourceInfo& v1 = (*infos)[1];
  EXPECT_EQ(v1.version, "v1");
  EXPECT_EQ(v1.kind, "Widget");
  EXPECT_EQ(v1.list_kind, "WidgetList");
  EXPECT_EQ(v1.singular, "widget");
  EXPECT_EQ(v1.GroupResource(), "widgets.example.com");
  EXPECT_EQ(v1.GroupKind(), "Widget.example.com");
  EXPECT_EQ(v1.storage_group, "example.com");
  EXPECT_THAT(v1.short_names, ElementsAre("wd"));
  EXPECT_THAT(v1.categories, ElementsAre("all"));
  EXPECT_TRUE(v1.namespaced);
  EXPECT_TRUE(v1.status_subresource);
  EXPECT_FALSE((*infos)[0].status_subresource);
  EXPECT_FALSE(v1.builtin);
  EXPECT_TRUE(v1.stored);
  EXPECT_THAT(v1.verbs, ElementsAre("create", "delete", "deletecollection", "get", "list", "patch",
                                    "update", "watch"));
  ASSERT_EQ(v1.columns.size(), 1u);
  EXPECT_EQ(v1.columns[0].name, "Size");
  EXPECT_EQ(v1.columns[0].json_path, ".spec.size");
  EXPECT_EQ(v1.columns[0].priority, 1);
  EXPECT_EQ(v1.columns[0].description, "how big");
  EXPECT_EQ(v1.schema()["properties"]["spec"]["properties"]["size"]["type"], "integer");
}

TEST(ResourcesFromCrd, SkiffAnnotations) {
  Json crd = Yaml(kCrd);
  crd["metadata"]["annotations"] = {{"skiff.io/storage-group", "widgets.io"},
                                    {"skiff.io/stored", "false"}};
  auto infos = ResourcesFromCrd(crd, true);
  ASSERT_TRUE(infos.ok()) << infos.status().ToString();
  EXPECT_EQ((*infos)[0].storage_group, "widgets.io");
  EXPECT_FALSE((*infos)[0].stored);
  EXPECT_THAT((*infos)[0].verbs, ElementsAre("create"));

  crd["metadata"]["annotations"] = {{"skiff.io/verbs", "create, get"}};
  infos = ResourcesFromCrd(crd, true);
  ASSERT_TRUE(infos.ok());
  EXPECT_TRUE((*infos)[0].stored);
  EXPECT_THAT((*infos)[0].verbs, ElementsAre("create", "get"));
}

TEST(ResourcesFromCrd, CoreGroupOnlyForBuiltins) {
  Json crd = Yaml(kCrd);
  crd["spec"]["group"] = "";
  crd["metadata"]["name"] = "widgets";
  EXPECT_TRUE(ResourcesFromCrd(crd, /*builtin=*/true).ok());
  auto user = ResourcesFromCrd(crd, /*builtin=*/false);
  ASSERT_FALSE(user.ok());
  EXPECT_THAT(CauseLines(user.status()),
              ElementsAre("spec.group: Invalid value: \"\": should be a domain with at least one "
                          "dot"));
}

TEST(ResourcesFromCrd, BadCrdIsA422NamingEveryProblem) {
  Json crd = Yaml(kCrd);
  crd["metadata"]["name"] = "gadgets.example.com";
  crd["spec"]["scope"] = "Global";
  crd["spec"]["names"].erase("kind");
  crd["spec"]["versions"][0]["storage"] = true;
  crd["spec"]["versions"][1].erase("schema");
  crd["spec"]["versions"][1]["additionalPrinterColumns"][0]["type"] = "float";
  auto r = ResourcesFromCrd(crd, false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_EQ(r.status().details_kind(), "CustomResourceDefinition");
  EXPECT_EQ(r.status().details_group(), "apiextensions.k8s.io");
  EXPECT_EQ(r.status().details_name(), "gadgets.example.com");
  EXPECT_THAT(r.status().message(),
              HasSubstr("CustomResourceDefinition.apiextensions.k8s.io \"gadgets.example.com\" "
                        "is invalid: ["));
  EXPECT_THAT(
      CauseLines(r.status()),
      ElementsAre("spec.names.kind: Required value",
                  "metadata.name: Invalid value: \"gadgets.example.com\": must be "
                  "spec.names.plural+\".\"+spec.group (\"widgets.example.com\")",
                  "spec.scope: Unsupported value: \"Global\": supported values: \"Cluster\", "
                  "\"Namespaced\"",
                  "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required",
                  "spec.versions[1].additionalPrinterColumns[0].type: Unsupported value: "
                  "\"float\": supported values: \"boolean\", \"date\", \"integer\", \"number\", "
                  "\"string\"",
                  "spec.versions: Invalid value: 3: must have exactly one version marked as "
                  "storage version"));
}

TEST(ResourcesFromCrd, UserSchemasMustBeStructural) {
  Json crd = Yaml(kCrd);
  crd["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
     ["size"] = Yaml("{$ref: '#/definitions/Size'}");
  auto r = ResourcesFromCrd(crd, false);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(CauseLines(r.status()),
              ::testing::Contains("spec.versions[1].schema.openAPIV3Schema.properties[spec]."
                                  "properties[size].$ref: Forbidden: $ref is not supported"));
}

TEST(ResourcesFromCrd, NamesAreValidated) {
  Json crd = Yaml(kCrd);
  crd["spec"]["names"]["plural"] = "Widgets";
  crd["metadata"]["name"] = "Widgets.example.com";
  crd["spec"]["versions"] = Json::array();
  auto r = ResourcesFromCrd(crd, false);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(CauseLines(r.status()),
              ::testing::Contains(HasSubstr("spec.names.plural: Invalid value: \"Widgets\"")));
  EXPECT_THAT(CauseLines(r.status()), ::testing::Contains(HasSubstr("spec.versions: Required")));
}

TEST(Registry, AddFindReplaceRemove) {
  ResourceRegistry reg;
  uint64_t g0 = reg.generation();
  ASSERT_TRUE(reg.AddCrd(Yaml(kCrd), false).ok());
  EXPECT_GT(reg.generation(), g0);
  ResourcePtr v1 = reg.Find("example.com", "v1", "widgets");
  ASSERT_NE(v1, nullptr);
  EXPECT_EQ(reg.FindByKind("example.com", "v1beta1", "Widget")->version, "v1beta1");
  EXPECT_EQ(reg.Find("example.com", "v1alpha1", "widgets"), nullptr);
  EXPECT_EQ(reg.All().size(), 2u);

  // Re-applying with one version fewer replaces the whole set; old snapshots stay intact.
  Json crd = Yaml(kCrd);
  crd["spec"]["versions"].erase(0);
  uint64_t g1 = reg.generation();
  ASSERT_TRUE(reg.AddCrd(crd, false).ok());
  EXPECT_GT(reg.generation(), g1);
  EXPECT_EQ(reg.Find("example.com", "v1beta1", "widgets"), nullptr);
  EXPECT_EQ(reg.All().size(), 1u);
  EXPECT_EQ(v1->version, "v1");

  uint64_t g2 = reg.generation();
  reg.RemoveCrd("widgets.example.com");
  EXPECT_TRUE(reg.All().empty());
  EXPECT_GT(reg.generation(), g2);
  uint64_t g3 = reg.generation();
  reg.RemoveCrd("widgets.example.com");  // nothing to remove: no change
  EXPECT_EQ(reg.generation(), g3);
}

TEST(Registry, SameKindUnderAnotherPluralIsAConflict) {
  ResourceRegistry reg;
  ASSERT_TRUE(reg.AddCrd(Yaml(kCrd), false).ok());
  Json other = Yaml(kCrd);
  other["metadata"]["name"] = "widgetz.example.com";
  other["spec"]["names"]["plural"] = "widgetz";
  Status s = reg.AddCrd(other, false);
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
}

TEST(Registry, InvalidCrdChangesNothing) {
  ResourceRegistry reg;
  uint64_t g = reg.generation();
  Json crd = Yaml(kCrd);
  crd["spec"]["scope"] = "Nope";
  EXPECT_EQ(reg.AddCrd(crd, false).code(), Code::kInvalid);
  EXPECT_TRUE(reg.All().empty());
  EXPECT_EQ(reg.generation(), g);
}

Json CrdFor(const std::string& group, const std::string& plural, const std::string& kind,
            const std::vector<std::string>& versions) {
  Json crd = Yaml(kCrd);
  crd["metadata"]["name"] = group.empty() ? plural : plural + "." + group;
  crd["spec"]["group"] = group;
  crd["spec"]["names"] = {{"plural", plural}, {"kind", kind}};
  crd["spec"]["versions"] = Json::array();
  for (size_t i = 0; i < versions.size(); ++i) {
    crd["spec"]["versions"].push_back({{"name", versions[i]},
                                       {"served", true},
                                       {"storage", i == 0},
                                       {"schema", {{"openAPIV3Schema", {{"type", "object"}}}}}});
  }
  return crd;
}

TEST(Registry, GroupsCoreFirstThenAlphabeticalVersionsByPriority) {
  ResourceRegistry reg;
  ASSERT_TRUE(reg.AddCrd(CrdFor("zeta.io", "zs", "Z", {"v1"}), true).ok());
  ASSERT_TRUE(reg.AddCrd(CrdFor("alpha.io", "as", "A",
                                {"v1alpha1", "v1beta1", "v2", "v1", "v1beta2", "v10", "foo",
                                 "v2alpha1", "bar"}),
                         true)
                  .ok());
  ASSERT_TRUE(reg.AddCrd(CrdFor("", "pods", "Pod", {"v1"}), true).ok());
  auto groups = reg.Groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].group, "");
  EXPECT_EQ(groups[1].group, "alpha.io");
  EXPECT_EQ(groups[2].group, "zeta.io");
  EXPECT_THAT(groups[1].versions, ElementsAre("v10", "v2", "v1", "v1beta2", "v1beta1", "v2alpha1",
                                              "v1alpha1", "bar", "foo"));
}

// ---------------------------------------------------------------- the built-in file format

constexpr char kDefinitions[] = R"(
apiVersion: skiff.io/v1
kind: SchemaDefinitions
definitions:
  Size: {type: integer, minimum: 0, description: generic}
  Spec:
    type: object
    properties:
      size: {$ref: "#/definitions/Size", description: how big}
)";

constexpr char kGadgets[] = R"(
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets}
spec:
  group: ""
  names: {plural: gadgets, kind: Gadget}
  scope: Cluster
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {$ref: "#/definitions/Spec"}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: reviews.example.com
  annotations: {skiff.io/stored: "false"}
spec:
  group: example.com
  names: {plural: reviews, kind: Review}
  scope: Cluster
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
)";

TEST(LoadFiles, DefinitionsFromAnyFileAreInlined) {
  ResourceRegistry reg;
  // Definitions come after the CRDs that use them: the loader gathers them first.
  Status s = reg.LoadFiles({{"b.yaml", kGadgets}, {"c.yaml", kDefinitions}});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ResourcePtr g = reg.Find("", "v1", "gadgets");
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->namespaced);
  EXPECT_TRUE(g->builtin);
  EXPECT_EQ(g->schema()["properties"]["spec"]["properties"]["size"],
            Yaml("{type: integer, minimum: 0, description: how big}"));
  ResourcePtr review = reg.Find("example.com", "v1", "reviews");
  ASSERT_NE(review, nullptr);
  EXPECT_FALSE(review->stored);

  // The inlined schema is live: it validates.
  Json obj = {{"spec", {{"size", -1}}}};
  EXPECT_EQ(ApplySchema(g->schema(), obj, UnknownFields::kStrict).causes.size(), 1u);
}

TEST(LoadFiles, ErrorsNameTheFileAndAddNothing) {
  ResourceRegistry reg;
  Status missing = reg.LoadFiles({{"b.yaml", kGadgets}});
  EXPECT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("b.yaml"));
  EXPECT_THAT(missing.message(), HasSubstr("unknown definition \"Spec\""));
  EXPECT_TRUE(reg.All().empty());

  constexpr char kCycle[] = R"(
apiVersion: skiff.io/v1
kind: SchemaDefinitions
definitions:
  Spec: {type: object, properties: {child: {$ref: "#/definitions/Spec"}}}
)";
  Status cycle = reg.LoadFiles({{"cycle.yaml", kCycle}, {"b.yaml", kGadgets}});
  // The error names the file where the cycle is written.
  EXPECT_THAT(cycle.message(), HasSubstr("cycle.yaml"));
  EXPECT_THAT(cycle.message(), HasSubstr("$ref cycle: Spec -> Spec"));

  Status dup = reg.LoadFiles({{"a.yaml", kDefinitions}, {"d.yaml", kDefinitions}});
  EXPECT_THAT(dup.message(), HasSubstr("d.yaml"));
  EXPECT_THAT(dup.message(), HasSubstr("also defined in a.yaml"));

  Status twice =
      reg.LoadFiles({{"a.yaml", kDefinitions}, {"b.yaml", kGadgets}, {"e.yaml", kGadgets}});
  EXPECT_THAT(twice.message(), HasSubstr("e.yaml"));
  EXPECT_THAT(twice.message(), HasSubstr("also defined in b.yaml"));

  Status syntax = reg.LoadFiles({{"bad.yaml", "a: [unclosed"}});
  EXPECT_THAT(syntax.message(), HasSubstr("bad.yaml"));

  Status other = reg.LoadFiles({{"x.yaml", "apiVersion: v1\nkind: ConfigMap\n"}});
  EXPECT_THAT(other.message(), HasSubstr("x.yaml"));
  EXPECT_THAT(other.message(), HasSubstr("\"ConfigMap\""));

  Json bad = Yaml(kCrd);
  bad["spec"]["scope"] = "Everywhere";
  Status invalid = reg.LoadFiles({{"w.yaml", bad.dump()}});
  EXPECT_THAT(invalid.message(), HasSubstr("w.yaml"));
  EXPECT_THAT(invalid.message(), HasSubstr("spec.scope: Unsupported value: \"Everywhere\""));
  EXPECT_TRUE(reg.All().empty());
}

// ---------------------------------------------------------------- the real built-in files

TEST(Builtins, LoadAndEverySchemaIsStructural) {
  if (BuiltinFiles().empty()) GTEST_SKIP() << "no files in src/api/builtin yet";
  ResourceRegistry reg;
  Status s = reg.LoadBuiltins();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(reg.All().empty());
  EXPECT_EQ(reg.Groups().front().group, "") << "the core group is served first";
  // A built-in kind must be something a real cluster would accept as a CRD, or kubectl
  // (which only ever sees it as a CRD-shaped schema) would disagree with the server.
  for (const ResourcePtr& r : reg.All()) {
    // Built-ins may describe top-level metadata in full (the server owns it and OpenAPI replaces
    // it by ObjectMeta); everything else must pass the rules a user CRD has to.
    Json schema = r->schema();
    if (schema.contains("properties")) schema["properties"].erase("metadata");
    for (const StatusCause& c : CheckStructural(schema, "openAPIV3Schema")) {
      ADD_FAILURE() << r->GroupResource() << "/" << r->version << ": " << c.field << ": "
                    << c.message;
    }
  }
}

}  // namespace
}  // namespace skiff::api

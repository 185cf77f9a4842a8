// Every upstream CRD in ../shared/reference/crds/ must describe a kind skiff serves, with the same
// names and scope, and skiff's own schema must know every field upstream declares (to a depth
// where upstream's lists are stable), so real manifests are never refused for a missing field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/resource.h"

namespace skiff::api {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReferenceCrds() {
  std::vector<std::string> files;
  const fs::path dir = fs::path(SKIFF_SHARED_DIR) / "reference" / "crds";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  // Without ../shared the test must fail and say why, not vanish.
  if (files.empty()) files.push_back((dir / "missing.yaml").string());
  return files;
}

// Collects property paths of `schema` up to `depth` levels (objects and array items).
void CollectPaths(const Json& schema, const std::string& prefix, int depth,
                  std::vector<std::string>* out) {
  if (depth == 0 || !schema.is_object()) return;
  if (schema.contains("items")) CollectPaths(schema["items"], prefix + "[]", depth, out);
  if (!schema.contains("properties") || !schema["properties"].is_object()) return;
  for (auto& [name, sub] : schema["properties"].items()) {
    std::string path = prefix.empty() ? name : prefix + "." + name;
    out->push_back(path);
    CollectPaths(sub, path, depth - 1, out);
  }
}

// True when `path` (from CollectPaths) exists in `schema`, or a parent of it is free-form.
bool Knows(const Json& schema, const std::string& path) {
  const Json* cur = &schema;
  size_t start = 0;
  while (start <= path.size()) {
    if (cur->value("x-kubernetes-preserve-unknown-fields", false)) return true;
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool array = part.size() > 2 && part.substr(part.size() - 2) == "[]";
    if (array) part = part.substr(0, part.size() - 2);
    if (!part.empty()) {
      if (cur->contains("properties") && (*cur)["properties"].contains(part)) {
        cur = &(*cur)["properties"][part];
      } else if (cur->contains("additionalProperties") &&
                 (*cur)["additionalProperties"].is_object()) {
        cur = &(*cur)["additionalProperties"];
      } else {
        return false;
      }
    }
    while (array && cur->contains("items")) {
      cur = &(*cur)["items"];
      array = false;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

TEST(SchemaCoverageTest, NoticesMissingFields) {
  Json ours = Json::parse(R"({"properties":{"spec":{"properties":{"a":{"type":"string"},
      "list":{"items":{"properties":{"x":{"type":"string"}}}},
      "free":{"x-kubernetes-preserve-unknown-fields":true}}}}})");
  EXPECT_TRUE(Knows(ours, "spec.a"));
  EXPECT_TRUE(Knows(ours, "spec.list[].x"));
  EXPECT_TRUE(Knows(ours, "spec.free.anything.below"));
  EXPECT_FALSE(Knows(ours, "spec.b"));
  EXPECT_FALSE(Knows(ours, "spec.list[].y"));
}

class ReferenceCrdTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    registry_ = new ResourceRegistry();
    ASSERT_TRUE(registry_->LoadBuiltins().ok());
  }
  static void TearDownTestSuite() { delete registry_; }
  static ResourceRegistry* registry_;
};
ResourceRegistry* ReferenceCrdTest::registry_ = nullptr;

TEST_P(ReferenceCrdTest, DescribesAServedKind) {
  std::ifstream in(GetParam());
  ASSERT_TRUE(in) << "cannot read " << GetParam() << " (is ../shared beside the repository?)";
  std::stringstream ss;
  ss << in.rdbuf();
  auto docs = ParseYamlDocuments(ss.str());
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  for (const Json& crd : *docs) {
    if (crd.value("kind", "") != "CustomResourceDefinition") continue;
    const Json& spec = crd["spec"];
    const std::string group = spec["group"];
    const std::string kind = spec["names"]["kind"];
    const std::string plural = spec["names"]["plural"];
    for (const Json& v : spec["versions"]) {
      if (!v.value("served", true)) continue;
      const std::string version = v["name"];
      auto res = registry_->Find(group, version, plural);
      ASSERT_TRUE(res) << group << "/" << version << " " << plural << " is not served";
      EXPECT_EQ(res->kind, kind);
      EXPECT_EQ(res->namespaced, spec.value("scope", "Namespaced") == "Namespaced") << kind;
      const Json* upstream = nullptr;
      if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) {
        upstream = &v["schema"]["openAPIV3Schema"];
      }
      if (upstream == nullptr) continue;  // Katib's upstream CRDs carry no schema
      std::vector<std::string> paths;
      CollectPaths(*upstream, "", 8, &paths);
      for (const std::string& p : paths) {
        if (p.rfind("metadata", 0) == 0) continue;
        EXPECT_TRUE(Knows(res->schema(), p))
            << kind << " " << version << ": skiff's schema lacks " << p;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Upstream, ReferenceCrdTest, ::testing::ValuesIn(ReferenceCrds()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = fs::path(info.param).stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace skiff::api

// Every real-world manifest skiff promises to accept (../shared/conformance/manifests/** and the
// seed's YAML) must pass its kind's built-in schema under fieldValidation=Strict, which is what
// `kubectl apply` asks for: no unknown field, no invalid value. One test per file, so a failure
// names the file and prints the server's causes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "api/resource.h"
#include "api/schema.h"

namespace skiff::api {
namespace {

namespace fs = std::filesystem;

// Manifests a real cluster rejects as well: skiff must reject them too, with a cause on exactly
// the field the user has to change (the seed's rule: work, or fail saying what to change).
struct ExpectedRejection {
  const char* file_suffix;
  const char* field;
  const char* why;
};
const std::vector<ExpectedRejection>& ExpectedRejections() {
  static const std::vector<ExpectedRejection> kList = {
      {"seed/12-secret-pvc.yaml", "data.google-cloud-key.json",
       "Secret `data` values must be base64; the article has a placeholder there (kube-apiserver "
       "answers \"illegal base64 data\"). Using stringData would accept it."},
  };
  return kList;
}

std::vector<std::string> ManifestFiles() {
  std::vector<std::string> files;
  fs::path shared(SKIFF_SHARED_DIR);
  std::error_code ec;
  if (fs::is_directory(shared / "conformance" / "manifests", ec)) {
    for (const auto& e : fs::recursive_directory_iterator(shared / "conformance" / "manifests")) {
      if (e.is_regular_file() &&
          (e.path().extension() == ".yaml" || e.path().extension() == ".yml")) {
        files.push_back(e.path().string());
      }
    }
  }
  if (fs::is_directory(shared / "seed", ec)) {
    for (const auto& e : fs::directory_iterator(shared / "seed")) {
      if (e.is_regular_file() && e.path().extension() == ".yaml")
        files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

const ResourceRegistry& Builtins() {
  static const ResourceRegistry* reg = [] {
    auto* r = new ResourceRegistry();
    Status s = r->LoadBuiltins();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }();
  return *reg;
}

class ManifestConformance : public ::testing::TestWithParam<std::string> {};

TEST_P(ManifestConformance, AcceptedUnchangedUnderStrictValidation) {
  const std::string& file = GetParam();
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const ExpectedRejection* expected = nullptr;
  for (const ExpectedRejection& e : ExpectedRejections()) {
    std::string suffix = e.file_suffix;
    if (file.size() >= suffix.size() &&
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) == 0) {
      expected = &e;
    }
  }
  bool rejected_as_expected = false;
  auto docs = ParseYamlDocuments(text.str());
  ASSERT_TRUE(docs.ok()) << file << ": " << docs.status().ToString();
  for (size_t i = 0; i < docs->size(); ++i) {
    Json object = (*docs)[i];
    if (!object.is_object() || !object.contains("kind")) continue;
    std::string api_version = object.value("apiVersion", "");
    std::string kind = object.value("kind", "");
    size_t slash = api_version.find('/');
    std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    std::string version = slash == std::string::npos ? api_version : api_version.substr(slash + 1);
    std::string group_kind = group.empty() ? kind : kind + "." + group;
    ResourcePtr res = Builtins().FindByKind(group, version, kind);
    if (res == nullptr) {
      ADD_FAILURE() << file << " document " << i << ": no built-in kind " << kind << " in "
                    << api_version;
      continue;
    }
    SchemaResult r = ApplySchema(res->schema(), object, UnknownFields::kStrict);
    std::string name = object.contains("metadata") ? object["metadata"].value("name", "") : "";
    for (const StatusCause& c : r.causes) {
      if (expected != nullptr && c.field == expected->field) {
        rejected_as_expected = true;
        continue;
      }
      ADD_FAILURE() << file << " document " << i << " (" << group_kind << " " << name
                    << "): " << c.field << ": " << c.message;
    }
  }
  if (expected != nullptr) {
    EXPECT_TRUE(rejected_as_expected)
        << file << " should be rejected at " << expected->field << ": " << expected->why;
  }
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  fs::path p(info.param);
  std::string name = p.parent_path().filename().string() + "_" + p.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name + "_" + std::to_string(info.index);
}

INSTANTIATE_TEST_SUITE_P(Manifests, ManifestConformance, ::testing::ValuesIn(ManifestFiles()),
                         TestName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ManifestConformance);

}  // namespace
}  // namespace skiff::api

// Every pipeline the real KFP compiler wrote (../shared/conformance/kfp) parses and validates, and
// every DAG in it (root and nested) has a topological order; the three invalid__* files are
// rejected with a message saying why. The directory is listed when the test binary starts, so a
// file added there is a new test case.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "common/file.h"
#include "gtest/gtest.h"
#include "pipelines/ir.h"

namespace skiff::pipelines {
namespace {

namespace fs = std::filesystem;

const std::string kDir = SKIFF_SHARED_DIR "/conformance/kfp";

std::vector<std::string> ConformanceFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kDir, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.ends_with(".yaml")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string Read(const std::string& name) {
  auto text = ReadFile(kDir + "/" + name);
  EXPECT_TRUE(text.ok()) << name;
  return text.ok() ? *text : "";
}

// gtest parameter names allow only [A-Za-z0-9_].
std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string out;
  for (char c : info.param.substr(0, info.param.size() - 5))
    out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

TEST(ConformanceDirTest, HoldsTheCompiledPipelines) {
  auto files = ConformanceFiles();
  EXPECT_GE(files.size(), 150u) << "conformance files not found under " << kDir;
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const std::string& f) { return f.starts_with("invalid__"); }),
            3);
}

class ValidConformanceTest : public ::testing::TestWithParam<std::string> {};

// Checks `dag` orders every task after everything it waits for (dependentTasks and producers).
void ExpectTopologicalOrder(const std::string& where, const Json& dag) {
  auto order = TopologicalOrder(dag);
  ASSERT_TRUE(order.ok()) << where << ": " << order.status().message();
  const Json& tasks = dag["tasks"];
  ASSERT_EQ(order->size(), tasks.size()) << where;
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < order->size(); ++i) position[(*order)[i]] = i;
  for (const auto& [name, task] : tasks.items()) {
    ASSERT_TRUE(position.contains(name)) << where << ": " << name << " missing from the order";
    std::set<std::string> upstream;
    for (const Json& d : task.value("dependentTasks", Json::array())) upstream.insert(d);
    Json inputs = task.value("inputs", Json::object());
    Json params = inputs.value("parameters", Json::object());
    Json artifacts = inputs.value("artifacts", Json::object());
    for (const auto& [k, p] : params.items()) {
      if (p.contains("taskOutputParameter"))
        upstream.insert(p["taskOutputParameter"]["producerTask"].get<std::string>());
      if (p.contains("taskFinalStatus"))
        upstream.insert(p["taskFinalStatus"]["producerTask"].get<std::string>());
    }
    for (const auto& [k, a] : artifacts.items())
      if (a.contains("taskOutputArtifact"))
        upstream.insert(a["taskOutputArtifact"]["producerTask"].get<std::string>());
    for (const std::string& u : upstream)
      EXPECT_LT(position[u], position[name]) << where << ": " << u << " must precede " << name;
  }
}

TEST_P(ValidConformanceTest, ParsesValidatesAndOrders) {
  const std::string text = Read(GetParam());
  auto doc = ParsePipelineFile(text);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_TRUE(IsIr(doc->spec));
  EXPECT_FALSE(doc->spec["pipelineInfo"]["name"].get<std::string>().empty());
  // The compiler writes the PlatformSpec as a second document only for kfp-kubernetes features.
  bool two_documents = text.find("\n---\n") != std::string::npos;
  EXPECT_EQ(!doc->platform_spec.is_null(), two_documents);
  if (two_documents) EXPECT_TRUE(doc->platform_spec["platforms"].is_object());
  EXPECT_TRUE(ValidateIr(doc->spec).ok());
  // ToIr takes compiled IR as it is.
  auto ir = ToIr(doc->spec, "ignored", nullptr);
  ASSERT_TRUE(ir.ok()) << ir.status().message();
  EXPECT_EQ(*ir, doc->spec);

  ExpectTopologicalOrder("root", doc->spec["root"]["dag"]);
  for (const auto& [name, component] : doc->spec["components"].items())
    if (component.contains("dag")) ExpectTopologicalOrder(name, component["dag"]);
}

std::vector<std::string> ValidFiles() {
  std::vector<std::string> out;
  for (const std::string& f : ConformanceFiles())
    if (!f.starts_with("invalid__")) out.push_back(f);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Kfp, ValidConformanceTest, ::testing::ValuesIn(ValidFiles()), TestName);

class InvalidConformanceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(InvalidConformanceTest, IsRejectedWithAClearMessage) {
  // What each file gets wrong, as the message must say it.
  static const std::map<std::string, std::vector<std::string>> kExpected = {
      {"invalid__empty_file.yaml", {"empty pipeline file"}},
      {"invalid__invalid_yaml.yaml",
       {"components_1: unknown field",
        "root.dag.tasks.echo.componentRef: component \"comp-echo\" is not defined"}},
      {"invalid__no_name.yaml", {"pipelineInfo.name: is required"}},
  };
  auto doc = ParsePipelineFile(Read(GetParam()));
  ASSERT_FALSE(doc.ok()) << GetParam() << " was accepted";
  EXPECT_TRUE(doc.status().code() == Code::kInvalid || doc.status().code() == Code::kBadRequest);
  auto it = kExpected.find(GetParam());
  ASSERT_NE(it, kExpected.end()) << "new invalid file; its message: " << doc.status().message();
  for (const std::string& part : it->second)
    EXPECT_NE(doc.status().message().find(part), std::string::npos)
        << "expected \"" << part << "\" in: " << doc.status().message();
}

std::vector<std::string> InvalidFiles() {
  std::vector<std::string> out;
  for (const std::string& f : ConformanceFiles())
    if (f.starts_with("invalid__")) out.push_back(f);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Kfp, InvalidConformanceTest, ::testing::ValuesIn(InvalidFiles()),
                         TestName);

}  // namespace
}  // namespace skiff::pipelines

// `skiff lineage`: the tree rendering, and the command against an in-process API server serving
// the lineage routes.
#include "cli/lineage_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apiserver/server.h"
#include "pipelines/lineage.h"
#include "pipelines/lineage_routes.h"

namespace skiff::cli {
namespace {

using pipelines::ArtifactRecord;
using pipelines::ExecutionRecord;
using pipelines::LineageStore;

ExecutionRecord Step(const std::string& task) {
  ExecutionRecord e;
  e.state = "COMPLETE";
  e.namespace_name = "default";
  e.pipeline = "mnist";
  e.run_name = "mnist-run-x7k";
  e.run_uid = "uid-x7k";
  e.task = task;
  e.image = "skiff/ml";
  e.start_ms = 1'795'900'000'000;  // 2026-11-28T21:06:40Z
  e.end_ms = e.start_ms + 3000;
  return e;
}

// prepare → train → evaluate, and a `report` task reading two artifacts made by one task.
void Record(LineageStore& store) {
  ArtifactRecord dataset{
      0, "dataset", "dataset", "system.Dataset", "file:///r/prepare/dataset", Json::object()};
  ArtifactRecord model{
      0, "model", "model", "system.Model", "file:///r/train/model", Json::object()};
  ExecutionRecord prepare = Step("prepare");
  prepare.command = {"skiff-ml", "prepare"};
  prepare.outputs = {dataset};
  ASSERT_TRUE(store.RecordExecution(prepare).ok());
  ExecutionRecord train = Step("train");
  train.command = {"skiff-ml", "train", "--epochs", "2"};
  train.input_parameters = {{"epochs", 2}, {"lr", 0.01}};
  train.inputs = {dataset};
  train.outputs = {model};
  ASSERT_TRUE(store.RecordExecution(train).ok());
  ExecutionRecord evaluate = Step("evaluate");
  evaluate.command = {"skiff-ml", "evaluate"};
  evaluate.inputs = {model, dataset};
  evaluate.outputs = {ArtifactRecord{0, "metrics", "metrics", "system.Metrics",
                                     "file:///r/evaluate/metrics", Json{{"accuracy", 0.91}}}};
  ASSERT_TRUE(store.RecordExecution(evaluate).ok());
}

TEST(LineageTreeTest, RendersTheProvenanceAsATree) {
  auto store = std::move(LineageStore::Open(":memory:").value());
  Record(*store);
  auto lineage = store->Lineage("file:///r/evaluate/metrics");
  ASSERT_TRUE(lineage.ok());
  const std::string t = "2026-11-28T21:06:43Z";
  // The evaluate task reads the dataset twice over (directly and through train): the second
  // mention names the producer without repeating it.
  EXPECT_EQ(RenderLineageTree(*lineage),
            "artifact file:///r/evaluate/metrics (system.Metrics)\n"
            "metadata: accuracy=0.91\n"
            "└─ produced by task evaluate (run mnist-run-x7k, pipeline mnist) COMPLETE " +
                t +
                "\n"
                "   image skiff/ml: skiff-ml evaluate\n"
                "   ├─ input model file:///r/train/model (system.Model)\n"
                "   │  └─ produced by task train (run mnist-run-x7k, pipeline mnist) COMPLETE " +
                t +
                "\n"
                "   │     image skiff/ml: skiff-ml train --epochs 2\n"
                "   │     parameters: epochs=2 lr=0.01\n"
                "   │     └─ input dataset file:///r/prepare/dataset (system.Dataset)\n"
                "   │        └─ produced by task prepare (run mnist-run-x7k, pipeline mnist) "
                "COMPLETE " +
                t +
                "\n"
                "   │           image skiff/ml: skiff-ml prepare\n"
                "   └─ input dataset file:///r/prepare/dataset (system.Dataset)\n"
                "      └─ produced by task prepare (run mnist-run-x7k, pipeline mnist) COMPLETE " +
                t + ", shown above\n");
}

TEST(LineageTreeTest, AnImportedArtifactHasNoProducer) {
  Json lineage = {{"artifact", {{"uri", "gs://bucket/data.csv"}, {"type", "system.Dataset"}}}};
  EXPECT_EQ(RenderLineageTree(lineage), "artifact gs://bucket/data.csv (system.Dataset)\n");
}

TEST(LineageTreeTest, ACachedExecutionNamesTheOriginal) {
  Json lineage = {{"artifact", {{"uri", "file:///m"}}},
                  {"producedBy",
                   {{"task", "train"},
                    {"execution", {{"state", "CACHED"}, {"cachedFrom", 7}}},
                    {"inputs", {{"parameters", {{"name", "two words"}}}}}}}};
  EXPECT_EQ(RenderLineageTree(lineage),
            "artifact file:///m\n"
            "└─ produced by task train CACHED (cached from execution 7)\n"
            "   parameters: name=\"two words\"\n");
}

class LineageCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "skiff-lineage-cli-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    store_ = std::move(LineageStore::Open(":memory:").value());
    Record(*store_);
    apiserver::ApiServerOptions o;
    o.data_dir = dir_ + "/home";
    o.port = 0;
    o.in_memory_store = true;
    o.threads = 2;
    auto server = apiserver::ApiServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    server_->handler()->AddRoute(pipelines::LineageRoutes(store_.get()));
    flags_.kubeconfig = dir_ + "/kubeconfig";
    std::ofstream(flags_.kubeconfig) << server_->Kubeconfig();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  int Run(const LineageOptions& o, std::string* out, std::string* err) {
    std::istringstream in;
    std::ostringstream o_out, o_err;
    int rc = RunLineage(flags_, o, Streams{in, o_out, o_err});
    *out = o_out.str();
    *err = o_err.str();
    return rc;
  }

  std::string dir_;
  std::unique_ptr<LineageStore> store_;
  std::unique_ptr<apiserver::ApiServer> server_;
  ConnectionFlags flags_;
};

TEST_F(LineageCommandTest, PrintsTheTreeFromTheServer) {
  std::string out, err;
  ASSERT_EQ(Run({"file:///r/train/model", ""}, &out, &err), 0) << err;
  EXPECT_EQ(out, RenderLineageTree(store_->Lineage("file:///r/train/model").value()));
  EXPECT_NE(out.find("produced by task train"), std::string::npos);
  EXPECT_NE(out.find("input dataset file:///r/prepare/dataset"), std::string::npos);
}

TEST_F(LineageCommandTest, JsonAndYamlAreTheApiAnswer) {
  std::string out, err;
  ASSERT_EQ(Run({"file:///r/evaluate/metrics", "json"}, &out, &err), 0) << err;
  EXPECT_EQ(ParseJson(out).value(), store_->Lineage("file:///r/evaluate/metrics").value());
  ASSERT_EQ(Run({"file:///r/evaluate/metrics", "yaml"}, &out, &err), 0) << err;
  EXPECT_EQ(ParseYaml(out).value()["artifact"]["metadata"]["accuracy"], 0.91);
}

TEST_F(LineageCommandTest, AnUnknownUriIsTheServersNotFound) {
  std::string out, err;
  EXPECT_EQ(Run({"file:///nope", ""}, &out, &err), 1);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("Error from server (NotFound)"), std::string::npos) << err;
  EXPECT_NE(err.find("file:///nope"), std::string::npos) << err;
}

}  // namespace
}  // namespace skiff::cli

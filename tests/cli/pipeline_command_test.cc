// `skiff pipeline upload|run`: parameter typing and the Pipeline object (pure), then both commands
// against an in-process API server: what the user sees and what is stored.
#include "cli/pipeline_command.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apiserver/server.h"
#include "client/http_client.h"
#include "client/kubeconfig.h"
#include "common/file.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;

const std::string kConformance = SKIFF_SHARED_DIR "/conformance/kfp/";

TEST(PipelineCommandTest, ObjectNames) {
  EXPECT_EQ(ObjectName("lucky-number-pipeline"), "lucky-number-pipeline");
  EXPECT_EQ(ObjectName("My Pipeline_v2!"), "my-pipeline-v2");
  EXPECT_EQ(ObjectName("--x--"), "x");
  EXPECT_EQ(ObjectName("   "), "");
}

TEST(PipelineCommandTest, ParameterValuesAreTypedByTheirDefinitions) {
  Json defs = Json::parse(R"({"n": {"parameterType": "NUMBER_INTEGER"},
                              "r": {"parameterType": "NUMBER_DOUBLE"},
                              "b": {"parameterType": "BOOLEAN"},
                              "l": {"parameterType": "LIST"},
                              "st": {"parameterType": "STRUCT"},
                              "s": {"parameterType": "STRING"}})");
  auto v = ParseParameterValues(
      {"n=3", "r=0.5", "b=true", "l=[1, \"a\"]", "st={\"k\": 1}", "s=3", "s=x=y"}, defs);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, Json::parse(R"({"n": 3, "r": 0.5, "b": true, "l": [1, "a"], "st": {"k": 1},
                                "s": "x=y"})"));

  auto unknown = ParseParameterValues({"m=1"}, defs);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("no input parameter \"m\" (it has: b, l, n, r, s, st)"),
            std::string::npos)
      << unknown.status().message();
  auto wrong = ParseParameterValues({"n=1.5"}, defs);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("\"n\" is NUMBER_INTEGER"), std::string::npos);
  EXPECT_FALSE(ParseParameterValues({"b=yes"}, defs).ok());
  EXPECT_FALSE(ParseParameterValues({"novalue"}, defs).ok());
  // Without definitions every value is a string.
  EXPECT_EQ(*ParseParameterValues({"n=3"}, nullptr), Json({{"n", "3"}}));
}

TEST(PipelineCommandTest, PlatformSpecGoesInsideThePipelineSpec) {
  auto doc = pipelines::ParsePipelineFile(
      *ReadFile(kConformance + "valid__critical__pipeline_with_secret_as_env.yaml"));
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  Json object = PipelineObject(*doc, "secret-env", "team-a");
  EXPECT_EQ(object["apiVersion"], "kubeflow.org/v2beta1");
  EXPECT_EQ(object["kind"], "Pipeline");
  EXPECT_EQ(object["metadata"], Json({{"name", "secret-env"}, {"namespace", "team-a"}}));
  EXPECT_EQ(object["spec"]["pipelineSpec"]["root"], doc->spec["root"]);
  EXPECT_EQ(object["spec"]["pipelineSpec"]["platforms"], doc->platform_spec["platforms"]);
  EXPECT_TRUE(
      object["spec"]["pipelineSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
          .contains("exec-comp"));
}

struct Result {
  int rc;
  std::string out;
  std::string err;
};

class PipelineCommandServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "skiff-pipeline-cli-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    apiserver::ApiServerOptions o;
    o.data_dir = dir_ + "/home";
    o.port = 0;
    o.in_memory_store = true;
    o.insecure_http = false;
    o.threads = 2;
    auto server = apiserver::ApiServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    flags_.kubeconfig = dir_ + "/kubeconfig";
    std::ofstream(flags_.kubeconfig) << server_->Kubeconfig();
    auto config = client::LoadKubeconfig(flags_.kubeconfig);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    client_ = client::NewHttpClient(*config);
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Result Upload(const std::string& file, const std::string& name = "",
                const std::string& stdin_text = "") {
    PipelineUploadOptions o;
    o.file = file;
    o.name = name;
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    int rc = RunPipelineUpload(flags_, o, Streams{in, out, err});
    return {rc, out.str(), err.str()};
  }

  Result Run(const PipelineRunOptions& o) {
    std::istringstream in;
    std::ostringstream out, err;
    int rc = RunPipelineRun(flags_, o, Streams{in, out, err});
    return {rc, out.str(), err.str()};
  }

  const client::Resource kPipelines{"kubeflow.org", "v2beta1", "pipelines"};
  const client::Resource kRuns{"kubeflow.org", "v2beta1", "pipelineruns"};
  std::string dir_;
  ConnectionFlags flags_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(PipelineCommandServerTest, UploadCreatesReplacesAndRejects) {
  const std::string file = kConformance + "valid__if_elif_else_complex.yaml";
  Result r = Upload(file);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "pipeline.kubeflow.org/lucky-number-pipeline created\n");
  auto stored = client_->Get(kPipelines, "default", "lucky-number-pipeline");
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  auto doc = pipelines::ParsePipelineFile(*ReadFile(file));
  // The IR is kept as written (the CRD preserves it).
  EXPECT_EQ((*stored)["spec"]["pipelineSpec"], doc->spec);

  r = Upload(file);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "pipeline.kubeflow.org/lucky-number-pipeline unchanged\n");

  // Same name, other pipeline (from stdin, with its platform document): the spec is replaced.
  r = Upload("-", "lucky-number-pipeline",
             *ReadFile(kConformance + "valid__critical__pipeline_with_secret_as_env.yaml"));
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "pipeline.kubeflow.org/lucky-number-pipeline configured\n");
  stored = client_->Get(kPipelines, "default", "lucky-number-pipeline");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)["spec"]["pipelineSpec"]["pipelineInfo"]["name"], "pipeline-secret-env");
  EXPECT_TRUE((*stored)["spec"]["pipelineSpec"]["platforms"]["kubernetes"].is_object());

  r = Upload(kConformance + "invalid__no_name.yaml");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("error: " + kConformance +
                       "invalid__no_name.yaml: invalid pipeline spec: pipelineInfo.name: is "
                       "required"),
            std::string::npos)
      << r.err;
  r = Upload(dir_ + "/missing.yaml");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("error: reading " + dir_ + "/missing.yaml"), std::string::npos) << r.err;
}

TEST_F(PipelineCommandServerTest, RunCreatesAPipelineRunWithTypedParameters) {
  ASSERT_EQ(Upload(kConformance + "valid__if_elif_else_complex.yaml", "lucky").rc, 0);
  PipelineRunOptions o;
  o.pipeline = "lucky";
  o.parameters = {"trials=[1, 2, 3]", "add_drumroll=false"};
  o.run_name = "lucky-1";
  o.disable_cache = true;
  Result r = Run(o);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "pipelinerun.kubeflow.org/lucky-1 created\n");
  auto run = client_->Get(kRuns, "default", "lucky-1");
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ((*run)["spec"]["pipelineRef"]["name"], "lucky");
  EXPECT_EQ((*run)["spec"]["parameters"], Json::parse(R"({"trials": [1, 2, 3],
                                                          "add_drumroll": false})"));
  EXPECT_EQ((*run)["spec"]["cachingOptions"]["disabled"], true);

  // Without --name the server names the run after the pipeline.
  o.run_name.clear();
  o.disable_cache = false;
  r = Run(o);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("pipelinerun.kubeflow.org/lucky-", 0), 0u) << r.out;

  o.parameters = {"trials=3"};
  r = Run(o);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "error: parameter \"trials\" is LIST; \"3\" is not one\n");

  o.pipeline = "nope";
  r = Run(o);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("Error from server (NotFound)"), std::string::npos) << r.err;
}

// A Pipeline in the seed's format: parameters are typed through its Components on the server.
TEST_F(PipelineCommandServerTest, RunTypesSeedPipelineParameters) {
  auto text = ReadFile(SKIFF_SHARED_DIR "/seed/01-pipeline-mnist.yaml");
  ASSERT_TRUE(text.ok());
  auto pipeline = ParseYaml(*text);
  ASSERT_TRUE(pipeline.ok());
  ASSERT_TRUE(client_->Create(kPipelines, "default", *pipeline).ok());
  const client::Resource components{"kubeflow.org", "v2beta1", "components"};
  for (const char* name : {"data-preprocessor", "model-trainer", "model-evaluator"}) {
    Json c = {{"apiVersion", "kubeflow.org/v2beta1"},
              {"kind", "Component"},
              {"metadata", {{"name", name}}},
              {"spec", {{"image", "skiff/ml"}, {"command", {"skiff-ml", name}}}}};
    ASSERT_TRUE(client_->Create(components, "default", c).ok()) << name;
  }
  PipelineRunOptions o;
  o.pipeline = "mnist-training-pipeline";
  o.parameters = {"learning-rate=0.1", "batch-size=64"};
  o.run_name = "mnist-1";
  Result r = Run(o);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto run = client_->Get(kRuns, "default", "mnist-1");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ((*run)["spec"]["parameters"], Json::parse(R"({"learning-rate": 0.1,
                                                          "batch-size": 64})"));
}

}  // namespace
}  // namespace skiff::cli

// Broken compiled pipelines are refused when applied, with the problems named.
#include "pipelines/admission.h"

#include <gtest/gtest.h>

#include "../client/test_util.h"
#include "engine_fixture.h"
#include "pipelines/engine.h"

namespace skiff::testing {
namespace {

Json Object(const std::string& kind, const std::string& name, const Json& spec) {
  return Json{{"apiVersion", "kubeflow.org/v2beta1"},
              {"kind", kind},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", spec}};
}

class PipelineAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override { pipelines::InstallPipelineAdmission(env_.api.get()); }
  InProcessEnv env_;
};

TEST_F(PipelineAdmissionTest, BrokenIrIsRefusedNamingTheProblem) {
  Json ir = BuildPipeline("p", {{"a", "true"}});
  ir["root"]["dag"]["tasks"]["a"]["componentRef"]["name"] = "comp-missing";
  auto created = env_.client->Create(pipelines::kPipelines, "default",
                                     Object("Pipeline", "broken", {{"pipelineSpec", ir}}));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kInvalid);
  EXPECT_NE(created.status().message().find("Pipeline.kubeflow.org \"broken\" is invalid: "
                                            "spec.pipelineSpec"),
            std::string::npos)
      << created.status().message();
  EXPECT_NE(created.status().message().find("comp-missing"), std::string::npos)
      << created.status().message();
  // The same for a run that embeds it; nothing is stored.
  auto run = env_.client->Create(pipelines::kPipelineRuns, "default",
                                 Object("PipelineRun", "r", {{"pipelineSpec", ir}}));
  EXPECT_EQ(run.status().code(), Code::kInvalid);
  EXPECT_FALSE(env_.client->Get(pipelines::kPipelineRuns, "default", "r").ok());
}

TEST_F(PipelineAdmissionTest, ValidIrAndSeedFormatAreAccepted) {
  Json ir = BuildPipeline("p", {{"a", "true"}});
  EXPECT_TRUE(env_.client
                  ->Create(pipelines::kPipelines, "default",
                           Object("Pipeline", "good", {{"pipelineSpec", ir}}))
                  .ok());
  // The seed's format may name Components applied later: checked when a run starts.
  Json seed =
      Json::parse(R"({"tasks": [{"name": "t", "taskSpec": {"componentRef": {"name": "later"}}}]})");
  EXPECT_TRUE(env_.client
                  ->Create(pipelines::kPipelines, "default",
                           Object("Pipeline", "seed", {{"pipelineSpec", seed}}))
                  .ok());
}

}  // namespace
}  // namespace skiff::testing

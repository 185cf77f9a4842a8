// A predictor whose storageUri is a Model Registry URI: planned through the registry, its
// revision follows the alias (a promote is a new revision) and an unknown alias is a clear failure.
#include <gtest/gtest.h>

#include <filesystem>

#include "../client/test_util.h"
#include "inference/builtin_runtimes.h"
#include "inference/component.h"
#include "registry/registry.h"

namespace skiff::inference {
namespace {

namespace fs = std::filesystem;
using registry::Kind;

class RegistryModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"v1", "v2"}) fs::create_directories(home_.File(std::string("m/") + v));
    auto model = reg_.Create(Kind::kRegisteredModel, {{"name", "mnist"}});
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    for (const char* v : {"v1", "v2"}) {
      auto version = reg_.Create(Kind::kModelVersion, {{"name", v}}, (*model)["id"]);
      ASSERT_TRUE(version.ok()) << version.status().ToString();
      bool created = false;
      auto a = reg_.UpsertVersionArtifact(
          (*version)["id"], {{"uri", "file://" + home_.File(std::string("m/") + v)}}, &created);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
    }
    ctx_.data_dir = home_.path();
    ctx_.cluster = {{kTorchScriptRuntime, true, TorchScriptRuntime()["spec"], ""}};
    ctx_.client = env_.client.get();
  }

  ComponentPlan Plan(const std::string& uri) {
    const Json isvc = {
        {"apiVersion", "serving.kserve.io/v1beta1"},
        {"kind", "InferenceService"},
        {"metadata", {{"name", "mnist"}, {"namespace", "default"}}},
        {"spec",
         {{"predictor",
           {{"model", {{"modelFormat", {{"name", "pytorch"}}}, {"storageUri", uri}}}}}}}};
    return PlanComponent(isvc, "predictor", ctx_);
  }

  skiff::testing::InProcessEnv env_;
  skiff::testing::TempDir home_;
  registry::Registry reg_{env_.client.get(), "default", "tester"};
  PlanContext ctx_;
};

TEST_F(RegistryModelTest, PromoteMakesANewRevisionOfTheOtherVersion) {
  ASSERT_TRUE(reg_.Promote("mnist", "v1", "production").ok());
  const ComponentPlan v1 = Plan("models:/mnist@production");
  ASSERT_TRUE(v1.ok) << v1.reason << ": " << v1.message;
  EXPECT_EQ(v1.model, "mnist");
  EXPECT_EQ(v1.model_version, "v1");
  EXPECT_EQ(v1.resolved_uri, "file://" + home_.File("m/v1"));
  EXPECT_NE(v1.pod_template.dump().find(home_.File("m/v1")), std::string::npos);
  // Resolving again without a change is the same revision.
  EXPECT_EQ(Plan("models:/mnist@production").hash, v1.hash);

  ASSERT_TRUE(reg_.Promote("mnist", "v2", "production").ok());
  const ComponentPlan v2 = Plan("models:/mnist@production");
  ASSERT_TRUE(v2.ok) << v2.reason << ": " << v2.message;
  EXPECT_EQ(v2.model_version, "v2");
  EXPECT_NE(v2.hash, v1.hash);
  EXPECT_NE(v2.pod_template.dump().find(home_.File("m/v2")), std::string::npos);
}

TEST_F(RegistryModelTest, UnknownAliasOrVersionFailsNamingIt) {
  const ComponentPlan alias = Plan("models:/mnist@canary");
  EXPECT_FALSE(alias.ok);
  EXPECT_EQ(alias.reason, "StorageUriNotFound");
  EXPECT_NE(alias.message.find("no alias \"canary\""), std::string::npos) << alias.message;
  EXPECT_NE(alias.message.find("kubectl kubeflow model promote"), std::string::npos);

  const ComponentPlan version = Plan("model-registry://mnist/v9");
  EXPECT_FALSE(version.ok);
  EXPECT_EQ(version.reason, "StorageUriNotFound");
  EXPECT_NE(version.message.find("v9"), std::string::npos) << version.message;

  const ComponentPlan model = Plan("models:/nope@production");
  EXPECT_FALSE(model.ok);
  EXPECT_NE(model.message.find("\"nope\""), std::string::npos) << model.message;
}

TEST_F(RegistryModelTest, WithoutAClientRegistryUrisAreNotSupported) {
  ctx_.client = nullptr;
  const ComponentPlan plan = Plan("model-registry://mnist/v1");
  EXPECT_FALSE(plan.ok);
  EXPECT_EQ(plan.reason, "StorageUriNotSupported");
}

}  // namespace
}  // namespace skiff::inference

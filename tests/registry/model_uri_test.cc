// models:/ and model-registry:// storageUris: resolved through the registry to the version's
// artifact, then to local files; moving an alias moves what an InferenceService would serve.
#include "registry/model_uri.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../client/test_util.h"
#include "inference/storage.h"
#include "registry/registry.h"

namespace skiff::registry {
namespace {

namespace fs = std::filesystem;

class ModelUriTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(home_.File("buckets/models/mnist/v1"));
    fs::create_directories(home_.File("buckets/models/mnist/v2"));
    const std::string model = reg_.Create(Kind::kRegisteredModel, {{"name", "mnist"}})->at("id");
    for (const char* v : {"v1", "v2"}) {
      auto version = reg_.Create(Kind::kModelVersion, {{"name", v}}, model);
      ASSERT_TRUE(version.ok()) << version.status().ToString();
      bool created = false;
      auto a = reg_.UpsertVersionArtifact(
          (*version)["id"], {{"uri", std::string("gs://models/mnist/") + v}}, &created);
      ASSERT_TRUE(a.ok()) << a.status().ToString();
    }
  }

  StatusOr<ResolvedModel> Resolve(const std::string& uri) {
    return ResolveModelUri(env_.client.get(), "default", uri);
  }

  skiff::testing::InProcessEnv env_;
  skiff::testing::TempDir home_;
  Registry reg_{env_.client.get(), "default", "tester"};
};

TEST_F(ModelUriTest, ResolvesVersionsLatestAndAliases) {
  auto v1 = Resolve("model-registry://mnist/v1");
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->artifact_uri, "gs://models/mnist/v1");
  EXPECT_EQ(v1->version, "v1");
  EXPECT_FALSE(v1->version_id.empty());
  EXPECT_EQ(Resolve("models:/mnist/v2")->artifact_uri, "gs://models/mnist/v2");
  EXPECT_EQ(Resolve("models:/mnist/latest")->version, "v2");
  EXPECT_EQ(Resolve("model-registry://mnist")->version, "v2");

  auto no_alias = Resolve("models:/mnist@production");
  EXPECT_EQ(no_alias.status().code(), Code::kNotFound);
  EXPECT_NE(no_alias.status().message().find("promote"), std::string::npos);

  ASSERT_TRUE(reg_.Promote("mnist", "v1", "production").ok());
  auto prod = Resolve("models:/mnist@production");
  ASSERT_TRUE(prod.ok()) << prod.status().ToString();
  EXPECT_EQ(prod->version, "v1");
  EXPECT_EQ(prod->alias, "production");

  // Moving the alias moves what follows it.
  ASSERT_TRUE(reg_.Promote("mnist", "v2", "production").ok());
  EXPECT_EQ(Resolve("models:/mnist@production")->artifact_uri, "gs://models/mnist/v2");
  EXPECT_EQ(ModelOfUri("models:/mnist@production"), "mnist");
  EXPECT_EQ(ModelOfUri("gs://x/y"), "");
}

TEST_F(ModelUriTest, PromoteKeepsOneVersionPerAliasAndItsHistory) {
  ASSERT_TRUE(reg_.Promote("mnist", "v1", "production").ok());
  ASSERT_TRUE(reg_.Promote("mnist", "v2", "staging").ok());
  auto m = reg_.Promote("mnist", "v2", "production");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ((*m)["spec"]["aliases"], Json({{"production", "v2"}, {"staging", "v2"}}));
  const Json history = (*m)["status"]["aliasHistory"];
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[2]["alias"], "production");
  EXPECT_EQ(history[2]["version"], "v2");
  EXPECT_EQ(history[2]["previousVersion"], "v1");
  EXPECT_EQ(history[2]["user"], "tester");
  // Each version lists the aliases it holds.
  EXPECT_EQ((*reg_.VersionObject("mnist", "v1"))["status"]["aliases"], Json::array());
  EXPECT_EQ((*reg_.VersionObject("mnist", "v2"))["status"]["aliases"],
            Json::array({"production", "staging"}));

  auto unknown = reg_.Promote("mnist", "v7", "production");
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("v1, v2"), std::string::npos)
      << unknown.status().message();
  EXPECT_EQ(reg_.Promote("nope", "v1", "production").status().code(), Code::kNotFound);
  EXPECT_EQ(reg_.Promote("mnist", "v1", "latest").status().code(), Code::kBadRequest);
}

TEST_F(ModelUriTest, ArchivedVersionsTakeNoAliasAndAreNotServed) {
  ASSERT_TRUE(reg_.Promote("mnist", "v2", "production").ok());
  // Archiving the version production points at is refused: services follow it.
  auto refused = reg_.Archive("mnist", "v2");
  EXPECT_EQ(refused.status().code(), Code::kBadRequest);
  EXPECT_NE(refused.status().message().find("production"), std::string::npos);

  ASSERT_TRUE(reg_.Archive("mnist", "v1").ok());
  auto promote = reg_.Promote("mnist", "v1", "production");
  EXPECT_EQ(promote.status().code(), Code::kBadRequest);
  EXPECT_NE(promote.status().message().find("ARCHIVED"), std::string::npos);
  EXPECT_EQ(StringAt(*reg_.ModelObject("mnist"), "spec.aliases.production"), "v2");

  auto archived = Resolve("models:/mnist/v1");
  EXPECT_EQ(archived.status().code(), Code::kInvalid);
  EXPECT_NE(archived.status().message().find("ARCHIVED"), std::string::npos);
  // latest skips archived versions.
  ASSERT_TRUE(reg_.Promote("mnist", "v1", "production").status().code() == Code::kBadRequest);
  EXPECT_EQ(Resolve("models:/mnist/latest")->version, "v2");
}

TEST_F(ModelUriTest, StorageResolutionFollowsTheRegistry) {
  ASSERT_TRUE(reg_.Promote("mnist", "v1", "production").ok());
  auto loc = inference::ResolveStorageUri("models:/mnist@production", "default", home_.path(),
                                          env_.client.get());
  ASSERT_TRUE(loc.ok) << loc.message;
  EXPECT_EQ(loc.host_path, home_.File("buckets/models/mnist/v1"));
  EXPECT_EQ(loc.resolved_uri, "gs://models/mnist/v1");
  EXPECT_EQ(loc.model_version, "v1");

  ASSERT_TRUE(reg_.Promote("mnist", "v2", "production").ok());
  loc = inference::ResolveStorageUri("models:/mnist@production", "default", home_.path(),
                                     env_.client.get());
  EXPECT_EQ(loc.host_path, home_.File("buckets/models/mnist/v2"));

  fs::remove_all(home_.File("buckets/models/mnist/v2"));
  loc = inference::ResolveStorageUri("model-registry://mnist/v2", "default", home_.path(),
                                     env_.client.get());
  EXPECT_FALSE(loc.ok);
  EXPECT_EQ(loc.reason, "StorageUriNotFound");
  EXPECT_NE(loc.message.find("version v2 of model mnist"), std::string::npos) << loc.message;

  loc = inference::ResolveStorageUri("models:/ghost@production", "default", home_.path(),
                                     env_.client.get());
  EXPECT_EQ(loc.reason, "StorageUriNotFound");
  loc = inference::ResolveStorageUri("models:/mnist", "default", home_.path(), env_.client.get());
  EXPECT_EQ(loc.reason, "InvalidStorageUri");
  // Other schemes ignore the client.
  EXPECT_TRUE(inference::ResolveStorageUri("gs://models/mnist/v1", "default", home_.path(),
                                           env_.client.get())
                  .ok);
}

}  // namespace
}  // namespace skiff::registry

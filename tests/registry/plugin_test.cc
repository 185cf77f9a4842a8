// kubectl-kubeflow run in-process against a real API server over HTTPS: the seed's commands,
// and the bad inputs (missing path, unknown version, archived target) failing with nothing written.
#include "plugin/plugin.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "client/inprocess_client.h"
#include "registry/registry.h"
#include "registry_test_util.h"

namespace skiff::plugin {
namespace {

namespace fs = std::filesystem;
using registry::Kind;

class PluginTest : public registry::RegistryServerTest {
 protected:
  struct Result {
    int rc;
    std::string out, err;
  };

  Result Kubeflow(std::vector<std::string> args) {
    args.push_back("--kubeconfig=" + kubeconfig_);
    args.push_back("--data-dir=" + dir_.File("home"));
    std::istringstream in;
    std::ostringstream out, err;
    int rc = RunPlugin(args, {in, out, err});
    return {rc, out.str(), err.str()};
  }

  size_t Count(Kind kind) {
    auto k8s = client::NewInProcessClient(server_->api(), {"test", {"system:masters"}});
    auto list = k8s->List(registry::ResourceOf(kind), "default", {});
    EXPECT_TRUE(list.ok());
    return list.ok() ? (*list)["items"].size() : 0;
  }
};

TEST_F(PluginTest, SeedCommandsRegisterAndPromote) {
  fs::create_directories(dir_.File("home/buckets/my-bucket/models/mnist-v1.0.0"));
  Result r = Kubeflow({"model", "register", "--name", "mnist-model", "--version", "v1.0.0",
                       "--description", "Initial MNIST classifier", "--path",
                       "gs://my-bucket/models/mnist-v1.0.0"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("model mnist-model version v1.0.0 registered"), std::string::npos) << r.out;

  r = Kubeflow({"model", "promote", "--name", "mnist-model", "--version", "v1.0.0", "--target",
                "production"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "model mnist-model version v1.0.0 promoted to production\n");

  r = Kubeflow({"model", "list"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("mnist-model"), std::string::npos);
  EXPECT_NE(r.out.find("production=v1.0.0"), std::string::npos) << r.out;
  r = Kubeflow({"model", "list", "--name", "mnist-model"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("gs://my-bucket/models/mnist-v1.0.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("production"), std::string::npos) << r.out;

  r = Kubeflow({"model", "get", "--name", "mnist-model", "--version", "v1.0.0", "-o", "json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto v = ParseJson(r.out);
  ASSERT_TRUE(v.ok()) << r.out;
  EXPECT_EQ((*v)["description"], "Initial MNIST classifier");
  EXPECT_EQ((*v)["uri"], "gs://my-bucket/models/mnist-v1.0.0");
  EXPECT_EQ((*v)["aliases"], Json::array({"production"}));

  // A second version, promoted over the first: history kept.
  fs::create_directories(dir_.File("home/buckets/my-bucket/models/mnist-v1.1.0"));
  ASSERT_EQ(Kubeflow({"model", "register", "--name", "mnist-model", "--version", "v1.1.0", "--path",
                      "gs://my-bucket/models/mnist-v1.1.0"})
                .rc,
            0);
  r = Kubeflow(
      {"model", "promote", "--name=mnist-model", "--version=v1.1.0", "--target=production"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("(was v1.0.0)"), std::string::npos) << r.out;
  r = Kubeflow({"model", "get", "--name", "mnist-model", "-o", "json"});
  auto m = ParseJson(r.out);
  ASSERT_TRUE(m.ok()) << r.out;
  EXPECT_EQ((*m)["aliases"]["production"], "v1.1.0");
  EXPECT_EQ((*m)["aliasHistory"].size(), 2u);
  EXPECT_EQ((*m)["versions"], Json::array({"v1.0.0", "v1.1.0"}));
}

TEST_F(PluginTest, BadInputFailsClearlyAndWritesNothing) {
  Result r = Kubeflow({"model", "register", "--name", "ghost", "--version", "v1", "--path",
                       "gs://my-bucket/models/none"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(Count(Kind::kRegisteredModel), 0u);
  EXPECT_EQ(Count(Kind::kModelVersion), 0u);
  r = Kubeflow({"model", "register", "--name", "ghost", "--version", "v1", "--path",
                dir_.File("no/such/dir")});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(Count(Kind::kRegisteredModel), 0u);

  fs::create_directories(dir_.File("model"));
  ASSERT_EQ(Kubeflow({"model", "register", "--name", "m", "--version", "v1", "--path",
                      dir_.File("model")})
                .rc,
            0);
  // The same version again: refused, nothing more written.
  r = Kubeflow(
      {"model", "register", "--name", "m", "--version", "v1", "--path", dir_.File("model")});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("already has a version v1"), std::string::npos) << r.err;
  EXPECT_EQ(Count(Kind::kModelVersion), 1u);
  EXPECT_EQ(Count(Kind::kModelArtifact), 1u);

  r = Kubeflow({"model", "promote", "--name", "m", "--version", "v9", "--target", "production"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("has no version \"v9\""), std::string::npos) << r.err;

  ASSERT_EQ(Kubeflow({"model", "archive", "--name", "m", "--version", "v1"}).rc, 0);
  r = Kubeflow({"model", "promote", "--name", "m", "--version", "v1", "--target", "production"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("archived version"), std::string::npos) << r.err;

  EXPECT_EQ(Kubeflow({"model", "register", "--name", "m"}).rc, 2);
  EXPECT_EQ(Kubeflow({"model", "frobnicate"}).rc, 2);
  EXPECT_EQ(Kubeflow({"model", "list", "--bogus"}).rc, 2);
}

TEST_F(PluginTest, RunsAndPipelinesListWhatIsThere) {
  Result r = Kubeflow({"runs"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("No resources found"), std::string::npos);
  auto k8s = client::NewInProcessClient(server_->api(), {"test", {"system:masters"}});
  auto p = k8s->Create({"kubeflow.org", "v2beta1", "pipelines"}, "default",
                       ParseYaml(R"(apiVersion: kubeflow.org/v2beta1
kind: Pipeline
metadata: {name: hello}
spec:
  description: says hello
  tasks:
  - name: say
    taskSpec:
      componentRef: {name: echo}
)")
                           .value());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  r = Kubeflow({"pipelines"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("NAME"), std::string::npos);
  EXPECT_NE(r.out.find("hello"), std::string::npos);
  EXPECT_NE(r.out.find("says hello"), std::string::npos) << r.out;
  r = Kubeflow({"logs", "no-such-run"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace skiff::plugin

// Kubeconfig resolution as kubectl does it: contexts, relative file paths, base64 data fields,
// $KUBECONFIG, and errors that name the file.
#include "client/kubeconfig.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "test_util.h"

namespace skiff::client {
namespace {

using skiff::testing::TempDir;

constexpr char kConfig[] = R"(apiVersion: v1
kind: Config
current-context: main
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
- name: other
  cluster:
    server: https://10.0.0.1:443
    certificate-authority: ca.pem
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: abc123
- name: filed
  user:
    tokenFile: token.txt
    client-certificate: client.crt
    client-key-data: S0VZ
contexts:
- name: main
  context: {cluster: local, user: admin}
- name: second
  context: {cluster: other, user: filed, namespace: team-a}
- name: broken
  context: {cluster: missing, user: admin}
)";

void Write(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

TEST(KubeconfigTest, ResolvesTheCurrentContext) {
  TempDir dir;
  Write(dir.File("config"), kConfig);
  auto c = LoadKubeconfig(dir.File("config"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->context_name, "main");
  EXPECT_EQ(c->server, "https://127.0.0.1:6443");
  EXPECT_EQ(c->ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(c->token, "abc123");
  EXPECT_EQ(c->namespace_, "default");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
}

TEST(KubeconfigTest, ReadsFilesRelativeToTheKubeconfig) {
  TempDir dir;
  Write(dir.File("config"), kConfig);
  Write(dir.File("ca.pem"), "CA PEM");
  Write(dir.File("token.txt"), "from-file\n");
  Write(dir.File("client.crt"), "CERT PEM");
  auto c = LoadKubeconfig(dir.File("config"), "second");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://10.0.0.1:443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->token, "from-file");
  EXPECT_EQ(c->client_cert_pem, "CERT PEM");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_EQ(c->namespace_, "team-a");
}

TEST(KubeconfigTest, ErrorsNameTheFileAndWhatIsMissing) {
  TempDir dir;
  Write(dir.File("config"), kConfig);
  auto broken = LoadKubeconfig(dir.File("config"), "broken");
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find(dir.File("config")), std::string::npos);
  EXPECT_NE(broken.status().message().find("cluster \"missing\""), std::string::npos);

  auto no_ctx = LoadKubeconfig(dir.File("config"), "nope");
  ASSERT_FALSE(no_ctx.ok());
  EXPECT_NE(no_ctx.status().message().find("context \"nope\" not found"), std::string::npos);

  auto absent = LoadKubeconfig(dir.File("absent"));
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find(dir.File("absent")), std::string::npos);

  // "second" needs token.txt, which does not exist here.
  auto missing_file = LoadKubeconfig(dir.File("config"), "second");
  ASSERT_FALSE(missing_file.ok());
  EXPECT_NE(missing_file.status().message().find("ca.pem"), std::string::npos);
}

TEST(KubeconfigTest, UsesTheFirstExistingFileOfKUBECONFIG) {
  TempDir dir;
  Write(dir.File("config"), kConfig);
  const char* old = getenv("KUBECONFIG");
  std::string saved = old ? old : "";
  setenv("KUBECONFIG", (dir.File("missing") + ":" + dir.File("config")).c_str(), 1);
  auto c = LoadKubeconfig();
  if (old) {
    setenv("KUBECONFIG", saved.c_str(), 1);
  } else {
    unsetenv("KUBECONFIG");
  }
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->token, "abc123");
}

}  // namespace
}  // namespace skiff::client

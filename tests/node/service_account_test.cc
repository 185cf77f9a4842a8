// In-cluster credentials: Pods get a service-account token, the CA and KUBERNETES_SERVICE_* from
// the node agent, so the real kubectl inside a Pod talks to the real HTTPS API server.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "../client/test_util.h"
#include "apiserver/server.h"
#include "client/inprocess_client.h"
#include "controllers/manager.h"
#include "http/client.h"
#include "node/agent.h"
#include "node/pod_config.h"
#include "runtime/runtime.h"

namespace skiff::node {
namespace {

using skiff::testing::Eventually;
using skiff::testing::TempDir;
using std::chrono::milliseconds;

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kServiceAccounts{"", "v1", "serviceaccounts"};
constexpr const char* kNode = "test-node";

Json ShPod(const std::string& name, const std::string& script) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"nodeName", kNode},
                {"restartPolicy", "Never"},
                {"terminationGracePeriodSeconds", 5},
                {"containers",
                 // HOME in the Pod's private /tmp: no kubeconfig of the host's can be found there.
                 Json::array({{{"name", "main"},
                               {"image", "alpine"},
                               {"env", Json::array({{{"name", "HOME"}, {"value", "/tmp"}}})},
                               {"command", Json::array({"sh", "-c", script})}}})}}}};
}

TEST(ServiceAccountConfigTest, ThePodsChoiceWinsOverItsServiceAccounts) {
  Json pod = {{"spec", Json::object()}};
  EXPECT_EQ(ServiceAccountOf(pod), "default");
  pod["spec"]["serviceAccount"] = "legacy";
  EXPECT_EQ(ServiceAccountOf(pod), "legacy");
  pod["spec"]["serviceAccountName"] = "runner";
  EXPECT_EQ(ServiceAccountOf(pod), "runner");

  const Json off = {{"automountServiceAccountToken", false}};
  const Json unsaid = Json::object();
  EXPECT_TRUE(AutomountsServiceAccountToken(pod, nullptr));
  EXPECT_TRUE(AutomountsServiceAccountToken(pod, &unsaid));
  EXPECT_FALSE(AutomountsServiceAccountToken(pod, &off));
  pod["spec"]["automountServiceAccountToken"] = true;
  EXPECT_TRUE(AutomountsServiceAccountToken(pod, &off));
  pod["spec"]["automountServiceAccountToken"] = false;
  EXPECT_FALSE(AutomountsServiceAccountToken(pod, nullptr));
}

TEST(ServiceAccountConfigTest, TheServiceVariablesNameTheApiServer) {
  auto env = KubernetesServiceEnv("127.0.0.1", 6443);
  for (const char* want :
       {"KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=6443",
        "KUBERNETES_SERVICE_PORT_HTTPS=6443", "KUBERNETES_PORT=tcp://127.0.0.1:6443",
        "KUBERNETES_PORT_6443_TCP=tcp://127.0.0.1:6443",
        "KUBERNETES_PORT_6443_TCP_ADDR=127.0.0.1"}) {
    EXPECT_NE(std::find(env.begin(), env.end(), want), env.end()) << want;
  }
}

class ServiceAccountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::ApiServerOptions so;
    so.data_dir = dir_.File("home");
    so.port = 0;
    so.in_memory_store = true;
    so.threads = 2;
    auto server = apiserver::ApiServer::Start(so);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    client_ = client::NewInProcessClient(server_->api(), {"system:test", {"system:masters"}});

    runtime::RuntimeOptions ro;
    ro.shim_path = SKIFF_SHIM;
    if (plain_) ro.sandbox = "none";
    auto rt = runtime::NewLocalRuntime(ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = std::move(*rt);
    mgr_ = std::make_unique<controllers::Manager>(client_.get());
    AgentOptions o;
    o.node_name = kNode;
    o.data_dir = so.data_dir;
    o.bin_dir = std::filesystem::path(SKIFF_SHIM).parent_path();
    o.register_node = false;
    o.service_account_token = [s = server_.get()](const std::string& ns, const std::string& sa) {
      return s->ServiceAccountToken(ns, sa);
    };
    o.api_ca_pem = server_->ca_pem();
    o.api_port = server_->port();
    auto agent = NodeAgent::Create(*mgr_, client_.get(), rt_.get(), o);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
    mgr_->Start();
  }

  void TearDown() override {
    if (agent_) agent_->Shutdown();
    if (mgr_) mgr_->Stop();
    agent_.reset();
    mgr_.reset();
    rt_.reset();
    client_.reset();
    if (server_) server_->Stop();
  }

  // Runs the Pod to its end; its phase and log.
  std::pair<std::string, std::string> Run(const Json& pod) {
    auto created = client_->Create(kPods, "default", pod);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    const std::string name = pod["metadata"]["name"];
    Json last;
    bool done = Eventually(
        [&] {
          auto got = client_->Get(kPods, "default", name);
          if (!got.ok()) return false;
          last = *got;
          std::string phase = StringAt(last, "status.phase");
          return phase == "Succeeded" || phase == "Failed";
        },
        milliseconds(60000));
    EXPECT_TRUE(done) << "pod " << name << " never ended; last: " << last.dump(2);
    std::string log;
    Status s = agent_->StreamLogs(last, "main", false, {}, [&](const std::string& chunk) {
      log += chunk;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return {StringAt(last, "status.phase"), log};
  }

  bool plain_ = false;
  TempDir dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::Client> client_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<controllers::Manager> mgr_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(ServiceAccountTest, KubectlInAPodUsesItsInClusterCredentials) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "mounts need the bubblewrap sandbox";
  if (!std::filesystem::exists("/usr/bin/kubectl")) GTEST_SKIP() << "no kubectl on this machine";
  auto [phase, log] = Run(ShPod("sa-kubectl",
                                "test -z \"$KUBECONFIG\" && kubectl get pods -o name && "
                                "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace"));
  EXPECT_EQ(phase, "Succeeded") << log;
  EXPECT_NE(log.find("pod/sa-kubectl\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\ndefault"), std::string::npos) << log;
}

TEST_F(ServiceAccountTest, TheFilesAndEnvironmentAreThoseOfTheKubelet) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "mounts need the bubblewrap sandbox";
  Json pod = ShPod("sa-files",
                   "d=/var/run/secrets/kubernetes.io/serviceaccount; "
                   "echo \"$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $KUBERNETES_PORT\"; "
                   "echo \"dir=$SKIFF_SERVICE_ACCOUNT_DIR\"; "
                   "grep -c 'BEGIN CERTIFICATE' $d/ca.crt; cat $d/token; echo; "
                   "touch $d/token 2>/dev/null && echo writable || echo read-only");
  pod["spec"]["serviceAccountName"] = "runner";
  auto [phase, log] = Run(pod);
  ASSERT_EQ(phase, "Succeeded") << log;
  const std::string port = std::to_string(server_->port());
  EXPECT_NE(log.find("127.0.0.1:" + port + " tcp://127.0.0.1:" + port + "\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("dir=/var/run/secrets/kubernetes.io/serviceaccount\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("\n1\n"), std::string::npos) << log;
  EXPECT_NE(log.find("read-only"), std::string::npos) << log;
  // The token is the named ServiceAccount's.
  std::string token;
  for (size_t at = 0; at < log.size();) {
    size_t end = log.find('\n', at);
    std::string line = log.substr(at, end - at);
    if (std::count(line.begin(), line.end(), '.') == 2) token = line;
    at = end == std::string::npos ? log.size() : end + 1;
  }
  ASSERT_FALSE(token.empty()) << log;
  http::ClientOptions co;
  co.port = server_->port();
  co.use_tls = true;
  co.ca_file = server_->ca_file();
  http::ClientRequest whoami;
  whoami.method = "POST";
  whoami.target = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
  whoami.body = R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})";
  whoami.headers["Content-Type"] = "application/json";
  whoami.headers["Authorization"] = "Bearer " + token;
  auto resp = http::NewClient(co)->Do(whoami);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  ASSERT_EQ(resp->status, 201) << resp->body;
  EXPECT_EQ(StringAt(*ParseJson(resp->body), "status.userInfo.username"),
            "system:serviceaccount:default:runner");
}

TEST_F(ServiceAccountTest, APodThatOptsOutGetsNoCredentials) {
  Json pod = ShPod("sa-none",
                   "test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token && "
                   "test -z \"$KUBERNETES_SERVICE_HOST$SKIFF_SERVICE_ACCOUNT_DIR\"");
  pod["spec"]["automountServiceAccountToken"] = false;
  auto [phase, log] = Run(pod);
  EXPECT_EQ(phase, "Succeeded") << log;
}

TEST_F(ServiceAccountTest, TheServiceAccountsChoiceAppliesUnlessThePodMakesItsOwn) {
  Json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", "quiet"}}},
             {"automountServiceAccountToken", false}};
  ASSERT_TRUE(client_->Create(kServiceAccounts, "default", sa).ok());
  Json inherits = ShPod("sa-inherits", "test -z \"$KUBERNETES_SERVICE_HOST\"");
  inherits["spec"]["serviceAccountName"] = "quiet";
  EXPECT_EQ(Run(inherits).first, "Succeeded");
  Json overrides = ShPod("sa-overrides", "test -n \"$KUBERNETES_SERVICE_HOST\"");
  overrides["spec"]["serviceAccountName"] = "quiet";
  overrides["spec"]["automountServiceAccountToken"] = true;
  EXPECT_EQ(Run(overrides).first, "Succeeded");
}

// Plain processes cannot see mounts: the files are at SKIFF_SERVICE_ACCOUNT_DIR instead.
class PlainServiceAccountTest : public ServiceAccountTest {
 protected:
  void SetUp() override {
    plain_ = true;
    ServiceAccountTest::SetUp();
  }
};

TEST_F(PlainServiceAccountTest, TheFilesAreAtTheDirectoryTheEnvironmentNames) {
  Json pod = ShPod("sa-plain",
                   "cat \"$SKIFF_SERVICE_ACCOUNT_DIR/namespace\"; echo; "
                   "echo \"host=$KUBERNETES_SERVICE_HOST port=$KUBERNETES_SERVICE_PORT\"");
  // The Pod's own value wins over the kubelet's.
  pod["spec"]["containers"][0]["env"].push_back(
      {{"name", "KUBERNETES_SERVICE_HOST"}, {"value", "api.example"}});
  auto [phase, log] = Run(pod);
  ASSERT_EQ(phase, "Succeeded") << log;
  EXPECT_EQ(log, "default\nhost=api.example port=" + std::to_string(server_->port()) + "\n");
}

}  // namespace
}  // namespace skiff::node

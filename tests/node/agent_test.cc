// The node agent with the real runtime (skiff-shim, bubblewrap where available) against an
// in-process API server, observed through the API and the logs as a user would.
#include "node/agent.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "../client/test_util.h"
#include "common/encoding.h"
#include "controllers/manager.h"
#include "http/client.h"
#include "node/layout.h"
#include "runtime/runtime.h"

namespace skiff::node {
namespace {

using skiff::testing::Eventually;
using skiff::testing::InProcessEnv;
using skiff::testing::TempDir;
using std::chrono::milliseconds;

const client::Resource kPods{"", "v1", "pods"};
const client::Resource kNodes{"", "v1", "nodes"};
const client::Resource kLeases{"coordination.k8s.io", "v1", "leases"};
const client::Resource kEvents{"", "v1", "events"};
constexpr const char* kNode = "test-node";

Json ShPod(const std::string& name, const std::string& script,
           const std::string& policy = "Never") {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"nodeName", kNode},
                {"restartPolicy", policy},
                {"terminationGracePeriodSeconds", 5},
                {"containers", Json::array({{{"name", "main"},
                                             {"image", "busybox"},
                                             {"command", Json::array({"sh", "-c", script})}}})}}}};
}

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override { StartAgent(); }
  void TearDown() override {
    if (agent_) agent_->Shutdown();
    StopAgent();
  }

  void StartAgent() {
    runtime::RuntimeOptions ro;
    ro.shim_path = SKIFF_SHIM;
    if (plain_) ro.sandbox = "none";
    auto rt = runtime::NewLocalRuntime(ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    rt_ = std::move(*rt);
    mgr_ = std::make_unique<controllers::Manager>(env_.client.get());
    AgentOptions o;
    o.node_name = kNode;
    o.data_dir = data_.path();
    o.bin_dir = std::filesystem::path(SKIFF_SHIM).parent_path();  // libskiff-podnet.so is there
    o.backoff_initial = milliseconds(300);
    o.backoff_max = milliseconds(1200);
    o.shutdown_grace = milliseconds(2000);
    auto agent = NodeAgent::Create(*mgr_, env_.client.get(), rt_.get(), o);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(*agent);
    mgr_->Start();
  }

  // Without Shutdown: as if skiff were killed (containers keep running under their shims).
  void StopAgent() {
    if (mgr_) mgr_->Stop();
    agent_.reset();
    mgr_.reset();
    rt_.reset();
  }

  Json Create(const Json& pod, const std::string& ns = "default") {
    auto created = env_.client->Create(kPods, ns, pod);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }

  Json Get(const std::string& name, const std::string& ns = "default") {
    auto got = env_.client->Get(kPods, ns, name);
    return got.ok() ? *got : Json();
  }

  // Waits until `pred` holds for the Pod; returns its last state.
  Json WaitFor(const std::string& name, const std::function<bool(const Json&)>& pred,
               const std::string& ns = "default", milliseconds timeout = milliseconds(30000)) {
    Json last;
    bool ok = Eventually(
        [&] {
          last = Get(name, ns);
          if (!last.is_null() && !last.contains("status")) last["status"] = Json::object();
          return !last.is_null() && pred(last);
        },
        timeout);
    EXPECT_TRUE(ok) << "pod " << name << " never reached the state; last: " << last.dump(2);
    return last;
  }
  Json WaitPhase(const std::string& name, const std::string& phase,
                 const std::string& ns = "default") {
    return WaitFor(
        name,
        [&](const Json& p) {
          const Json* got = FindPath(p, "status.phase");
          return got != nullptr && *got == phase;
        },
        ns);
  }

  std::string Logs(const Json& pod, bool previous = false, bool quiet = false) {
    std::string out;
    Status s = agent_->StreamLogs(pod, "main", previous, {}, [&](const std::string& chunk) {
      out += chunk;
      return true;
    });
    if (!quiet) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return out;
  }

  static const Json& Main(const Json& pod) { return pod["status"]["containerStatuses"][0]; }
  // The main container's waiting reason, or "" (safe on any Pod).
  static std::string Waiting(const Json& pod) {
    const Json* list = FindPath(pod, "status.containerStatuses");
    if (list == nullptr || !list->is_array() || list->empty()) return "";
    const Json* w = FindPath((*list)[0], "state.waiting.reason");
    return w != nullptr && w->is_string() ? w->get<std::string>() : "";
  }
  static std::string Condition(const Json& pod, const std::string& type) {
    for (const Json& c : pod["status"].value("conditions", Json::array())) {
      if (c.value("type", "") == type) return c.value("status", "");
    }
    return "";
  }

  bool HasEvent(const std::string& reason, const std::string& text = "") {
    auto list = env_.client->List(kEvents, "default", {});
    if (!list.ok()) return false;
    for (const Json& e : (*list)["items"]) {
      if (e.value("reason", "") == reason &&
          e.value("message", "").find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  bool plain_ = false;
  // Restarts the agent with a stand-in nvidia-smi on PATH that reports `count` GPUs, and waits
  // for the Node to show them.
  void RestartWithFakeGpus(int count) {
    TempDir bin;
    {
      std::ofstream f(bin.File("nvidia-smi"));
      f << "#!/bin/sh\n";
      for (int i = 0; i < count; ++i) f << "echo '" << i << ", GPU-" << i << "'\n";
    }
    std::filesystem::permissions(bin.File("nvidia-smi"), std::filesystem::perms::owner_all);
    const std::string old_path = getenv("PATH");
    setenv("PATH", (bin.path() + ":" + old_path).c_str(), 1);
    StopAgent();
    StartAgent();
    setenv("PATH", old_path.c_str(), 1);
    ASSERT_TRUE(Eventually([&] {
      auto node = env_.client->Get(kNodes, "", kNode);
      return node.ok() &&
             (*node)["status"]["capacity"].value("nvidia.com/gpu", "") == std::to_string(count);
    }));
  }

  InProcessEnv env_;
  TempDir data_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<controllers::Manager> mgr_;
  std::unique_ptr<NodeAgent> agent_;
};

TEST_F(AgentTest, RegistersTheNodeAndRenewsItsLease) {
  ASSERT_TRUE(Eventually([&] { return env_.client->Get(kNodes, "", kNode).ok(); }));
  auto node = env_.client->Get(kNodes, "", kNode);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["metadata"]["labels"]["kubernetes.io/hostname"], kNode);
  EXPECT_EQ((*node)["status"]["capacity"]["pods"], "110");
  bool ready = false;
  for (const Json& c : (*node)["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True" && c["reason"] == "KubeletReady";
  }
  EXPECT_TRUE(ready);
  EXPECT_EQ((*node)["status"]["nodeInfo"]["kubeletVersion"], "v1.32.0");
  EXPECT_TRUE(Eventually([&] { return env_.client->Get(kLeases, "kube-node-lease", kNode).ok(); }));
}

TEST_F(AgentTest, ACompletedPodSucceedsWithItsLog) {
  Create(ShPod("hello", "echo hi; exit 0"));
  Json pod = WaitPhase("hello", "Succeeded");
  const Json& t = Main(pod)["state"]["terminated"];
  EXPECT_EQ(t["exitCode"], 0);
  EXPECT_EQ(t["reason"], "Completed");
  EXPECT_EQ(Main(pod)["containerID"].get<std::string>().rfind("skiff://", 0), 0u);
  EXPECT_EQ(Main(pod)["imageID"], "skiff-image://busybox");
  EXPECT_EQ(pod["status"]["podIP"].get<std::string>().rfind("127.0.", 0), 0u);
  EXPECT_EQ(pod["status"]["qosClass"], "BestEffort");
  EXPECT_EQ(Logs(pod), "hi\n");
  EXPECT_EQ(Condition(pod, "skiff.io/Sandbox"), rt_->capabilities().bubblewrap ? "True" : "False");
  EXPECT_TRUE(Eventually([&] { return HasEvent("Started", "Started container main"); }));
}

TEST_F(AgentTest, TheSandboxAnnotationOptsAPodOutOfTheSandbox) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << rt_->capabilities().detail;
  // A plain process sees the host's /tmp; a sandboxed one gets a private, empty one.
  const std::string marker = "/tmp/skiff-plain-marker-" + std::to_string(getpid());
  std::ofstream(marker) << "x";
  Json plain = ShPod("plain", "test -e " + marker + " && echo host-tmp");
  plain["metadata"]["annotations"] = {{"skiff.io/sandbox", "none"}};
  Create(plain);
  Create(ShPod("boxed", "test -e " + marker + " && echo host-tmp; echo done"));
  Json p = WaitPhase("plain", "Succeeded");
  Json b = WaitPhase("boxed", "Succeeded");
  std::remove(marker.c_str());
  EXPECT_EQ(Logs(p), "host-tmp\n");
  EXPECT_EQ(Logs(b), "done\n");
  EXPECT_EQ(Condition(p, "skiff.io/Sandbox"), "False");
  EXPECT_EQ(Condition(b, "skiff.io/Sandbox"), "True");
}

TEST_F(AgentTest, AFailingPodWithRestartNeverFails) {
  Create(ShPod("three", "exit 3"));
  Json pod = WaitPhase("three", "Failed");
  EXPECT_EQ(Main(pod)["state"]["terminated"]["exitCode"], 3);
  EXPECT_EQ(Main(pod)["state"]["terminated"]["reason"], "Error");
  EXPECT_EQ(Main(pod)["restartCount"], 0);
}

TEST_F(AgentTest, OnFailureRestartsWithBackOffAndKeepsThePreviousLog) {
  Create(ShPod("crash", "echo run; exit 1", "OnFailure"));
  bool saw_backoff = false;
  Json pod = WaitFor("crash", [&](const Json& p) {
    if (Waiting(p) == "CrashLoopBackOff") {
      saw_backoff = true;
      EXPECT_NE(Main(p)["state"]["waiting"]
                    .value("message", "")
                    .find("restarting failed container=main pod=crash_default("),
                std::string::npos);
      EXPECT_EQ(Main(p)["lastState"]["terminated"]["exitCode"], 1);
    }
    return p["status"].contains("containerStatuses") && Main(p)["restartCount"] >= 2 && saw_backoff;
  });
  EXPECT_EQ(pod["status"]["phase"], "Running");
  EXPECT_EQ(Logs(pod, /*previous=*/true), "run\n");
  EXPECT_TRUE(
      Eventually([&] { return HasEvent("BackOff", "Back-off restarting failed container main"); }));
}

TEST_F(AgentTest, PreviousLogOfAFirstRunIsAnError) {
  Create(ShPod("once", "echo x"));
  Json pod = WaitPhase("once", "Succeeded");
  Status s = agent_->StreamLogs(pod, "main", true, {}, [](const std::string&) { return true; });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "previous terminated container \"main\" in pod \"once\" not found");
}

TEST_F(AgentTest, EnvironmentComesFromValuesConfigMapsSecretsAndTheDownwardApi) {
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "configmaps"}, "default",
                           Json{{"metadata", {{"name", "cfg"}}}, {"data", {{"color", "blue"}}}})
                  .ok());
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "secrets"}, "default",
                           Json{{"metadata", {{"name", "sec"}}},
                                {"data", {{"token", Base64Encode("hunter2")}}}})
                  .ok());
  Json pod =
      ShPod("env", "echo \"$GREETING $COLOR $TOKEN ip=$MY_IP pod_ip=$POD_IP name=$POD_NAME\"");
  pod["spec"]["containers"][0]["env"] = Json::parse(R"([
    {"name": "GREETING", "value": "hello"},
    {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
    {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
  ])");
  Create(pod);
  Json done = WaitPhase("env", "Succeeded");
  std::string ip = done["status"]["podIP"];
  EXPECT_EQ(Logs(done), "hello blue hunter2 ip=" + ip + " pod_ip=" + ip + " name=env\n");
}

TEST_F(AgentTest, AMissingConfigMapKeepsTheContainerWaiting) {
  Json pod = ShPod("nocfg", "echo $X");
  pod["spec"]["containers"][0]["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "later", "key": "k"}}}])");
  Create(pod);
  Json waiting =
      WaitFor("nocfg", [](const Json& p) { return Waiting(p) == "CreateContainerConfigError"; });
  EXPECT_EQ(Main(waiting)["state"]["waiting"]["message"], "configmap \"later\" not found");
  EXPECT_EQ(waiting["status"]["phase"], "Pending");
  // Creating it lets the Pod run.
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "configmaps"}, "default",
                           Json{{"metadata", {{"name", "later"}}}, {"data", {{"k", "now"}}}})
                  .ok());
  Json done = WaitPhase("nocfg", "Succeeded");
  EXPECT_EQ(Logs(done), "now\n");
}

TEST_F(AgentTest, ConfigMapAndSecretVolumesAreReadable) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "mounts need the bubblewrap sandbox";
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "configmaps"}, "default",
                           Json{{"metadata", {{"name", "files"}}}, {"data", {{"a.txt", "alpha"}}}})
                  .ok());
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "secrets"}, "default",
                           Json{{"metadata", {{"name", "creds"}}},
                                {"data", {{"pw", Base64Encode("s3cret")}}}})
                  .ok());
  Json pod = ShPod("vols",
                   "cat /tmp/cfg/a.txt; echo; cat /tmp/creds/password; echo; "
                   "echo data > /tmp/work/f && cat /tmp/work/f");
  pod["spec"]["volumes"] = Json::parse(R"([
    {"name": "cfg", "configMap": {"name": "files"}},
    {"name": "creds", "secret": {"secretName": "creds", "items": [{"key": "pw", "path": "password"}]}},
    {"name": "scratch", "emptyDir": {}}
  ])");
  pod["spec"]["containers"][0]["volumeMounts"] = Json::parse(R"([
    {"name": "cfg", "mountPath": "/tmp/cfg"},
    {"name": "creds", "mountPath": "/tmp/creds", "readOnly": true},
    {"name": "scratch", "mountPath": "/tmp/work"}
  ])");
  Create(pod);
  Json done = WaitPhase("vols", "Succeeded");
  EXPECT_EQ(Logs(done), "alpha\ns3cret\ndata\n");
}

TEST_F(AgentTest, APodCannotReadTheStoreOrAnotherNamespacesSecrets) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "isolation needs the bubblewrap sandbox";
  { std::ofstream(data_.File("store.db")) << "all the secrets"; }
  env_.CreateNamespace("other");
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "secrets"}, "other",
                           Json{{"metadata", {{"name", "theirs"}}},
                                {"data", {{"key", Base64Encode("private")}}}})
                  .ok());
  Json victim = ShPod("victim", "sleep 30");
  victim["spec"]["volumes"] = Json::parse(R"([{"name": "s", "secret": {"secretName": "theirs"}}])");
  victim["spec"]["containers"][0]["volumeMounts"] =
      Json::parse(R"([{"name": "s", "mountPath": "/s"}])");
  Json created = Create(victim, "other");
  WaitPhase("victim", "Running", "other");
  const std::string secret_dir =
      PodDir(data_.path(), "other", "victim", created["metadata"]["uid"]) + "/volumes/s/key";
  ASSERT_TRUE(std::ifstream(secret_dir).good()) << "the agent should have written " << secret_dir;

  Create(ShPod("thief",
               "cat " + data_.File("store.db") + " " + secret_dir + " 2>/dev/null; echo rc=$?"));
  Json done = WaitPhase("thief", "Succeeded");
  std::string out = Logs(done);
  EXPECT_EQ(out.find("all the secrets"), std::string::npos) << out;
  EXPECT_EQ(out.find("private"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
}

TEST_F(AgentTest, PodsOfANamespaceResolveEachOtherThroughTheirHostsFile) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "/etc/hosts needs the bubblewrap sandbox";
  // The server starts first: it can only resolve the client if its hosts file is rewritten in
  // place while it runs.
  Create(ShPod("server",
               "for i in $(seq 100); do getent hosts client && sleep 1 && exit 0; sleep 0.1; done; "
               "exit 1"));
  WaitPhase("server", "Running");
  Create(ShPod("client", "getent hosts server; sleep 2"));
  Json server_done = WaitPhase("server", "Succeeded");
  Json client_done = WaitPhase("client", "Succeeded");
  EXPECT_NE(Logs(server_done).find(client_done["status"]["podIP"].get<std::string>() + " "),
            std::string::npos)
      << Logs(server_done);
  EXPECT_NE(Logs(client_done).find(server_done["status"]["podIP"].get<std::string>() + " "),
            std::string::npos)
      << Logs(client_done);
}

TEST_F(AgentTest, AServiceSelectingOnePodResolvesToIt) {
  if (!rt_->capabilities().bubblewrap) GTEST_SKIP() << "/etc/hosts needs the bubblewrap sandbox";
  Json worker = ShPod("job-worker-0-xyz", "sleep 30");
  worker["metadata"]["labels"] = {{"replica", "worker-0"}};
  Create(worker);
  Json running = WaitPhase("job-worker-0-xyz", "Running");
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "services"}, "default",
                           Json::parse(R"({"metadata": {"name": "job-worker-0"}, "spec": {
                             "clusterIP": "None", "selector": {"replica": "worker-0"},
                             "ports": [{"port": 2222}]}})"))
                  .ok());
  Create(ShPod("asker",
               "for i in $(seq 100); do getent hosts job-worker-0.default.svc && exit 0; "
               "sleep 0.1; done; exit 1"));
  Json done = WaitPhase("asker", "Succeeded");
  EXPECT_NE(Logs(done).find(running["status"]["podIP"].get<std::string>()), std::string::npos);
}

TEST_F(AgentTest, InitContainersRunFirstAndMustSucceed) {
  Json pod = ShPod("inited", "echo main");
  pod["spec"]["initContainers"] = Json::parse(
      R"([{"name": "setup", "image": "busybox", "command": ["sh", "-c", "echo setup"]}])");
  Create(pod);
  Json done = WaitPhase("inited", "Succeeded");
  EXPECT_EQ(done["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed");
  EXPECT_LE(done["status"]["initContainerStatuses"][0]["state"]["terminated"]["finishedAt"]
                .get<std::string>(),
            Main(done)["state"]["terminated"]["startedAt"].get<std::string>());
  EXPECT_EQ(Logs(done), "main\n");

  Json bad = ShPod("badinit", "echo never");
  bad["spec"]["initContainers"] =
      Json::parse(R"([{"name": "setup", "image": "busybox", "command": ["false"]}])");
  Create(bad);
  Json failed = WaitPhase("badinit", "Failed");
  EXPECT_EQ(failed["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"], 1);
  EXPECT_EQ(Waiting(failed), "PodInitializing");
}

TEST_F(AgentTest, AMissingClaimKeepsThePodPending) {
  Json pod = ShPod("claimed", "true");
  pod["spec"]["volumes"] =
      Json::parse(R"([{"name": "data", "persistentVolumeClaim": {"claimName": "nope"}}])");
  Create(pod);
  EXPECT_TRUE(
      Eventually([&] { return HasEvent("FailedMount", "persistentvolumeclaim \"nope\""); }));
  EXPECT_EQ(Get("claimed")["status"].value("phase", ""), "Pending");
  ASSERT_TRUE(env_.client
                  ->Create({"", "v1", "persistentvolumeclaims"}, "default",
                           Json::parse(R"({"metadata": {"name": "nope"}, "spec": {
                             "accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}})"))
                  .ok());
  WaitPhase("claimed", "Succeeded");
  EXPECT_TRUE(std::filesystem::is_directory(ClaimDir(data_.path(), "default", "nope")));
}

TEST_F(AgentTest, AnUnmappedImageIsErrImagePull) {
  Json pod = ShPod("noimg", "true");
  pod["spec"]["containers"][0]["image"] = "gcr.io/acme/trainer:v1";
  Create(pod);
  Json waiting = WaitFor("noimg", [](const Json& p) {
    return Waiting(p) == "ErrImagePull" || Waiting(p) == "ImagePullBackOff";
  });
  EXPECT_NE(Main(waiting)["state"]["waiting"].value("message", "").find("skiff images add"),
            std::string::npos);
  EXPECT_EQ(waiting["status"]["phase"], "Pending");
  EXPECT_TRUE(Eventually([&] { return HasEvent("Failed", "Failed to pull image"); }));
}

TEST_F(AgentTest, AMemoryHogIsOOMKilled) {
  if (rt_->capabilities().limits == "rlimit") GTEST_SKIP() << "no cgroup memory accounting";
  Json pod = ShPod("hog", "");
  pod["spec"]["containers"][0]["image"] = "python:3";
  pod["spec"]["containers"][0]["command"] =
      Json::array({"python3", "-c", "a = bytearray(400 * 1024 * 1024); print(len(a))"});
  pod["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "64Mi"}}}};
  Create(pod);
  Json done = WaitPhase("hog", "Failed");
  EXPECT_EQ(Main(done)["state"]["terminated"]["reason"], "OOMKilled");
  EXPECT_EQ(Condition(done, "skiff.io/ResourceLimits"), "True");
}

TEST_F(AgentTest, AReadinessProbeMakesThePodReady) {
  Json pod = ShPod("web", "sleep 1; exec python3 -m http.server --bind $POD_IP 8080");
  pod["spec"]["containers"][0]["readinessProbe"] =
      Json::parse(R"({"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1})");
  Create(pod);
  Json running = WaitPhase("web", "Running");
  Json ready = WaitFor("web", [](const Json& p) { return Condition(p, "Ready") == "True"; });
  EXPECT_TRUE(Main(ready)["ready"].get<bool>());
  EXPECT_EQ(Condition(ready, "ContainersReady"), "True");
}

// Pods share the host network, each on its own address: two servers that listen on every address
// of the same port both run, each on its own Pod's address (libskiff-podnet.so), as two Pods
// under a kubelet would.
TEST_F(AgentTest, WildcardListenersOfTwoPodsEachGetTheirPodsAddress) {
  for (const char* name : {"web-a", "web-b"}) {
    Create(ShPod(name, std::string("mkdir -p /tmp/w && echo ") + name +
                           " > /tmp/w/who && cd /tmp/w && exec python3 -m http.server 8080"));
  }
  for (const char* name : {"web-a", "web-b"}) {
    Json pod = WaitPhase(name, "Running");
    const std::string ip = pod["status"]["podIP"];
    std::string body;
    EXPECT_TRUE(Eventually([&] {
      http::ClientOptions o;
      o.host = ip;
      o.port = 8080;
      o.timeout = milliseconds(1000);
      http::ClientRequest r;
      r.target = "/who";
      auto got = http::NewClient(o)->Do(r);
      body = got.ok() ? got->body : got.status().message();
      return got.ok() && got->status == 200;
    })) << name
        << " at " << ip << ": " << body;
    EXPECT_EQ(body, std::string(name) + "\n");
  }
}

TEST_F(AgentTest, AFailingLivenessProbeRestartsTheContainer) {
  Json pod = ShPod("sick", "sleep 30", "Always");
  pod["spec"]["containers"][0]["livenessProbe"] =
      Json::parse(R"({"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 1})");
  Create(pod);
  WaitFor("sick", [](const Json& p) {
    return p["status"].contains("containerStatuses") && Main(p)["restartCount"] >= 1;
  });
  EXPECT_TRUE(Eventually([&] { return HasEvent("Unhealthy", "Liveness probe failed"); }));
  EXPECT_TRUE(Eventually([&] {
    return HasEvent("Killing", "Container main failed liveness probe, will be restarted");
  }));
}

TEST_F(AgentTest, ActiveDeadlineFailsThePod) {
  Json pod = ShPod("slow", "sleep 30");
  pod["spec"]["activeDeadlineSeconds"] = 1;
  Create(pod);
  Json done = WaitPhase("slow", "Failed");
  EXPECT_EQ(done["status"]["reason"], "DeadlineExceeded");
  EXPECT_EQ(done["status"]["message"],
            "Pod was active on the node longer than the specified deadline");
}

TEST_F(AgentTest, GracefulDeletionSendsSigtermThenRemovesThePod) {
  Json pod = ShPod("graceful",
                   "trap 'echo got TERM; exit 0' TERM; echo started; while true; do sleep 0.1; "
                   "done");
  // A finalizer keeps the object after the agent's final delete, so the test can read the log
  // whether or not the API server implements graceful Pod deletion itself.
  pod["metadata"]["finalizers"] = Json::array({"skiff.io/test-hold"});
  Create(pod);
  Json running = WaitFor("graceful", [&](const Json& p) {
    const Json* phase = FindPath(p, "status.phase");
    return phase != nullptr && *phase == "Running" &&
           Logs(p, false, /*quiet=*/true).find("started") != std::string::npos;
  });
  client::DeleteOptions del;
  del.grace_period_seconds = 10;
  ASSERT_TRUE(env_.client->Delete(kPods, "default", "graceful", del).ok());
  Json stopped = WaitFor("graceful", [](const Json& p) {
    return p["status"].contains("containerStatuses") && Main(p)["state"].contains("terminated");
  });
  EXPECT_EQ(Main(stopped)["state"]["terminated"]["exitCode"], 0);  // the trap ran: SIGTERM first
  EXPECT_NE(Logs(stopped).find("got TERM"), std::string::npos);
  EXPECT_TRUE(Eventually([&] { return HasEvent("Killing", "Stopping container main"); }));
  ASSERT_TRUE(env_.client
                  ->Patch(kPods, "default", "graceful", client::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})")
                  .ok());
  EXPECT_TRUE(Eventually([&] { return Get("graceful").is_null(); }));
  const std::string dir = PodDir(data_.path(), "default", "graceful", running["metadata"]["uid"]);
  EXPECT_TRUE(Eventually([&] { return !std::filesystem::exists(dir); }));
}

TEST_F(AgentTest, GracefulDeletionThroughTheApiEndsWithThePodGone) {
  // The trap leaves proof of SIGTERM on a hostPath (mounted at the same path, so plain mode
  // sees it too).
  TempDir out;
  Json pod = ShPod("bye", "trap 'echo term > " + out.File("term") +
                              "; exit 0' TERM; echo trapped; while true; do sleep 0.1; done");
  pod["spec"]["volumes"] =
      Json::array({{{"name", "out"}, {"hostPath", {{"path", out.path()}, {"type", "Directory"}}}}});
  pod["spec"]["containers"][0]["volumeMounts"] =
      Json::array({{{"name", "out"}, {"mountPath", out.path()}}});
  Create(pod);
  // SIGTERM before the trap is set would just kill the shell.
  WaitFor("bye", [&](const Json& p) { return Logs(p, false, /*quiet=*/true) == "trapped\n"; });
  client::DeleteOptions del;
  del.grace_period_seconds = 10;
  auto deleted = env_.client->Delete(kPods, "default", "bye", del);
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_TRUE(Eventually([&] { return Get("bye").is_null(); }));
  EXPECT_TRUE(Eventually([&] { return std::filesystem::exists(out.File("term")); }));
}

TEST_F(AgentTest, AForceDeletedPodsContainersAreStopped) {
  Create(ShPod("doomed", "sleep 30"));
  Json running = WaitPhase("doomed", "Running");
  client::DeleteOptions del;
  del.grace_period_seconds = 0;
  ASSERT_TRUE(env_.client->Delete(kPods, "default", "doomed", del).ok());
  const std::string id = running["metadata"]["uid"].get<std::string>() + ".main.0";
  EXPECT_TRUE(Eventually([&] { return !rt_->Inspect(id).ok(); }));
}

TEST_F(AgentTest, AdoptsRunningContainersAfterARestartOfSkiff) {
  Create(ShPod("survivor", "sleep 2; echo done"));
  WaitPhase("survivor", "Running");
  StopAgent();  // as kill -9: no Shutdown
  StartAgent();
  Json done = WaitPhase("survivor", "Succeeded");
  EXPECT_EQ(Main(done)["restartCount"], 0);
  EXPECT_EQ(Main(done)["state"]["terminated"]["exitCode"], 0);
  EXPECT_EQ(Logs(done), "done\n");
}

TEST_F(AgentTest, ContainersOfPodsDeletedWhileSkiffWasDownAreRemoved) {
  Json created = Create(ShPod("forgotten", "sleep 30"));
  WaitPhase("forgotten", "Running");
  StopAgent();
  client::DeleteOptions del;
  del.grace_period_seconds = 0;
  ASSERT_TRUE(env_.client->Delete(kPods, "default", "forgotten", del).ok());
  StartAgent();
  const std::string id = created["metadata"]["uid"].get<std::string>() + ".main.0";
  EXPECT_TRUE(Eventually([&] { return !rt_->Inspect(id).ok(); }));
  EXPECT_FALSE(std::filesystem::exists(ContainersRoot(data_.path()) + "/" + id));
}

TEST_F(AgentTest, ARestartAfterShutdownRestartsAlwaysPods) {
  Create(ShPod("always", "echo up; sleep 30", "Always"));
  WaitFor("always", [&](const Json& p) { return Logs(p, false, /*quiet=*/true) == "up\n"; });
  agent_->Shutdown();
  StopAgent();
  StartAgent();
  Json pod = WaitFor("always", [](const Json& p) {
    const Json* list = FindPath(p, "status.containerStatuses");
    return list != nullptr && !list->empty() && (*list)[0].value("restartCount", 0) == 1 &&
           (*list)[0]["state"].contains("running");
  });
  EXPECT_EQ(pod["status"]["phase"], "Running");
  EXPECT_EQ(Logs(pod, /*previous=*/true), "up\n");
}

TEST_F(AgentTest, AContainerThatVanishedEndsAsContainerStatusUnknown) {
  StopAgent();
  // A Pod that says it runs, but whose container no runtime knows (its state was lost).
  Json created = Create(ShPod("ghost", "sleep 30", "Always"));
  created["status"] = Json::parse(R"({"phase": "Running", "podIP": "127.0.9.9",
    "containerStatuses": [{"name": "main", "image": "busybox", "ready": true, "restartCount": 0,
      "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]})");
  ASSERT_TRUE(env_.client->UpdateStatus(kPods, "default", created).ok());
  StartAgent();
  Json pod = WaitFor("ghost", [](const Json& p) {
    const Json* list = FindPath(p, "status.containerStatuses");
    return list != nullptr && !list->empty() && (*list)[0].value("restartCount", 0) == 1;
  });
  const Json& last = Main(pod)["lastState"]["terminated"];
  EXPECT_EQ(last["reason"], "ContainerStatusUnknown");
  EXPECT_EQ(last["exitCode"], 137);
  EXPECT_EQ(last["message"], "The container could not be located when the pod was terminated");
  EXPECT_EQ(pod["status"]["podIP"], "127.0.9.9");  // the Pod keeps its address
}

TEST_F(AgentTest, GpusAreCountedAndHandedOutOnePodAtATime) {
  RestartWithFakeGpus(2);
  for (const char* name : {"gpu-a", "gpu-b"}) {
    Json pod = ShPod(name, "echo $CUDA_VISIBLE_DEVICES; sleep 30");
    pod["spec"]["containers"][0]["resources"] = {{"limits", {{"nvidia.com/gpu", 1}}}};
    Create(pod);
  }
  std::set<std::string> seen;
  for (const char* name : {"gpu-a", "gpu-b"}) {
    WaitFor(name, [&](const Json& p) { return !Logs(p, false, /*quiet=*/true).empty(); });
    seen.insert(Logs(Get(name)));
  }
  EXPECT_EQ(seen, (std::set<std::string>{"0\n", "1\n"}));
  Json third = ShPod("gpu-c", "true");
  third["spec"]["containers"][0]["resources"] = {{"limits", {{"nvidia.com/gpu", 1}}}};
  Create(third);
  Json failed = WaitPhase("gpu-c", "Failed");
  EXPECT_EQ(failed["status"]["reason"], "UnexpectedAdmissionError");
}

// A Pod that has finished (but is not deleted) gives its GPU to the next one, as the kubelet's
// device manager reclaims devices of terminated Pods. Found on a real one-GPU machine: a pipeline's
// GPU task failed (UnexpectedAdmissionError) right after an earlier GPU Pod had completed.
TEST_F(AgentTest, AFinishedPodsGpuGoesToTheNextPod) {
  RestartWithFakeGpus(1);
  for (const char* name : {"gpu-first", "gpu-second"}) {
    Json pod = ShPod(name, "echo gpu=$CUDA_VISIBLE_DEVICES");
    pod["spec"]["containers"][0]["resources"] = {{"limits", {{"nvidia.com/gpu", 1}}}};
    Create(pod);
    Json done = WaitPhase(name, "Succeeded");
    EXPECT_EQ(Logs(done), "gpu=0\n") << name;
  }
}

TEST_F(AgentTest, ShutdownFailsPodsThatWouldNotRestart) {
  Create(ShPod("never", "sleep 30"));
  WaitPhase("never", "Running");
  agent_->Shutdown();
  Json pod = Get("never");
  EXPECT_EQ(pod["status"]["phase"], "Failed");
  EXPECT_EQ(pod["status"]["reason"], "Terminated");
  EXPECT_EQ(pod["status"]["message"], "Pod was terminated in response to imminent node shutdown.");
}

// The same agent with plain processes (no bubblewrap): what runs on machines without it.
class PlainAgentTest : public AgentTest {
 protected:
  void SetUp() override {
    plain_ = true;
    StartAgent();
  }
};

TEST_F(PlainAgentTest, PodsRunAndSayTheyAreNotSandboxed) {
  Create(ShPod("plain", "echo $POD_NAME; exit 0"));
  Json pod = WaitPhase("plain", "Succeeded");
  EXPECT_EQ(Logs(pod), "plain\n");
  EXPECT_EQ(Condition(pod, "skiff.io/Sandbox"), "False");
  Create(ShPod("plain-crash", "exit 2"));
  Json failed = WaitPhase("plain-crash", "Failed");
  EXPECT_EQ(Main(failed)["state"]["terminated"]["exitCode"], 2);
}

// Not a test of correctness: prints create -> Succeeded latency for `true` (run by hand with
// --gtest_also_run_disabled_tests).
void MeasureTrue(AgentTest* t, const std::function<Json(const Json&)>& create,
                 const std::function<Json(const std::string&)>& get, const char* mode) {
  std::vector<double> ms;
  for (int i = 0; i < 30; ++i) {
    std::string name = std::string("lat-") + mode + "-" + std::to_string(i);
    Json pod = ShPod(name, "");
    pod["spec"]["containers"][0]["command"] = Json::array({"true"});
    auto begin = std::chrono::steady_clock::now();
    create(pod);
    while (true) {
      Json p = get(name);
      const Json* phase = FindPath(p, "status.phase");
      if (phase != nullptr && *phase == "Succeeded") break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  printf("%s: create->Succeeded p50 %.2f ms, p90 %.2f ms\n", mode, ms[ms.size() / 2],
         ms[ms.size() * 9 / 10]);
}

TEST_F(AgentTest, DISABLED_LatencyOfTrue) {
  MeasureTrue(
      this, [&](const Json& p) { return Create(p); }, [&](const std::string& n) { return Get(n); },
      rt_->capabilities().bubblewrap ? "sandboxed" : "plain");
}

TEST_F(PlainAgentTest, DISABLED_LatencyOfTrue) {
  MeasureTrue(
      this, [&](const Json& p) { return Create(p); }, [&](const std::string& n) { return Get(n); },
      "plain");
}

}  // namespace
}  // namespace skiff::node

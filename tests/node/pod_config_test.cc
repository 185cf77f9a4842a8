// The pure translations of node/pod_config: quantities, QoS, env, volume files, hosts files.
#include "node/pod_config.h"

#include <gtest/gtest.h>

#include <map>

#include "common/encoding.h"
#include "node/node_info.h"

namespace skiff::node {
namespace {

class MapSource : public ObjectSource {
 public:
  std::map<std::string, Json> configmaps, secrets;
  StatusOr<Json> ConfigMap(const std::string& ns, const std::string& name) override {
    auto it = configmaps.find(ns + "/" + name);
    if (it == configmaps.end()) return Status::NotFound("configmaps \"" + name + "\" not found");
    return it->second;
  }
  StatusOr<Json> Secret(const std::string& ns, const std::string& name) override {
    auto it = secrets.find(ns + "/" + name);
    if (it == secrets.end()) return Status::NotFound("secrets \"" + name + "\" not found");
    return it->second;
  }
};

Json TestPod() {
  return Json::parse(R"({
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "x"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox",
      "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}
  })");
}

TEST(PodConfigTest, ParsesQuantities) {
  EXPECT_DOUBLE_EQ(*ParseQuantity("500m"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseQuantity("2"), 2);
  EXPECT_DOUBLE_EQ(*ParseQuantity("128Mi"), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1G"), 1e9);
  EXPECT_DOUBLE_EQ(*ParseQuantity("1e3"), 1000);
  EXPECT_FALSE(ParseQuantity("lots").has_value());
  EXPECT_FALSE(ParseQuantity("12Zi").has_value());
}

TEST(PodConfigTest, QosClassFollowsUpstream) {
  Json pod = TestPod();
  EXPECT_EQ(QosClass(pod), "Guaranteed");
  pod["spec"]["containers"][0]["resources"]["requests"] = {{"cpu", "100m"}};
  EXPECT_EQ(QosClass(pod), "Burstable");
  pod["spec"]["containers"][0].erase("resources");
  EXPECT_EQ(QosClass(pod), "BestEffort");
}

TEST(PodConfigTest, EnvResolvesRefsAndExpandsInOrder) {
  MapSource src;
  src.configmaps["ns/cm"] = {{"data", {{"color", "blue"}, {"size", "L"}}}};
  src.secrets["ns/s"] = {{"data", {{"token", Base64Encode("hunter2")}}}};
  Json pod = TestPod();
  Json& c = pod["spec"]["containers"][0];
  c["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cm"}, "prefix": "CM_"}])");
  c["env"] = Json::parse(R"J([
    {"name": "A", "value": "a"},
    {"name": "B", "value": "$(A)-b-$$(A)-$(MISSING)"},
    {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "color"}}},
    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}}
  ])J");
  EnvContext ctx{"127.0.2.7"};
  ConfigError err;
  auto env = BuildEnv(pod, c, {"PATH=/bin", "A=overridden"}, ctx, &src, &err);
  ASSERT_TRUE(env.ok()) << err.message;
  std::map<std::string, std::string> m;
  for (const auto& kv : *env) m[kv.substr(0, kv.find('='))] = kv.substr(kv.find('=') + 1);
  EXPECT_EQ(m["A"], "a");
  EXPECT_EQ(m["B"], "a-b-$(A)-$(MISSING)");
  EXPECT_EQ(m["CM_color"], "blue");
  EXPECT_EQ(m["COLOR"], "blue");
  EXPECT_EQ(m["TOKEN"], "hunter2");
  EXPECT_EQ(m["IP"], "127.0.2.7");
  EXPECT_EQ(m["APP"], "x");
  EXPECT_EQ(m["MEM"], "64");
  EXPECT_EQ(m["CPU"], "500");
  // A redefinition keeps the first position (PATH stays first, A second).
  EXPECT_EQ((*env)[0], "PATH=/bin");
  EXPECT_EQ((*env)[1], "A=a");
}

TEST(PodConfigTest, MissingConfigMapIsAConfigErrorUnlessOptional) {
  MapSource src;
  Json pod = TestPod();
  Json& c = pod["spec"]["containers"][0];
  c["env"] = Json::parse(
      R"([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}])");
  ConfigError err;
  EXPECT_FALSE(BuildEnv(pod, c, {}, {}, &src, &err).ok());
  EXPECT_EQ(err.message, "configmap \"nope\" not found");
  c["env"][0]["valueFrom"]["configMapKeyRef"]["optional"] = true;
  ConfigError err2;
  EXPECT_TRUE(BuildEnv(pod, c, {}, {}, &src, &err2).ok());
}

TEST(PodConfigTest, VolumeFilesHonourItemsModesAndProjection) {
  MapSource src;
  src.configmaps["ns/cm"] = {{"data", {{"a", "1"}, {"b", "2"}}}};
  src.secrets["ns/s"] = {{"data", {{"pw", Base64Encode("secret")}}}};
  Json pod = TestPod();
  ConfigError err;
  auto files =
      VolumeFiles(pod, Json::parse(R"({"name": "v", "configMap": {"name": "cm", "defaultMode": 256,
                       "items": [{"key": "b", "path": "dir/b.txt", "mode": 384}]}})"),
                  {}, &src, &err);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].path, "dir/b.txt");
  EXPECT_EQ(files[0].content, "2");
  EXPECT_EQ(files[0].mode, 0600);

  files = VolumeFiles(pod, Json::parse(R"({"name": "v", "projected": {"sources": [
      {"secret": {"name": "s"}},
      {"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
    ]}})"),
                      {}, &src, &err);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].content, "secret");
  EXPECT_EQ(files[1].content, "app=\"x\"\n");

  VolumeFiles(pod, Json::parse(R"({"name": "v", "secret": {"secretName": "gone"}})"), {}, &src,
              &err);
  EXPECT_EQ(err.message, "secret \"gone\" not found");
}

TEST(PodConfigTest, HostsFileNamesThePodAndItsNeighbours) {
  Json pod = TestPod();
  pod["spec"]["hostname"] = "worker-0";
  pod["spec"]["subdomain"] = "job";
  Json other = TestPod();
  other["metadata"]["name"] = "q";
  std::string hosts = HostsFile(pod, "127.0.2.1", {PodHostEntry(other, "127.0.2.2")});
  EXPECT_NE(hosts.find("127.0.0.1\tlocalhost"), std::string::npos);
  EXPECT_NE(hosts.find("127.0.2.1\tworker-0.job.ns.svc.cluster.local"), std::string::npos);
  EXPECT_NE(hosts.find("\tworker-0.job\t"), std::string::npos);
  EXPECT_NE(hosts.find("127.0.2.2\tq\tq.ns\tq.ns.svc\tq.ns.svc.cluster.local\n"),
            std::string::npos);
}

TEST(PodConfigTest, ServiceSelectorsMatchLabels) {
  Json pod = TestPod();
  EXPECT_TRUE(SelectorMatches(Json{{"spec", {{"selector", {{"app", "x"}}}}}}, pod));
  EXPECT_FALSE(SelectorMatches(Json{{"spec", {{"selector", {{"app", "y"}}}}}}, pod));
  EXPECT_FALSE(SelectorMatches(Json{{"spec", Json::object()}}, pod));
}

}  // namespace
}  // namespace skiff::node

namespace skiff::node {
namespace {

// `skiff up --max-pods N` sets the Node's pods capacity and allocatable (the kubelet's default 110
// otherwise), which is what the scheduler fits Pods against.
TEST(NodeObjectTest, PodsCapacityFollowsMaxPods) {
  MachineInfo m;
  m.cpus = 2;
  m.memory_bytes = int64_t{8} << 30;
  EXPECT_EQ(
      NodeObject("n", m, "none", std::chrono::system_clock::now())["status"]["capacity"]["pods"],
      "110");
  m.max_pods = 1024;
  Json node = NodeObject("n", m, "none", std::chrono::system_clock::now());
  EXPECT_EQ(node["status"]["capacity"]["pods"], "1024");
  EXPECT_EQ(node["status"]["allocatable"]["pods"], "1024");
}

}  // namespace
}  // namespace skiff::node

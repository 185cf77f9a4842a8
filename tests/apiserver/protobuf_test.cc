// Decoding Kubernetes protobuf request bodies. The fixtures are the exact bodies kubectl 1.32 sent
// for its imperative commands (captured through a recording proxy in front of skiff), so these
// tests pin the decoder to what kubectl really writes: empty strings and zero ints as present
// fields, non-pointer structs always written, map entries as {key, value} messages.
#include "apiserver/protobuf.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <ostream>
#include <string>

#include "apiserver/server.h"
#include "http/client.h"
#include "https_fixture.h"

namespace skiff::apiserver {
namespace {

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

api::ResourceInfo Res(const char* group, const char* kind) {
  api::ResourceInfo r;
  r.group = group;
  r.version = "v1";
  r.kind = kind;
  return r;
}

struct Fixture {
  const char* command;  // The kubectl command that sent the body.
  const char* group;
  const char* kind;
  const char* hex;
  const char* want;  // The decoded object, JSON.
};

void PrintTo(const Fixture& f, std::ostream* os) { *os << "kubectl " << f.command; }

class KubectlBodyTest : public testing::TestWithParam<Fixture> {};

TEST_P(KubectlBodyTest, DecodesToTheObject) {
  const Fixture& f = GetParam();
  StatusOr<Json> got = DecodeProtobufBody(Res(f.group, f.kind), FromHex(f.hex));
  ASSERT_TRUE(got.ok()) << f.command << ": " << got.status().ToString();
  EXPECT_EQ(*got, Json::parse(f.want)) << f.command << "\ngot: " << got->dump();
}

INSTANTIATE_TEST_SUITE_P(
    Kubectl132, KubectlBodyTest,
    testing::Values(
        Fixture{
            "create configmap c --from-literal=a=b --from-literal=x=y", "", "ConfigMap",
            "6b3873000a0f0a0276311209436f6e6669674d617012230a110a016312001a0022002a0032003800"
            "420012060a016112016212060a01781201791a002200",
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"creationTimestamp":null,"name":"c"},
                    "data":{"a":"b","x":"y"}})"},
        // --dry-run=server sends the same body; only the query string differs.
        Fixture{
            "create configmap c2 --from-literal=k=v --dry-run=server", "", "ConfigMap",
            "6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a02633212001a0022002a00320038"
            "00420012060a016b1201761a002200",
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"creationTimestamp":null,"name":"c2"},
                    "data":{"k":"v"}})"},
        Fixture{
            "create secret generic s --from-literal=p=q", "", "Secret",
            "6b3873000a0c0a0276311206536563726574121d0a110a017312001a0022002a0032003800420012"
            "060a01701201711a001a002200",
            R"({"apiVersion":"v1","kind":"Secret","metadata":{"creationTimestamp":null,"name":"s"},
                    "data":{"p":"cQ=="}})"},
        Fixture{
            "create secret docker-registry dr --docker-username=u --docker-password=p "
            "--docker-server=s",
            "", "Secret",
            "6b3873000a0c0a02763112065365637265741288010a120a02647212001a0022002a003200380042"
            "0012520a112e646f636b6572636f6e6669676a736f6e123d7b226175746873223a7b2273223a7b22"
            "757365726e616d65223a2275222c2270617373776f7264223a2270222c2261757468223a22645470"
            "77227d7d7d1a1e6b756265726e657465732e696f2f646f636b6572636f6e6669676a736f6e1a0022"
            "00",
            R"({"apiVersion":"v1","kind":"Secret","metadata":{"creationTimestamp":null,"name":"dr"},
                    "type":"kubernetes.io/dockerconfigjson",
                    "data":{".dockerconfigjson":
                      "eyJhdXRocyI6eyJzIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="}})"},
        Fixture{
            "create namespace ns1", "", "Namespace",
            "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a003200"
            "3800420012001a020a001a002200",
            R"({"apiVersion":"v1","kind":"Namespace","metadata":{"creationTimestamp":null,"name":"ns1"},
                    "spec":{},"status":{}})"},
        Fixture{
            "create serviceaccount sa1", "", "ServiceAccount",
            "6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022"
            "002a003200380042001a002200",
            R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"creationTimestamp":null,"name":"sa1"}})"},
        Fixture{"create role r --verb=get --resource=pods", "rbac.authorization.k8s.io", "Role",
                "6b3873000a240a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311204526f"
                "6c6512220a110a017212001a0022002a00320038004200120d0a0367657412001a04706f64731a00"
                "2200",
                // apiGroups [""] is the core group: an empty string inside a list is kept.
                R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role",
                    "metadata":{"creationTimestamp":null,"name":"r"},
                    "rules":[{"verbs":["get"],"apiGroups":[""],"resources":["pods"]}]})"},
        Fixture{"create rolebinding rb --role=r --user=u", "rbac.authorization.k8s.io",
                "RoleBinding",
                "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f"
                "6c6542696e64696e6712620a120a02726212001a0022002a0032003800420012260a045573657212"
                "19726261632e617574686f72697a6174696f6e2e6b38732e696f1a017522001a240a19726261632e"
                "617574686f72697a6174696f6e2e6b38732e696f1204526f6c651a01721a002200",
                R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding",
                    "metadata":{"creationTimestamp":null,"name":"rb"},
                    "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"u"}],
                    "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}})"},
        Fixture{"create clusterrole cr --verb=get --resource=nodes", "rbac.authorization.k8s.io",
                "ClusterRole",
                "6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b436c"
                "7573746572526f6c6512240a120a02637212001a0022002a00320038004200120e0a036765741200"
                "1a056e6f6465731a002200",
                R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole",
                    "metadata":{"creationTimestamp":null,"name":"cr"},
                    "rules":[{"verbs":["get"],"apiGroups":[""],"resources":["nodes"]}]})"},
        Fixture{"create clusterrolebinding crb --clusterrole=cr --group=g",
                "rbac.authorization.k8s.io", "ClusterRoleBinding",
                "6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c"
                "7573746572526f6c6542696e64696e67126c0a130a0363726212001a0022002a0032003800420012"
                "270a0547726f75701219726261632e617574686f72697a6174696f6e2e6b38732e696f1a01672200"
                "1a2c0a19726261632e617574686f72697a6174696f6e2e6b38732e696f120b436c7573746572526f"
                "6c651a0263721a002200",
                R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding",
                    "metadata":{"creationTimestamp":null,"name":"crb"},
                    "subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"g"}],
                    "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole",
                               "name":"cr"}})"},
        Fixture{"create priorityclass pc --value=100 --description=d", "scheduling.k8s.io",
                "PriorityClass",
                "6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c"
                "61737312310a120a02706312001a0022002a00320038004200106418002201642a14507265656d70"
                "744c6f7765725072696f726974791a002200",
                // globalDefault=false is written on the wire but omitempty in JSON.
                R"({"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass",
                    "metadata":{"creationTimestamp":null,"name":"pc"},"value":100,"description":"d",
                    "preemptionPolicy":"PreemptLowerPriority"})"},
        Fixture{
            "create quota q --hard=pods=3,requests.cpu=1", "", "ResourceQuota",
            "6b3873000a130a027631120d5265736f7572636551756f746112390a110a017112001a0022002a00"
            "32003800420012220a0b0a04706f647312030a01330a130a0c72657175657374732e63707512030a"
            "01311a001a002200",
            R"({"apiVersion":"v1","kind":"ResourceQuota","metadata":{"creationTimestamp":null,"name":"q"},
                    "spec":{"hard":{"pods":"3","requests.cpu":"1"}},"status":{}})"},
        Fixture{
            "create job j --image=busybox -- echo hi", "batch", "Job",
            "6b3873000a0f0a0862617463682f763112034a6f621282010a110a016a12001a0022002a00320038"
            "004200126332610a100a0012001a0022002a00320038004200124d122a0a016a120762757379626f"
            "781a046563686f1a0268692a0042006a007200800100880100900100a201001a054e657665723200"
            "42004a0052005800600068008201008a01009a0100c201001a082000280030003a001a002200",
            // The Job's status is not modelled (the server owns it) and is dropped.
            R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"creationTimestamp":null,"name":"j"},
                    "spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{
                      "containers":[{"name":"j","image":"busybox","command":["echo","hi"],
                                     "resources":{}}],
                      "restartPolicy":"Never"}}}})"},
        Fixture{"create service clusterip svc --tcp=80:8080", "", "Service",
                "6b3873000a0d0a02763112075365727669636512690a1f0a0373766312001a0022002a0032003800"
                "42005a0a0a03617070120373766312420a1b0a0738302d3830383012035443501850220708001090"
                "3f1a002800120a0a0361707012037376631a002209436c757374657249503a00420052005a006000"
                "68001a020a001a002200",
                R"({"apiVersion":"v1","kind":"Service",
                    "metadata":{"creationTimestamp":null,"name":"svc","labels":{"app":"svc"}},
                    "spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,
                                      "targetPort":8080}],
                            "selector":{"app":"svc"},"type":"ClusterIP"}})"},
        Fixture{"auth can-i delete tfjobs.kubeflow.org/mine -n kf", "authorization.k8s.io",
                "SelfSubjectAccessReview",
                "6b3873000a320a17617574686f72697a6174696f6e2e6b38732e696f2f7631121753656c66537562"
                "6a656374416363657373526576696577124c0a100a0012001a0022002a00320038004200122e0a2c"
                "0a026b66120664656c6574651a0c6b756265666c6f772e6f726722002a0674666a6f627332003a04"
                "6d696e651a08080012001a0020001a002200",
                R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
                    "metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"kf",
                    "verb":"delete","group":"kubeflow.org","resource":"tfjobs","name":"mine"}}})"},
        Fixture{"auth whoami", "authentication.k8s.io", "SelfSubjectReview",
                "6b3873000a2d0a1861757468656e7469636174696f6e2e6b38732e696f2f7631121153656c665375"
                "626a656374526576696577121a0a100a0012001a0022002a0032003800420012060a040a0012001a"
                "002200",
                R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview",
                    "metadata":{"creationTimestamp":null}})"},
        Fixture{"auth can-i --list", "authorization.k8s.io", "SelfSubjectRulesReview",
                "6b3873000a310a17617574686f72697a6174696f6e2e6b38732e696f2f7631121653656c66537562"
                "6a65637452756c657352657669657712230a100a0012001a0022002a0032003800420012090a0764"
                "656661756c741a04180022001a002200",
                R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview",
                    "metadata":{"creationTimestamp":null},"spec":{"namespace":"default"}})"}));

TEST(ProtoTableTest, EveryReferencedMessageIsDefined) {
  EXPECT_EQ(ProtoTableProblems(), std::vector<std::string>{});
}

TEST(ProtoTableTest, KnowsTheKindsKubectlCreates) {
  for (const char* kind :
       {"ConfigMap", "Secret", "Namespace", "ServiceAccount", "ResourceQuota", "Service", "Pod",
        "Job", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "PriorityClass"}) {
    EXPECT_TRUE(HasProtoMessage(kind)) << kind;
  }
  EXPECT_FALSE(HasProtoMessage("PodSpec"));  // Nested messages are never a body.
  EXPECT_FALSE(HasProtoMessage("TFJob"));
}

// ---- a hand-encoded Pod: the field shapes the captured bodies do not reach ----

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Int(uint32_t field, uint64_t v) { return Varint(field << 3) + Varint(v); }
std::string Bytes(uint32_t field, std::string_view b) {
  return Varint((field << 3) | 2) + Varint(b.size()) + std::string(b);
}
std::string Entry(uint32_t field, std::string_view key, std::string_view value) {
  return Bytes(field, Bytes(1, key) + Bytes(2, value));
}
std::string Quantity(std::string_view s) { return Bytes(1, s); }
std::string Envelope(std::string_view api_version, std::string_view kind, std::string_view raw) {
  return std::string("k8s\0", 4) + Bytes(1, Bytes(1, api_version) + Bytes(2, kind)) +
         Bytes(2, raw) + Bytes(3, "") + Bytes(4, "");
}

TEST(PodBodyTest, DecodesNestedTypesInlinesAndPointers) {
  std::string meta = Bytes(1, "p") + Bytes(2, "") + Int(7, 0) +
                     Bytes(8, Int(1, 1700000000)) +  // creationTimestamp
                     Bytes(9, "") +                  // an empty Time: the zero time, null
                     Entry(11, "app", "x") + Entry(12, "note", "") +
                     Bytes(13, Bytes(5, "v1") + Bytes(1, "ConfigMap") + Bytes(3, "o") +
                                   Bytes(4, "u1") + Int(6, 1)) +
                     Bytes(14, "f1") + Bytes(14, "f2");
  std::string empty_dir = Bytes(2, Bytes(1, "") + Bytes(2, Quantity("1Gi")));
  std::string config_map =
      Bytes(19, Bytes(1, Bytes(1, "cm")) + Bytes(2, Bytes(1, "k") + Bytes(2, "p")) + Int(3, 420));
  std::string volumes = Bytes(1, Bytes(1, "scratch") + Bytes(2, empty_dir)) +
                        Bytes(1, Bytes(1, "conf") + Bytes(2, config_map));
  std::string env = Bytes(7, Bytes(1, "A") + Bytes(2, "B")) +
                    Bytes(7, Bytes(1, "E") + Bytes(2, "") +
                                 Bytes(3, Bytes(4, Bytes(1, Bytes(1, "s")) + Bytes(2, "k"))));
  std::string liveness =
      Bytes(1, Bytes(2, Bytes(1, "/healthz") + Bytes(2, Int(1, 1) + Int(2, 0) + Bytes(3, "http")) +
                            Bytes(3, "") + Bytes(4, "HTTP"))) +
      Int(2, 0) + Int(4, 10);
  std::string readiness = Bytes(1, Bytes(3, Bytes(1, Int(1, 0) + Int(2, 8080) + Bytes(3, ""))));
  std::string container =
      Bytes(1, "c") + Bytes(2, "busybox") + Bytes(4, "sleep") + Bytes(4, "10") +
      Bytes(6, Bytes(1, "") + Int(2, 0) + Int(3, 80) + Bytes(4, "TCP")) + env +
      Bytes(8, Bytes(1, Bytes(1, "cpu") + Bytes(2, Quantity("500m")))) +
      Bytes(9, Bytes(1, "conf") + Int(2, 1) + Bytes(3, "/etc/conf")) + Bytes(10, liveness) +
      Bytes(11, readiness) +
      Bytes(15, Int(2, 0) + Int(4, 0)) +  // privileged=false, runAsUser=0: pointers, kept
      Int(16, 0) + Int(18, 0) + Bytes(99, "from the future");
  std::string affinity =
      Bytes(1, Bytes(1, Bytes(1, Bytes(1, Bytes(1, "zone") + Bytes(2, "In") + Bytes(3, "a")))));
  std::string spec =
      volumes + Bytes(2, container) + Bytes(3, "Always") + Int(4, 30) + Bytes(8, "") + Int(11, 0) +
      Bytes(14, Bytes(4, Varint(1) + Varint(2))) +  // packed supplementalGroups
      Bytes(18, affinity) + Bytes(22, Bytes(1, "k") + Bytes(2, "Exists") + Int(5, 0));
  std::string pod = Bytes(1, meta) + Bytes(2, spec) + Bytes(3, Bytes(1, "Pending"));

  StatusOr<Json> got = DecodeProtobufBody(Res("", "Pod"), Envelope("v1", "Pod", pod));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  Json want = Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "creationTimestamp": "2023-11-14T22:13:20Z",
                 "deletionTimestamp": null,
                 "labels": {"app": "x"}, "annotations": {"note": ""},
                 "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o",
                                      "uid": "u1", "controller": true}],
                 "finalizers": ["f1", "f2"]},
    "spec": {
      "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                  {"name": "conf", "configMap": {"name": "cm", "items": [{"key": "k", "path": "p"}],
                                                 "defaultMode": 420}}],
      "containers": [{
        "name": "c", "image": "busybox", "args": ["sleep", "10"],
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "env": [{"name": "A", "value": "B"},
                {"name": "E", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "resources": {"limits": {"cpu": "500m"}},
        "volumeMounts": [{"name": "conf", "readOnly": true, "mountPath": "/etc/conf"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                          "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "securityContext": {"privileged": false, "runAsUser": 0}}],
      "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
      "securityContext": {"supplementalGroups": [1, 2]},
      "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
          {"nodeSelectorTerms": [{"matchExpressions": [
              {"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
      "tolerations": [{"key": "k", "operator": "Exists", "tolerationSeconds": 0}]}})");
  EXPECT_EQ(*got, want) << got->dump(2);
}

// ---- errors ----

TEST(ProtobufErrorTest, KindsWithoutATableAre415NamingTheKind) {
  api::ResourceInfo tfjob = Res("kubeflow.org", "TFJob");
  StatusOr<Json> got = DecodeProtobufBody(tfjob, Envelope("kubeflow.org/v1", "TFJob", ""));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnsupportedMediaType);
  EXPECT_EQ(got.status().message(),
            "protobuf bodies are not supported for TFJob; send JSON (kubectl: use a manifest with "
            "apply -f)");
  // A custom kind that shares a built-in kind's name is not decoded with the built-in layout.
  got = DecodeProtobufBody(Res("example.com", "Job"), Envelope("example.com/v1", "Job", ""));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kUnsupportedMediaType);
}

TEST(ProtobufErrorTest, MalformedBodiesAre400) {
  api::ResourceInfo cm = Res("", "ConfigMap");
  std::string good = FromHex(
      "6b3873000a0f0a0276311209436f6e6669674d617012230a110a016312001a0022002a0032003800"
      "420012060a016112016212060a01781201791a002200");
  struct Case {
    const char* what;
    std::string body;
  } cases[] = {
      {"no magic", good.substr(4)},
      {"JSON sent as protobuf", R"({"kind":"ConfigMap"})"},
      {"truncated", good.substr(0, good.size() - 10)},
      {"another kind", Envelope("v1", "Secret", Bytes(1, Bytes(1, "s")))},
      {"wrong wire type", Envelope("v1", "ConfigMap", Int(1, 5))},
      {"bad varint", Envelope("v1", "ConfigMap", std::string("\x38\xff\xff", 3))},
  };
  for (const Case& c : cases) {
    StatusOr<Json> got = DecodeProtobufBody(cm, c.body);
    ASSERT_FALSE(got.ok()) << c.what;
    EXPECT_EQ(got.status().code(), Code::kBadRequest) << c.what << ": " << got.status().ToString();
  }
}

TEST(ProtoReaderTest, ReadsEveryWireType) {
  std::string data = Int(1, 300) + Bytes(2, "ab") + std::string("\x19", 1) +
                     std::string("\x01\x00\x00\x00\x00\x00\x00\x00", 8) + std::string("\x25", 1) +
                     std::string("\x02\x00\x00\x00", 4);
  ProtoReader r(data);
  ProtoField f;
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_EQ(f.value, 300u);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.bytes, "ab");
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.wire_type, 1u);
  EXPECT_EQ(f.value, 1u);
  ASSERT_TRUE(r.Next(&f));
  EXPECT_EQ(f.wire_type, 5u);
  EXPECT_EQ(f.value, 2u);
  EXPECT_FALSE(r.Next(&f));
  EXPECT_TRUE(r.ok());
  ProtoReader bad(
      std::string_view("\x0a\x05"
                       "ab",
                       4));  // a length past the end
  EXPECT_FALSE(bad.Next(&f));
  EXPECT_FALSE(bad.ok());
}

// ---- through the REST handler, as kubectl sends them ----

class ProtobufHandlerTest : public HttpsApiServerTest {
 protected:
  // As kubectl sends built-in kinds: a protobuf body, JSON accepted back.
  http::Response Do(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& content_type) {
    http::Headers h = {{"Accept", "application/vnd.kubernetes.protobuf, application/json"}};
    if (!content_type.empty()) h["Content-Type"] = content_type;
    return HttpsApiServerTest::Do(method, target, body, std::move(h));
  }
};

constexpr char kProto[] = "application/vnd.kubernetes.protobuf";

TEST_F(ProtobufHandlerTest, KubectlCreateConfigMapIsStored) {
  const std::string path = "/api/v1/namespaces/default/configmaps";
  std::string body = FromHex(
      "6b3873000a0f0a0276311209436f6e6669674d617012230a110a016312001a0022002a0032003800"
      "420012060a016112016212060a01781201791a002200");
  auto dry = Do("POST", path + "?dryRun=All&fieldManager=kubectl-create&fieldValidation=Strict",
                body, kProto);
  EXPECT_EQ(dry.status, 201) << dry.body;
  EXPECT_EQ(Do("GET", path + "/c", "", "").status, 404) << "a dry run stores nothing";

  auto created =
      Do("POST", path + "?fieldManager=kubectl-create&fieldValidation=Strict", body, kProto);
  ASSERT_EQ(created.status, 201) << created.body;
  auto got = Do("GET", path + "/c", "", "");
  ASSERT_EQ(got.status, 200);
  Json cm = Json::parse(got.body);
  EXPECT_EQ(cm["data"], Json::parse(R"({"a":"b","x":"y"})"));
  EXPECT_EQ(cm["metadata"]["namespace"], "default");
}

TEST_F(ProtobufHandlerTest, KindsWithoutATableStay415) {
  auto r = Do("POST", "/apis/kubeflow.org/v1/namespaces/default/tfjobs",
              Envelope("kubeflow.org/v1", "TFJob", ""), kProto);
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("protobuf bodies are not supported for TFJob"), std::string::npos)
      << r.body;
}

}  // namespace
}  // namespace skiff::apiserver

// The thin clients against a real in-process API server over TLS with the admin kubeconfig: what
// a user sees on stdout and stderr, and what ends up in the server.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "apiserver/server.h"
#include "cli/apply.h"
#include "cli/commands.h"
#include "client/http_client.h"
#include "client/kubeconfig.h"

namespace skiff::cli {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "skiff-cli-test-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::ofstream(File(name)) << content;
    return File(name);
  }

 private:
  std::string path_;
};

struct Result {
  int rc;
  std::string out;
  std::string err;
};

const client::Resource kConfigMaps{"", "v1", "configmaps"};
const client::Resource kTFJobs{"kubeflow.org", "v1", "tfjobs"};
const client::Resource kPods{"", "v1", "pods"};
const client::Resource kEvents{"", "v1", "events"};

constexpr char kConfigMapYaml[] = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: cm1
  labels:
    app: demo
data:
  a: "1"
  b: "2"
)";

constexpr char kTFJobYaml[] = R"(apiVersion: kubeflow.org/v1
kind: TFJob
metadata:
  name: mnist
spec:
  tfReplicaSpecs:
    Worker:
      replicas: 1
      restartPolicy: Never
      template:
        spec:
          containers:
          - name: tensorflow
            image: skiff/ml
)";

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    apiserver::ApiServerOptions o;
    o.data_dir = dir_.File("home");
    o.port = 0;
    o.in_memory_store = true;
    o.insecure_http = false;
    o.threads = 2;
    auto server = apiserver::ApiServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    flags_.kubeconfig = dir_.Write("kubeconfig", server_->Kubeconfig());
    auto config = client::LoadKubeconfig(flags_.kubeconfig);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    client_ = client::NewHttpClient(*config);
  }

  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
  }

  template <typename Options>
  Result Run(int (*command)(const ConnectionFlags&, const Options&, Streams), const Options& o,
             const std::string& stdin_text = "") {
    std::istringstream in(stdin_text);
    std::ostringstream out, err;
    int rc = command(flags_, o, Streams{in, out, err});
    return {rc, out.str(), err.str()};
  }

  Result Apply(const std::vector<std::string>& files, bool server_side = false,
               const std::string& stdin_text = "") {
    ApplyOptions o;
    o.files = files;
    o.server_side = server_side;
    return Run(RunApply, o, stdin_text);
  }

  Result Get(const std::vector<std::string>& args, const std::string& output = "",
             bool all_namespaces = false) {
    GetOptions o;
    o.args = args;
    o.output = output;
    o.all_namespaces = all_namespaces;
    return Run(RunGet, o);
  }

  Json ConfigMap(const std::string& name, const std::string& ns = "default") {
    return {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"data", {{"key", "value"}}}};
  }

  TempDir dir_;
  std::unique_ptr<apiserver::ApiServer> server_;
  std::unique_ptr<client::Client> client_;
  ConnectionFlags flags_;
};

TEST_F(CliTest, ClientSideApplyCreatesLeavesUnchangedAndPatchesThreeWay) {
  const std::string file = dir_.Write("cm.yaml", kConfigMapYaml);
  Result r = Apply({file});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/cm1 created\n");

  auto live = client_->Get(kConfigMaps, "default", "cm1");
  ASSERT_TRUE(live.ok());
  const std::string last =
      (*live)["metadata"]["annotations"][kLastAppliedAnnotation].get<std::string>();
  EXPECT_EQ(last.back(), '\n');
  EXPECT_EQ(ParseJson(last)->at("data"), Json({{"a", "1"}, {"b", "2"}}));

  r = Apply({file});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/cm1 unchanged\n");

  // Someone else adds a label; the next apply must keep it (it was never applied), drop `b`
  // (applied before, gone now) and add `c`.
  Json other = *live;
  other["metadata"]["labels"]["owner"] = "someone-else";
  ASSERT_TRUE(client_->Update(kConfigMaps, "default", other).ok());
  std::string changed = kConfigMapYaml;
  changed.replace(changed.find("  b: \"2\""), 8, "  c: \"3\"");
  dir_.Write("cm.yaml", changed);
  r = Apply({file});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/cm1 configured\n");
  live = client_->Get(kConfigMaps, "default", "cm1");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ((*live)["data"], Json({{"a", "1"}, {"c", "3"}}));
  EXPECT_EQ((*live)["metadata"]["labels"]["owner"], "someone-else");
  bool client_side_manager = false;
  for (const Json& mf : (*live)["metadata"].value("managedFields", Json::array())) {
    if (mf.value("manager", "") == "skiff-client-side-apply") client_side_manager = true;
  }
  EXPECT_TRUE(client_side_manager) << (*live)["metadata"].dump();
}

TEST_F(CliTest, ApplyReadsMultiDocumentFilesDirectoriesAndStdin) {
  fs::create_directories(dir_.File("manifests"));
  dir_.Write("manifests/1-job.yaml", std::string(kTFJobYaml) + "---\n" + kConfigMapYaml);
  dir_.Write("manifests/ignored.txt", "not: a manifest");
  Result r = Apply({dir_.File("manifests")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tfjob.kubeflow.org/mnist created\nconfigmap/cm1 created\n");
  EXPECT_TRUE(client_->Get(kTFJobs, "default", "mnist").ok());
  // The server defaults the TFJob's pod template; that alone is no change.
  r = Apply({dir_.File("manifests")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tfjob.kubeflow.org/mnist unchanged\nconfigmap/cm1 unchanged\n");

  std::string stdin_yaml = kConfigMapYaml;
  stdin_yaml.replace(stdin_yaml.find("name: cm1"), 9, "name: cm2");
  r = Apply({"-"}, false, stdin_yaml);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/cm2 created\n");
}

TEST_F(CliTest, ServerSideApplyRecordsTheSkiffFieldManager) {
  const std::string file = dir_.Write("job.yaml", kTFJobYaml);
  Result r = Apply({file}, true);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tfjob.kubeflow.org/mnist serverside-applied\n");
  auto live = client_->Get(kTFJobs, "default", "mnist");
  ASSERT_TRUE(live.ok());
  bool found = false;
  for (const Json& mf : (*live)["metadata"].value("managedFields", Json::array())) {
    if (mf.value("manager", "") == "skiff" && mf.value("operation", "") == "Apply") found = true;
  }
  EXPECT_TRUE(found) << (*live)["metadata"].dump();
  r = Apply({file}, true);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tfjob.kubeflow.org/mnist serverside-applied\n");
}

TEST_F(CliTest, ApplyReportsUnknownKindsAndNamespaceMismatch) {
  const std::string file =
      dir_.Write("bad.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
  Result r = Apply({file});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("no matches for kind \"Widget\" in version \"example.com/v1\""),
            std::string::npos)
      << r.err;

  std::string other_ns = kConfigMapYaml;
  other_ns.replace(other_ns.find("  name: cm1"), 11, "  name: cm1\n  namespace: other");
  flags_.namespace_ = "default";
  r = Apply({dir_.Write("ns.yaml", other_ns)});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("does not match the namespace \"default\""), std::string::npos) << r.err;
}

TEST_F(CliTest, GetPrintsTablesLikeKubectl) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("bb")).ok());
  Result r = Get({"configmaps"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("NAME   DATA   AGE\n"
                                                 "a      1      [0-9]+s\n"
                                                 "bb     1      [0-9]+s\n")))
      << r.out;

  // Short name, kind and kind.group forms reach the same resource.
  for (const char* arg : {"cm", "ConfigMap", "configmap/a"}) {
    r = Get({arg});
    EXPECT_EQ(r.rc, 0) << arg << ": " << r.err;
    EXPECT_EQ(r.out.rfind("NAME   DATA   AGE\na ", 0), 0u) << arg << ": " << r.out;
  }

  r = Get({"cm"}, "", true);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAMESPACE   NAME", 0), 0u) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\ndefault +a +1 "))) << r.out;

  ASSERT_TRUE(Apply({dir_.Write("job.yaml", kTFJobYaml)}).rc == 0);
  r = Get({"tfjob.kubeflow.org"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAME    STATE", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\nmnist   "), std::string::npos) << r.out;

  // Two types at once: each row names its type.
  r = Get({"cm,tfjobs"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("\nconfigmap/a "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\ntfjob.kubeflow.org/mnist "), std::string::npos) << r.out;
}

TEST_F(CliTest, GetWidePrintsPriorityColumns) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "default"}}},
              {"spec", {{"containers", {{{"name", "main"}, {"image", "busybox"}}}}}}};
  auto created = client_->Create(kPods, "default", pod);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  Result narrow = Get({"pods"});
  Result wide = Get({"pods"}, "wide");
  ASSERT_EQ(narrow.rc, 0) << narrow.err;
  ASSERT_EQ(wide.rc, 0) << wide.err;
  const std::string narrow_header = narrow.out.substr(0, narrow.out.find('\n'));
  const std::string wide_header = wide.out.substr(0, wide.out.find('\n'));
  EXPECT_EQ(narrow_header.rfind("NAME   READY   STATUS", 0), 0u) << narrow_header;
  EXPECT_GT(wide_header.size(), narrow_header.size());
  EXPECT_NE(wide_header.find("NODE"), std::string::npos) << wide_header;
  EXPECT_EQ(narrow_header.find("NODE"), std::string::npos) << narrow_header;
}

TEST_F(CliTest, GetPrintsObjectsAsYamlJsonAndNames) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("b")).ok());
  Result r = Get({"cm"}, "name");
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/a\nconfigmap/b\n");

  r = Get({"cm", "a"}, "yaml");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto one = ParseYaml(r.out);
  ASSERT_TRUE(one.ok()) << r.out;
  EXPECT_EQ((*one)["kind"], "ConfigMap");
  EXPECT_EQ((*one)["metadata"]["name"], "a");

  r = Get({"cm"}, "json");
  ASSERT_EQ(r.rc, 0) << r.err;
  auto list = ParseJson(r.out);
  ASSERT_TRUE(list.ok()) << r.out;
  EXPECT_EQ((*list)["kind"], "List");
  ASSERT_EQ((*list)["items"].size(), 2u);
  EXPECT_EQ((*list)["items"][1]["kind"], "ConfigMap");
  EXPECT_EQ((*list)["items"][1]["apiVersion"], "v1");
}

TEST_F(CliTest, GetReportsErrorsLikeKubectl) {
  Result r = Get({"configmaps", "nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "Error from server (NotFound): configmaps \"nope\" not found\n");

  r = Get({"tfjobs", "nope"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error from server (NotFound): tfjobs.kubeflow.org \"nope\" not found\n");

  r = Get({"bogus"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "error: the server doesn't have a resource type \"bogus\"\n");

  flags_.namespace_ = "empty";
  r = Get({"cm"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "No resources found in empty namespace.\n");
}

TEST_F(CliTest, DescribePrintsFieldsAndEvents) {
  Json cm = ConfigMap("cm1");
  cm["metadata"]["labels"] = {{"app", "demo"}};
  cm["data"] = {{"trainingSteps", "100"}};
  auto created = client_->Create(kConfigMaps, "default", cm);
  ASSERT_TRUE(created.ok());

  DescribeOptions o;
  o.args = {"cm", "cm1"};
  Result r = Run(RunDescribe, o);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Name:         cm1\nNamespace:    default\nLabels:       app=demo\n"
                        "Annotations:  <none>\n",
                        0),
            0u)
      << r.out;
  EXPECT_NE(r.out.find("API Version:  v1\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Data:\n  Training Steps:  100\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Creation Timestamp:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Managed Fields"), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nEvents: +<none>\n$"))) << r.out;

  const std::string now = "2024-01-01T00:00:00Z";
  Json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", "cm1.1"}, {"namespace", "default"}}},
                {"involvedObject",
                 {{"kind", "ConfigMap"},
                  {"name", "cm1"},
                  {"namespace", "default"},
                  {"uid", (*created)["metadata"]["uid"]}}},
                {"reason", "Synced"},
                {"message", "configuration loaded"},
                {"type", "Normal"},
                {"source", {{"component", "trainer"}}},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"count", 1}};
  auto ev = client_->Create(kEvents, "default", event);
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  // An event about another object must not show.
  event["metadata"]["name"] = "other.1";
  event["involvedObject"]["name"] = "other";
  event["reason"] = "Unrelated";
  ASSERT_TRUE(client_->Create(kEvents, "default", event).ok());

  r = Run(RunDescribe, o);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("\nEvents:\n  Type    Reason  Age +From     Message\n"
                        "  ----    ------  ---- +----     -------\n"
                        "  Normal  Synced  [0-9a-z]+ +trainer  configuration loaded\n$")))
      << r.out;
  EXPECT_EQ(r.out.find("Unrelated"), std::string::npos);
}

TEST_F(CliTest, DeleteByNameAndFileAndWaitsForFinalizers) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  DeleteOptions o;
  o.args = {"configmap", "a"};
  Result r = Run(RunDelete, o);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap \"a\" deleted\n");
  EXPECT_EQ(client_->Get(kConfigMaps, "default", "a").status().code(), Code::kNotFound);

  r = Run(RunDelete, o);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error from server (NotFound): configmaps \"a\" not found\n");
  o.ignore_not_found = true;
  r = Run(RunDelete, o);
  EXPECT_EQ(r.rc, 0) << r.err;

  const std::string file = dir_.Write("job.yaml", kTFJobYaml);
  ASSERT_EQ(Apply({file}).rc, 0);
  DeleteOptions by_file;
  by_file.files = {file};
  r = Run(RunDelete, by_file);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "tfjob.kubeflow.org \"mnist\" deleted\n");

  // A finalizer holds the object: delete waits, and says so when its timeout passes.
  Json held = ConfigMap("held");
  held["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", held).ok());
  DeleteOptions wait;
  wait.args = {"cm/held"};
  wait.timeout_seconds = 1;
  r = Run(RunDelete, wait);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "configmap \"held\" deleted\n");
  EXPECT_NE(r.err.find("timed out waiting"), std::string::npos) << r.err;
  auto live = client_->Get(kConfigMaps, "default", "held");
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE((*live)["metadata"].contains("deletionTimestamp"));
  ASSERT_TRUE(client_
                  ->Patch(kConfigMaps, "default", "held", client::PatchType::kMerge,
                          R"({"metadata":{"finalizers":null}})")
                  .ok());
}

TEST_F(CliTest, LogsReportsTheServersAnswer) {
  LogsOptions o;
  o.pod = "nope";
  Result r = Run(RunLogs, o);
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Error from server (NotFound): pods \"nope\" not found\n");

  Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "p"}, {"namespace", "default"}}},
      {"spec",
       {{"containers",
         {{{"name", "main"}, {"image", "busybox"}}, {{"name", "side"}, {"image", "busybox"}}}}}}};
  ASSERT_TRUE(client_->Create(kPods, "default", pod).ok());
  o.pod = "pod/p";
  o.tail = 10;
  r = Run(RunLogs, o);
  // Until the node agent serves pods/log the server refuses; the client must say what it said.
  if (r.rc != 0) {
    EXPECT_EQ(
        r.err.rfind("Defaulted container \"main\" out of: main, side\nError from server (", 0), 0u)
        << r.err;
  }
}

TEST_F(CliTest, FallsBackToSkiffsOwnKubeconfig) {
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  TempDir home;
  fs::create_directories(home.File("skiff"));
  home.Write("skiff/kubeconfig", server_->Kubeconfig());
  const char* old_home = std::getenv("HOME");
  const char* old_kc = std::getenv("KUBECONFIG");
  const std::string saved_home = old_home ? old_home : "";
  const std::string saved_kc = old_kc ? old_kc : "";
  ::setenv("HOME", home.File("").c_str(), 1);  // no ~/.kube/config there
  ::unsetenv("KUBECONFIG");
  flags_.kubeconfig.clear();
  flags_.data_dir = home.File("skiff");
  Result r = Get({"cm"}, "name");
  flags_.data_dir = home.File("missing");
  Result missing = Get({"cm"}, "name");
  if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
  if (old_kc) ::setenv("KUBECONFIG", saved_kc.c_str(), 1);
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "configmap/a\n");
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("run `skiff up`"), std::string::npos) << missing.err;
}

TEST_F(CliTest, TheBinaryRunsTheSameCommands) {
  if (!fs::exists(SKIFF_BINARY)) GTEST_SKIP() << SKIFF_BINARY << " is not built";
  ASSERT_TRUE(client_->Create(kConfigMaps, "default", ConfigMap("a")).ok());
  const std::string cmd = std::string(SKIFF_BINARY) + " get cm --kubeconfig " + flags_.kubeconfig +
                          " -o name 2>&1; " + SKIFF_BINARY + " get cm nope --kubeconfig " +
                          flags_.kubeconfig + " 2>&1; echo rc=$?";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  EXPECT_EQ(out,
            "configmap/a\nError from server (NotFound): configmaps \"nope\" not found\nrc=1\n");
}

}  // namespace
}  // namespace skiff::cli

// InferenceServices end to end, in process: the API, scheduler, node agent (real Pods as
// sandboxed processes), the InferenceService controller, autoscaler and gateway, serving a
// TorchScript model trained here by skiff-ml with the real skiff-model-server. Autoscaler windows
// are shortened (stable 2 s, grace 1 s) so scaling is observable in seconds.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "../client/test_util.h"
#include "../node/local_node.h"
#include "common/encoding.h"
#include "common/file.h"
#include "controllers/object_meta.h"
#include "http/client.h"
#include "inference/serving.h"
#include "node/agent.h"
#include "runtime/runtime.h"
#include "scheduler/scheduler.h"

namespace skiff::inference {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kBin = SKIFF_BIN_DIR;

// Trains one tiny model for the whole suite (seconds): $TMP/model (model.pt + model_card.json).
class TrainedModel {
 public:
  static const TrainedModel& Get() {
    static TrainedModel m;
    return m;
  }
  bool ok() const { return ok_; }
  const std::string& dir() const { return dir_; }
  const std::string& error() const { return error_; }

 private:
  TrainedModel() {
    if (!fs::exists(kBin + "/skiff-ml") || !fs::exists(kBin + "/skiff-model-server")) {
      error_ = "skiff-ml or skiff-model-server is not built in " + kBin;
      return;
    }
    root_ = (fs::temp_directory_path() / ("skiff-inference-model-" + std::to_string(getpid())))
                .string();
    fs::create_directories(root_);
    const std::string cmd = kBin + "/skiff-ml prepare --out " + root_ + "/data --limit 500 && " +
                            kBin + "/skiff-ml train --data " + root_ + "/data --model mlp " +
                            "--epochs 1 --threads 1 --out " + root_ + "/model > " + root_ +
                            "/train.log 2>&1";
    ok_ = std::system(cmd.c_str()) == 0 && fs::exists(root_ + "/model/model.pt");
    dir_ = root_ + "/model";
    if (!ok_) error_ = "training failed; see " + root_ + "/train.log";
    std::atexit([] { fs::remove_all(Get().root_); });
  }
  std::string root_, dir_, error_;
  bool ok_ = false;
};

const client::Resource kIsvcs{"serving.kserve.io", "v1beta1", "inferenceservices"};

class ServingE2eTest : public ::testing::Test, protected skiff::testing::LocalNode {
 protected:
  void SetUp() override {
    const TrainedModel& model = TrainedModel::Get();
    if (!model.ok()) GTEST_SKIP() << model.error();
    SetUpNode(env_, data_.path(), kBin);
    if (HasFatalFailure()) return;
    ServingOptions sopts;
    sopts.data_dir = data_.path();
    sopts.gateway.port = 0;
    sopts.autoscaler.stable_window = milliseconds(2000);
    sopts.autoscaler.scale_to_zero_grace = milliseconds(1000);
    auto serving = Serving::Start(*mgr_, env_.client.get(), sopts);
    ASSERT_TRUE(serving.ok()) << serving.status().ToString();
    serving_ = std::move(*serving);
    StartNode();
  }
  void TearDown() override {
    StopNode([this] {
      if (serving_) serving_->Stop();
    });
    serving_.reset();
    ReleaseNode();
    KillLeftovers(data_.path());
  }

  // Safety net between tests: a container supervisor (skiff-shim) of this test's data dir that
  // outlived the agent's shutdown would keep its Pod address busy for the next test's Pods.
  static void KillLeftovers(const std::string& data_dir) {
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(e.path() / "cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find("skiff-shim") != std::string::npos &&
          cmdline.find(data_dir + "/") != std::string::npos) {
        ADD_FAILURE() << "a container outlived the node agent's shutdown: " << pid;
        kill(-std::stoi(pid), SIGKILL);
        kill(std::stoi(pid), SIGKILL);
      }
    }
  }

  client::Client* c() { return env_.client.get(); }

  Json Isvc(const std::string& name, const std::string& predictor_yaml) {
    auto spec = ParseYaml(predictor_yaml);
    EXPECT_TRUE(spec.ok()) << spec.status().ToString();
    return {{"apiVersion", "serving.kserve.io/v1beta1"},
            {"kind", "InferenceService"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"predictor", *spec}}}};
  }
  std::string TorchPredictor(const std::string& uri, const std::string& extra = "") {
    return "model:\n  modelFormat: {name: pytorch}\n  storageUri: " + uri + "\n" + extra;
  }
  void Create(const Json& isvc) {
    auto created = c()->Create(kIsvcs, "default", isvc);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  // Applies `mutate` to the stored spec (retrying conflicts).
  void UpdateSpec(const std::string& name, const std::function<void(Json&)>& mutate) {
    for (int i = 0; i < 20; ++i) {
      auto got = c()->Get(kIsvcs, "default", name);
      ASSERT_TRUE(got.ok());
      Json obj = *got;
      mutate(obj["spec"]);
      if (c()->Update(kIsvcs, "default", obj).ok()) return;
    }
    FAIL() << "could not update " << name;
  }
  Json Get(const std::string& name) {
    auto got = c()->Get(kIsvcs, "default", name);
    return got.ok() ? *got : Json();
  }
  std::string Condition(const Json& isvc, const std::string& type, const char* field = "status") {
    if (!isvc.is_object()) return "";
    const Json status = isvc.value("status", Json::object());
    const Json* cond = controllers::FindCondition(status, type);
    return cond ? cond->value(field, "") : "";
  }
  bool WaitFor(const std::string& name, const std::function<bool(const Json&)>& pred,
               milliseconds timeout = seconds(90)) {
    Json last;
    const bool ok = skiff::testing::Eventually(
        [&] {
          last = Get(name);
          return pred(last);
        },
        timeout);
    EXPECT_TRUE(ok) << "last: " << last.dump(2);
    return ok;
  }
  bool WaitReady(const std::string& name) {
    return WaitFor(name, [&](const Json& o) { return Condition(o, "Ready") == "True"; });
  }
  // The Pods of `isvc`, without those being deleted unless `terminating`.
  std::vector<Json> PodsOf(const std::string& isvc, bool terminating = false) {
    client::ListOptions lo;
    lo.label_selector = std::string(kIsvcLabel) + "=" + isvc;
    auto list = c()->List(kPods, "default", lo);
    std::vector<Json> out;
    if (!list.ok()) return out;
    for (const Json& p : (*list)["items"]) {
      if (terminating || !controllers::IsDeleting(p)) out.push_back(p);
    }
    return out;
  }

  std::unique_ptr<http::Client> Gateway() {
    http::ClientOptions o;
    o.port = serving_->gateway_port();
    o.timeout = seconds(60);
    return http::NewClient(o);
  }
  static std::string InferBody() {
    Json data = Json::array();
    for (int i = 0; i < 784; ++i) data.push_back((i % 17) / 17.0);
    return Json{{"inputs", Json::array({{{"name", "input"},
                                         {"datatype", "FP32"},
                                         {"shape", {1, 1, 28, 28}},
                                         {"data", data}}})}}
        .dump();
  }
  StatusOr<http::Response> Infer(http::Client* client, const std::string& name, bool by_path) {
    http::ClientRequest r;
    r.method = "POST";
    r.body = InferBody();
    r.headers["Content-Type"] = "application/json";
    if (by_path) {
      r.target = "/serving/default/" + name + "/v2/models/" + name + "/infer";
    } else {
      r.target = "/v2/models/" + name + "/infer";
      r.headers["Host"] = name + ".default.example.com";
    }
    return client->Do(r);
  }

  skiff::testing::InProcessEnv env_;
  skiff::testing::TempDir data_;
  std::unique_ptr<Serving> serving_;
};

TEST_F(ServingE2eTest, TrainedModelServesThroughTheGateway) {
  Create(Isvc("mnist", TorchPredictor("file://" + TrainedModel::Get().dir())));
  ASSERT_TRUE(WaitReady("mnist"));
  const Json isvc = Get("mnist");
  const Json& st = isvc["status"];
  EXPECT_EQ(st["url"], "http://mnist.default.example.com");
  EXPECT_EQ(st["address"]["url"], serving_->gateway_url() + "/serving/default/mnist");
  EXPECT_EQ(st["clusterServingRuntimeName"], "skiff-torchscript");
  const Json& pred = st["components"]["predictor"];
  const std::string rev = pred["latestReadyRevision"];
  EXPECT_EQ(rev.rfind("mnist-predictor-", 0), 0u) << rev;
  EXPECT_EQ(pred["latestCreatedRevision"], rev);
  ASSERT_EQ(pred["traffic"].size(), 1u);
  EXPECT_EQ(pred["traffic"][0]["percent"], 100);
  EXPECT_EQ(pred["traffic"][0]["latestRevision"], true);
  EXPECT_EQ(st["modelStatus"]["transitionStatus"], "UpToDate");
  EXPECT_EQ(st["modelStatus"]["states"]["activeModelState"], "Loaded");
  EXPECT_EQ(st["modelStatus"]["copies"]["totalCopies"], 1);
  for (const char* t : {"PredictorReady", "IngressReady", "Ready"}) {
    EXPECT_EQ(Condition(isvc, t), "True") << t;
  }
  auto pods = PodsOf("mnist");
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(controllers::NameOf(pods[0]), rev + "-0");
  EXPECT_EQ(controllers::LabelOf(pods[0], "serving.knative.dev/revision"), rev);
  EXPECT_EQ(controllers::LabelOf(pods[0], "component"), "predictor");

  auto gw = Gateway();
  for (bool by_path : {false, true}) {
    auto r = Infer(gw.get(), "mnist", by_path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->headers["X-Skiff-Revision"], rev);
    Json out = Json::parse(r->body);
    EXPECT_EQ(out["model_name"], "mnist");
    ASSERT_FALSE(out["outputs"].empty()) << r->body;
    EXPECT_EQ(out["outputs"][0]["data"].size(), 10u) << r->body;
  }
  // V1 through the gateway, and the same model's answer by the pod directly.
  http::ClientRequest v1;
  v1.method = "GET";
  v1.target = "/v1/models/mnist";
  v1.headers["Host"] = "mnist.default.example.com";
  auto r = gw->Do(v1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Json::parse(r->body)["ready"], true);
}

TEST_F(ServingE2eTest, CanaryPromoteAndRollback) {
  const std::string v1_dir = TrainedModel::Get().dir();
  const std::string v2_dir = data_.File("model-v2");
  fs::copy(v1_dir, v2_dir, fs::copy_options::recursive);
  Create(Isvc("canary", TorchPredictor("file://" + v1_dir)));
  ASSERT_TRUE(WaitReady("canary"));
  const std::string rev1 =
      Get("canary")["status"]["components"]["predictor"]["latestReadyRevision"];

  UpdateSpec("canary", [&](Json& spec) {
    spec["predictor"]["model"]["storageUri"] = "file://" + v2_dir;
    spec["predictor"]["canaryTrafficPercent"] = 20;
  });
  std::string rev2;
  ASSERT_TRUE(WaitFor("canary", [&](const Json& o) {
    const Json* t = FindPath(o, "status.components.predictor.traffic");
    if (!t || t->size() != 2) return false;
    rev2 = (*t)[0].value("revisionName", "");
    return (*t)[0].value("percent", 0) == 20 && (*t)[1].value("percent", 0) == 80 &&
           (*t)[1].value("revisionName", "") == rev1 && (*t)[1].value("tag", "") == "prev";
  }));
  ASSERT_NE(rev2, rev1);
  auto gw = Gateway();
  auto count = [&](int n) {
    std::map<std::string, int> by_rev;
    for (int i = 0; i < n; ++i) {
      http::ClientRequest req;
      req.target = "/v2/models/canary";
      req.headers["Host"] = "canary.default.example.com";
      auto r = gw->Do(req);
      if (!r.ok() || r->status != 200) {
        ++by_rev["error"];
        continue;
      }
      ++by_rev[r->headers["X-Skiff-Revision"]];
    }
    return by_rev;
  };
  auto split = count(1000);
  EXPECT_EQ(split["error"], 0);
  EXPECT_NEAR(split[rev2], 200, 40);
  EXPECT_NEAR(split[rev1], 800, 40);

  // Promote: all traffic to the new revision; the old one is the previous rollout.
  UpdateSpec("canary", [&](Json& spec) { spec["predictor"].erase("canaryTrafficPercent"); });
  ASSERT_TRUE(WaitFor("canary", [&](const Json& o) {
    const Json* t = FindPath(o, "status.components.predictor.traffic");
    return t && t->size() == 1 && (*t)[0].value("revisionName", "") == rev2 &&
           StringAt(o, "status.components.predictor.previousRolledoutRevision") == rev1;
  }));
  split = count(50);
  EXPECT_EQ(split[rev2], 50);
  // The old revision's Pods go once it has no traffic.
  EXPECT_TRUE(skiff::testing::Eventually([&] {
    for (const Json& p : PodsOf("canary")) {
      if (controllers::LabelOf(p, "serving.knative.dev/revision") == rev1) return false;
    }
    return true;
  }));

  // Roll back: canaryTrafficPercent 0 sends everything to the previous revision again.
  UpdateSpec("canary", [&](Json& spec) { spec["predictor"]["canaryTrafficPercent"] = 0; });
  ASSERT_TRUE(WaitFor("canary", [&](const Json& o) {
    const Json* t = FindPath(o, "status.components.predictor.traffic");
    return t && t->size() == 2 && (*t)[1].value("revisionName", "") == rev1 &&
           (*t)[1].value("percent", 0) == 100;
  }));
  split = count(50);  // the first requests wait for rev1's replica to come back
  EXPECT_EQ(split[rev1], 50);
}

TEST_F(ServingE2eTest, ScalesFromZeroOnTheFirstRequest) {
  Create(Isvc("zero", TorchPredictor("file://" + TrainedModel::Get().dir(), "minReplicas: 0\n")));
  ASSERT_TRUE(WaitReady("zero"));
  // Idle: stable window (2 s) + grace (1 s), then no Pods, not even terminating ones.
  ASSERT_TRUE(
      skiff::testing::Eventually([&] { return PodsOf("zero", true).empty(); }, seconds(60)));
  EXPECT_EQ(Condition(Get("zero"), "Ready"), "True");  // scaled to zero is still ready
  auto gw = Gateway();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Infer(gw.get(), "zero", false);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_GT(waited, milliseconds(50));  // it had to wait for a replica
  EXPECT_GE(PodsOf("zero").size(), 1u);
  std::printf("scale from zero: first answer after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(waited).count()));
}

TEST_F(ServingE2eTest, LoadRaisesReplicasAndIdleReturnsToMin) {
  Create(Isvc("load", TorchPredictor("file://" + TrainedModel::Get().dir(),
                                     "minReplicas: 1\nmaxReplicas: 3\nscaleTarget: 1\n")));
  ASSERT_TRUE(WaitReady("load"));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0}, done{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      auto gw = Gateway();
      while (!stop.load()) {
        auto r = Infer(gw.get(), "load", false);
        if (!r.ok() || r->status != 200) ++errors;
        ++done;
      }
    });
  }
  const bool scaled =
      skiff::testing::Eventually([&] { return PodsOf("load").size() >= 2; }, seconds(30));
  // Keep the load until a second replica serves.
  skiff::testing::Eventually(
      [&] {
        return FindPath(Get("load"), "status.modelStatus.copies.totalCopies") &&
               *FindPath(Get("load"), "status.modelStatus.copies.totalCopies") >= 2;
      },
      seconds(30));
  stop.store(true);
  for (auto& t : clients) t.join();
  EXPECT_TRUE(scaled) << "replicas: " << PodsOf("load").size();
  EXPECT_EQ(errors.load(), 0) << "of " << done.load();
  EXPECT_TRUE(skiff::testing::Eventually([&] { return PodsOf("load").size() == 1; }, seconds(40)))
      << "replicas: " << PodsOf("load").size();
}

// The model server's process of a Pod of `isvc` (not its sandbox wrapper).
pid_t ModelServerPid(const std::string& isvc) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    size_t start = 0;
    for (size_t i = 0; i <= cmdline.size(); ++i) {
      if (i == cmdline.size() || cmdline[i] == '\0') {
        if (i > start) argv.push_back(cmdline.substr(start, i - start));
        start = i + 1;
      }
    }
    if (argv.empty() || argv[0].size() < 18 ||
        argv[0].compare(argv[0].size() - 18, 18, "skiff-model-server") != 0) {
      continue;
    }
    for (const std::string& a : argv) {
      if (a == "--model-name=" + isvc) return static_cast<pid_t>(std::stoi(name));
    }
  }
  return -1;
}

TEST_F(ServingE2eTest, KilledModelServerFailsOnlyItsRoutesAndRecovers) {
  Create(Isvc("victim", TorchPredictor("file://" + TrainedModel::Get().dir(), "timeout: 2\n")));
  Create(Isvc("bystander", TorchPredictor("file://" + TrainedModel::Get().dir())));
  ASSERT_TRUE(WaitReady("victim"));
  ASSERT_TRUE(WaitReady("bystander"));
  const pid_t pid = ModelServerPid("victim");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  auto gw = Gateway();
  // Until the agent restarts it, the victim answers 502 (connection refused) or 503 (no ready
  // replica within its 2 s timeout); the bystander keeps answering.
  bool failed = false;
  for (int i = 0; i < 20 && !failed; ++i) {
    auto r = Infer(gw.get(), "victim", false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->status == 502 || r->status == 503) {
      failed = true;
      EXPECT_NE(Json::parse(r->body).value("error", ""), "") << r->body;
    } else {
      EXPECT_EQ(r->status, 200) << r->body;
    }
    auto b = Infer(gw.get(), "bystander", false);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->status, 200) << b->body;
  }
  EXPECT_TRUE(failed) << "the gateway never noticed the dead model server";
  EXPECT_TRUE(skiff::testing::Eventually(
      [&] {
        auto r = Infer(gw.get(), "victim", false);
        return r.ok() && r->status == 200;
      },
      seconds(60)));
}

// A custom transformer (a python3 container) in front of the predictor: the gateway sends the
// service's requests to the transformer, which reaches the predictor through the gateway with
// the --predictor_host it was given, as KServe's transformers do.
TEST_F(ServingE2eTest, TransformerChainsToThePredictor) {
  const std::string script = R"PY(
import http.server, json, os, sys, urllib.request
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
host = args["predictor_host"]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        req = urllib.request.Request("http://" + host + self.path, data=body,
                                     headers={"Content-Type": "application/json"})
        out = json.loads(urllib.request.urlopen(req).read())
        out["transformed_by"] = args["model_name"]
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((os.environ["POD_IP"], 8080), H).serve_forever()
)PY";
  Json isvc = Isvc("chain", TorchPredictor("file://" + TrainedModel::Get().dir()));
  isvc["spec"]["transformer"] = {
      {"containers", Json::array({{{"name", "kserve-container"},
                                   {"image", "python:3"},
                                   {"command", Json::array({"python3", "-c", script})}}})}};
  Create(isvc);
  ASSERT_TRUE(WaitReady("chain"));
  const Json o = Get("chain");
  EXPECT_EQ(Condition(o, "TransformerReady"), "True");
  const std::string trev = StringAt(o, "status.components.transformer.latestReadyRevision");
  EXPECT_EQ(trev.rfind("chain-transformer-", 0), 0u) << trev;
  auto gw = Gateway();
  auto r = Infer(gw.get(), "chain", false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->headers["X-Skiff-Revision"], trev);
  Json out = Json::parse(r->body);
  EXPECT_EQ(out["transformed_by"], "chain");
  EXPECT_EQ(out["outputs"][0]["data"].size(), 10u) << r->body;
  // The predictor alone, by its component host.
  http::ClientRequest direct;
  direct.target = "/v2/models/chain";
  direct.headers["Host"] = "chain-predictor.default.example.com";
  r = gw->Do(direct);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["X-Skiff-Revision"],
            StringAt(o, "status.components.predictor.latestReadyRevision"));
}

// The seed's image-classifier shape: a transformer and an explainer that name formats skiff has
// no images for (custom, lime) run skiff's built-in ones, which reach the predictor through the
// gateway. Raw pixels sent to the service come back as the predictor's own logits; `:explain`
// returns an occlusion saliency map.
TEST_F(ServingE2eTest, BuiltinTransformerAndExplainerServeTheSeedsShape) {
  Json isvc = Isvc("classifier", TorchPredictor("file://" + TrainedModel::Get().dir()));
  isvc["spec"]["transformer"] = {{"model", {{"modelFormat", {{"name", "custom"}}}}}};
  isvc["spec"]["explainer"] = {{"model", {{"modelFormat", {{"name", "lime"}}}}}};
  Create(isvc);
  ASSERT_TRUE(WaitReady("classifier"));
  const Json o = Get("classifier");
  EXPECT_EQ(Condition(o, "TransformerReady"), "True");
  EXPECT_EQ(Condition(o, "ExplainerReady"), "True");
  std::string pixels;
  Json floats = Json::array();
  for (int i = 0; i < 784; ++i) {
    pixels.push_back(static_cast<char>((i * 7) % 256));
    floats.push_back(static_cast<double>((i * 7) % 256));
  }
  auto gw = Gateway();
  auto post = [&](const std::string& target, const Json& body) {
    http::ClientRequest r;
    r.method = "POST";
    r.target = target;
    r.body = body.dump();
    r.headers["Content-Type"] = "application/json";
    r.headers["Host"] = "classifier.default.example.com";
    return gw->Do(r);
  };
  Json image = {{"image_bytes", {{"b64", Base64Encode(pixels)}}}};
  auto predicted = post("/v1/models/classifier:predict", {{"instances", Json::array({image})}});
  ASSERT_TRUE(predicted.ok()) << predicted.status().ToString();
  ASSERT_EQ(predicted->status, 200) << predicted->body;
  // The predictor alone, with the same pixels as numbers.
  http::ClientRequest direct;
  direct.method = "POST";
  direct.target = "/v2/models/classifier/infer";
  direct.headers["Host"] = "classifier-predictor.default.example.com";
  direct.headers["Content-Type"] = "application/json";
  direct.body = Json{{"inputs", Json::array({{{"name", "input"},
                                              {"datatype", "FP32"},
                                              {"shape", {1, 1, 28, 28}},
                                              {"data", floats}}})}}
                    .dump();
  auto reference = gw->Do(direct);
  ASSERT_TRUE(reference.ok());
  ASSERT_EQ(reference->status, 200) << reference->body;
  const Json logits = Json::parse(reference->body)["outputs"][0]["data"];
  // Compared as floats: the two servers print the same float values with different digits.
  EXPECT_EQ(Json::parse(predicted->body)["predictions"][0].get<std::vector<float>>(),
            logits.get<std::vector<float>>());

  auto explained = post("/v1/models/classifier:explain", {{"instances", Json::array({image})}});
  ASSERT_TRUE(explained.ok());
  ASSERT_EQ(explained->status, 200) << explained->body;
  const Json e = Json::parse(explained->body)["explanations"][0];
  EXPECT_EQ(e["method"], "occlusion");
  EXPECT_EQ(e["saliency"].size(), 28u);
  std::vector<double> l = logits.get<std::vector<double>>();
  EXPECT_EQ(e["target"].get<int64_t>(), std::max_element(l.begin(), l.end()) - l.begin());
}

TEST_F(ServingE2eTest, SeedTensorflowServiceHasNoSupportingRuntime) {
  auto text = ReadFile(std::string(SKIFF_SHARED_DIR) + "/seed/03-inferenceservice-mnist.yaml");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto docs = ParseYamlDocuments(*text);
  ASSERT_TRUE(docs.ok() && docs->size() == 1);
  Json isvc = (*docs)[0];
  // The seed's KFServing group is served as an alias of serving.kserve.io.
  auto created =
      c()->Create({"serving.kubeflow.org", "v1beta1", "inferenceservices"}, "default", isvc);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  ASSERT_TRUE(WaitFor("mnist-model", [&](const Json& o) {
    return Condition(o, "PredictorReady") == "False" && Condition(o, "Ready") == "False";
  }));
  const Json o = Get("mnist-model");
  EXPECT_EQ(Condition(o, "PredictorReady", "reason"), "NoSupportingRuntime");
  const std::string msg = Condition(o, "PredictorReady", "message");
  EXPECT_NE(msg.find("tensorflow 2.8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("pytorch"), std::string::npos) << msg;
  EXPECT_EQ(StringAt(o, "status.modelStatus.lastFailureInfo.reason"), "NoSupportingRuntime");
  EXPECT_EQ(StringAt(o, "status.modelStatus.transitionStatus"), "InvalidSpec");
  // Its sklearn transformer would be skiff's built-in one, which waits for a runnable predictor.
  EXPECT_EQ(Condition(o, "TransformerReady", "reason"), "PredictorNotRunnable");
  EXPECT_NE(Condition(o, "TransformerReady", "message").find("NoSupportingRuntime"),
            std::string::npos);
  EXPECT_TRUE(PodsOf("mnist-model").empty());
}

TEST_F(ServingE2eTest, MissingModelIsReportedWithoutPods) {
  Create(Isvc("nomodel", TorchPredictor("gs://no-such-bucket/mnist")));
  ASSERT_TRUE(
      WaitFor("nomodel", [&](const Json& o) { return Condition(o, "PredictorReady") == "False"; }));
  const Json o = Get("nomodel");
  EXPECT_EQ(Condition(o, "PredictorReady", "reason"), "StorageUriNotFound");
  EXPECT_NE(Condition(o, "PredictorReady", "message").find("/buckets/no-such-bucket/mnist"),
            std::string::npos);
  EXPECT_TRUE(PodsOf("nomodel").empty());
  // Putting the model where the message says makes it servable.
  fs::create_directories(data_.File("buckets/no-such-bucket"));
  fs::copy(TrainedModel::Get().dir(), data_.File("buckets/no-such-bucket/mnist"),
           fs::copy_options::recursive);
  UpdateSpec("nomodel", [](Json& spec) { spec["predictor"]["minReplicas"] = 1; });
  EXPECT_TRUE(WaitReady("nomodel"));
}

}  // namespace
}  // namespace skiff::inference

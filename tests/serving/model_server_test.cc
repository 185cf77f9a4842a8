// End-to-end tests of the skiff-model-server binary: a tiny Fashion-MNIST MLP and an xgboost
// model trained here by skiff-ml, served from a model repository; predictions over V2 JSON,
// binary and V1 equal the model run in-process; errors, disconnects, batching, load/unload,
// metrics and a clean shutdown.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/json.h"
#include "ml/prepare.h"
#include "model_fixture.h"
#include "serving/model.h"
#include "test_http.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;
using testing::Connection;
using testing::Fetch;
using testing::HttpReply;
using namespace testing;  // NOLINT: the fixture helpers

class ModelServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("skiff-serving-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
    if (!ml::FindFashionMnist("").ok()) return;
    if (!TrainTinyMlp(dir_, dir_ / "repo/mnist", 500, &setup_error_) ||
        !RunSkiffMl(
            dir_, "ctr",
            {"prepare", "--generate", "ctr", "--rows", "2000", "--out", (dir_ / "ctr").string()},
            &setup_error_) ||
        !RunSkiffMl(dir_, "xgb",
                    {"xgb-train", "--data", (dir_ / "ctr").string(), "--out",
                     (dir_ / "repo/ctr/model.json").string(), "--rounds", "10", "--threads", "1"},
                    &setup_error_)) {
      return;
    }
    server_ =
        Spawn({SKIFF_MODEL_SERVER, "--model-repository", (dir_ / "repo").string(), "--address",
               "127.0.0.1", "--http-port", "0", "--http-threads", "2", "--max-batch-size", "16",
               "--max-latency-us", "2000", "--max-body-bytes", "2000000"},
              dir_ / "server.log");
    port_ = WaitListening(server_, dir_ / "server.log", "skiff-model-server ready");
    if (port_ == 0) setup_error_ += "server did not start: " + Slurp(dir_ / "server.log");
    images_ = ReadTestSplit(dir_ / "data");
    module_ = torch::jit::load((dir_ / "repo/mnist/model.pt").string());
    module_.eval();
  }

  static void TearDownTestSuite() {
    // A clean shutdown: SIGTERM drains and exits 0.
    if (server_ > 0) EXPECT_TRUE(StopsCleanly(server_)) << Slurp(dir_ / "server.log");
    fs::remove_all(dir_);
  }

  void SetUp() override {
    if (!ml::FindFashionMnist("").ok()) {
      GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/bootstrap installs it)";
    }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    ASSERT_NE(port_, 0);
  }

  // The in-process reference: the TorchScript module run directly.
  static std::vector<float> Forward(int64_t first, int64_t n) {
    torch::NoGradGuard no_grad;
    auto x = torch::from_blob(images_.x.data() + first * 784, {n, 1, 28, 28}, torch::kFloat32);
    auto out = module_.forward({x}).toTensor().contiguous();
    return std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
  }

  static std::string JsonRequest(int64_t first, int64_t n, const std::string& id = "") {
    std::string s = "{";
    if (!id.empty()) s += "\"id\":\"" + id + "\",";
    s += R"("inputs":[{"name":"input","datatype":"FP32","shape":[)" + std::to_string(n) +
         R"(,1,28,28],"data":)" + FloatsJson(images_.x.data() + first * 784, n * 784) + "}]}";
    return s;
  }

  static HttpReply Post(const std::string& path, const std::string& body,
                        const std::string& headers = "") {
    return Fetch(port_, "POST", path, body, headers);
  }

  static double Metric(const std::string& text, const std::string& series) {
    size_t at = text.find(series + " ");
    return at == std::string::npos ? -1 : std::atof(text.c_str() + at + series.size() + 1);
  }

  static inline fs::path dir_;
  static inline pid_t server_ = -1;
  static inline uint16_t port_ = 0;
  static inline std::string setup_error_;
  static inline Images images_;
  static inline torch::jit::Module module_;
};

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // Batched GEMM may sum in another order than batch-1 GEMM: equal to float rounding.
    EXPECT_NEAR(got[i], want[i], 1e-4f * std::max(1.0f, std::abs(want[i]))) << i;
  }
}

TEST_F(ModelServerTest, V2JsonAnswersLikeTheModelInProcess) {
  for (int64_t i = 0; i < 20; ++i) {
    auto r = Post("/v2/models/mnist/infer", JsonRequest(i, 1, "req-" + std::to_string(i)));
    ASSERT_EQ(r.status, 200) << r.body;
    auto j = Json::parse(r.body);
    EXPECT_EQ(j["id"], "req-" + std::to_string(i));
    EXPECT_EQ(j["model_name"], "mnist");
    EXPECT_EQ(j["outputs"][0]["name"], "output");
    EXPECT_EQ(j["outputs"][0]["shape"], Json::array({1, 10}));
    ExpectClose(JsonFloats(j["outputs"][0]["data"]), Forward(i, 1));
  }
  // Several rows in one request, nested data, through the versioned URL.
  std::string nested = "[";
  for (int64_t r = 0; r < 3; ++r) {
    nested += (r ? ",[[" : "[[");
    for (int row = 0; row < 28; ++row) {
      nested += (row ? "," : "") + FloatsJson(images_.x.data() + (20 + r) * 784 + row * 28, 28);
    }
    nested += "]]";
  }
  nested += "]";
  auto r = Post("/v2/models/mnist/versions/1/infer",
                R"({"inputs":[{"name":"input","datatype":"FP32","shape":[3,1,28,28],"data":)" +
                    nested + "}]}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["outputs"][0]["shape"], Json::array({3, 10}));
  ExpectClose(JsonFloats(j["outputs"][0]["data"]), Forward(20, 3));
}

TEST_F(ModelServerTest, V2BinaryAnswersLikeTheModelInProcess) {
  for (int64_t i = 0; i < 10; ++i) {
    std::string header =
        R"({"inputs":[{"name":"input","datatype":"FP32","shape":[2,1,28,28],)"
        R"("parameters":{"binary_data_size":6272}}],"parameters":{"binary_data_output":true}})";
    std::string body =
        header +
        std::string(reinterpret_cast<const char*>(images_.x.data() + i * 2 * 784), 2 * 784 * 4);
    auto r = Post("/v2/models/mnist/infer", body,
                  "Content-Type: application/octet-stream\r\nInference-Header-Content-Length: " +
                      std::to_string(header.size()) + "\r\n");
    ASSERT_EQ(r.status, 200) << r.body;
    size_t json_len = std::stoul(r.Header("inference-header-content-length"));
    auto j = Json::parse(r.body.substr(0, json_len));
    EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 80);
    ASSERT_EQ(r.body.size(), json_len + 80);
    std::vector<float> got(20);
    std::memcpy(got.data(), r.body.data() + json_len, 80);
    ExpectClose(got, Forward(i * 2, 2));
  }
  // Raw binary: no JSON header at all.
  auto raw = Post("/v2/models/mnist/infer",
                  std::string(reinterpret_cast<const char*>(images_.x.data()), 784 * 4),
                  "Inference-Header-Content-Length: 0\r\n");
  ASSERT_EQ(raw.status, 200) << raw.body;
  size_t json_len = std::stoul(raw.Header("inference-header-content-length"));
  std::vector<float> got(10);
  ASSERT_EQ(raw.body.size(), json_len + 40);
  std::memcpy(got.data(), raw.body.data() + json_len, 40);
  ExpectClose(got, Forward(0, 1));
}

TEST_F(ModelServerTest, V1PredictAnswersLikeTheModelInProcess) {
  std::string instances;
  for (int64_t i = 0; i < 4; ++i) {
    instances += (i ? "," : "") + FloatsJson(images_.x.data() + i * 784, 784);
  }
  auto r = Post("/v1/models/mnist:predict", "{\"instances\":[" + instances + "]}");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Json::parse(r.body);
  ASSERT_EQ(j["predictions"].size(), 4u);
  std::vector<float> got;
  for (const auto& p : j["predictions"]) {
    auto row = JsonFloats(p);
    got.insert(got.end(), row.begin(), row.end());
  }
  ExpectClose(got, Forward(0, 4));
  auto model = Json::parse(Fetch(port_, "GET", "/v1/models/mnist").body);
  EXPECT_EQ(model["ready"], true);
  auto explain = Post("/v1/models/mnist:explain", "{\"instances\":[" + instances + "]}");
  EXPECT_EQ(explain.status, 501);
  EXPECT_TRUE(Json::parse(explain.body).contains("error"));
}

TEST_F(ModelServerTest, XgboostAnswersLikeTheModelInProcess) {
  RegisterXgboostBackend();
  auto model = LoadModel("ctr", dir_ / "repo/ctr", {});
  ASSERT_TRUE(model.ok()) << model.status().message();
  const auto& in = (*model)->metadata().inputs[0];
  int64_t features = in.shape[1];
  auto meta = Json::parse(Fetch(port_, "GET", "/v2/models/ctr").body);
  EXPECT_EQ(meta["platform"], "xgboost_json");
  EXPECT_EQ(meta["inputs"][0]["shape"], Json::array({-1, features}));
  std::vector<float> x(3 * features);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 11) * 0.25f;
  Tensor t{"input",
           DataType::kFp32,
           {3, features},
           std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4)};
  std::vector<Tensor> out;
  ASSERT_TRUE((*model)->Infer(std::span<const Tensor>(&t, 1), &out).ok());
  std::vector<float> want(out[0].data.size() / 4);
  std::memcpy(want.data(), out[0].data.data(), out[0].data.size());
  auto r =
      Post("/v2/models/ctr/infer", R"({"inputs":[{"name":"input","datatype":"FP32","shape":[3,)" +
                                       std::to_string(features) +
                                       "],\"data\":" + FloatsJson(x.data(), x.size()) + "}]}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonFloats(Json::parse(r.body)["outputs"][0]["data"]), want);
}

TEST_F(ModelServerTest, MetadataAndHealth) {
  EXPECT_EQ(Fetch(port_, "GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/mnist/ready").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/mnist/versions/1/ready").status, 200);
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/nope/ready").status, 404);
  auto server = Json::parse(Fetch(port_, "GET", "/v2").body);
  EXPECT_EQ(server["name"], "skiff-model-server");
  EXPECT_NE(
      std::find(server["extensions"].begin(), server["extensions"].end(), "binary_tensor_data"),
      server["extensions"].end());
  auto m = Json::parse(Fetch(port_, "GET", "/v2/models/mnist").body);
  EXPECT_EQ(m["name"], "mnist");
  EXPECT_EQ(m["platform"], "pytorch_torchscript");
  EXPECT_EQ(m["versions"], Json::array({"1"}));
  EXPECT_EQ(m["inputs"][0],
            Json::parse(R"({"name":"input","datatype":"FP32","shape":[-1,1,28,28]})"));
  EXPECT_EQ(m["outputs"][0], Json::parse(R"({"name":"output","datatype":"FP32","shape":[-1,10]})"));
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/mnist/versions/1").status, 200);
}

TEST_F(ModelServerTest, BadRequestsGetTheProtocolsErrorsAndTheServerKeepsServing) {
  struct Case {
    std::string method, path, body, headers;
    int status;
  };
  std::string ints = "[";
  for (int i = 0; i < 784; ++i) ints += (i ? ",1" : "1");
  ints += "]";
  std::string ok_header = R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],)"
                          R"("parameters":{"binary_data_size":3136}}]})";
  std::vector<Case> cases = {
      {"POST", "/v2/models/mnist/infer", "{not json", "", 400},
      {"POST", "/v2/models/mnist/infer", "", "", 400},
      {"POST", "/v2/models/mnist/infer",
       R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,784],"data":)" +
           FloatsJson(images_.x.data(), 784) + "}]}",
       "", 400},
      {"POST", "/v2/models/mnist/infer",
       R"({"inputs":[{"name":"input","datatype":"INT32","shape":[1,1,28,28],"data":)" + ints +
           "}]}",
       "", 400},
      {"POST", "/v2/models/mnist/infer",
       R"({"inputs":[{"name":"input","datatype":"FP64","shape":[1,1,28,28],"data":)" +
           FloatsJson(images_.x.data(), 784) + "}]}",
       "", 400},
      {"POST", "/v2/models/mnist/infer", ok_header + std::string(100, 'x'),
       "Inference-Header-Content-Length: " + std::to_string(ok_header.size()) + "\r\n", 400},
      {"POST", "/v2/models/mnist/infer", JsonRequest(0, 1),
       "Inference-Header-Content-Length: x\r\n", 400},
      {"POST", "/v2/models/mnist/infer",
       R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],"data":)" +
           FloatsJson(images_.x.data(), 784) + R"(}],"outputs":[{"name":"probabilities"}]})",
       "", 400},
      {"POST", "/v2/models/nope/infer", JsonRequest(0, 1), "", 404},
      {"POST", "/v2/models/mnist/versions/7/infer", JsonRequest(0, 1), "", 404},
      {"GET", "/v2/models/nope", "", "", 404},
      {"POST", "/v1/models/nope:predict", "{\"instances\":[]}", "", 404},
      {"POST", "/v1/models/mnist:predict", "{\"instances\":[[1,2]]}", "", 400},
      {"GET", "/v2/models/mnist/infer", "", "", 405},
      {"GET", "/v3/anything", "", "", 404},
  };
  for (const auto& c : cases) {
    auto r = Fetch(port_, c.method, c.path, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 80)
                                  << " -> " << r.body;
    if (r.status >= 400) {
      auto j = Json::parse(r.body, nullptr, false);
      EXPECT_TRUE(j.is_object() && j.contains("error") && j["error"].is_string()) << r.body;
    }
  }
  // Oversized: the server was started with --max-body-bytes 2000000.
  Connection big(port_);
  ASSERT_TRUE(
      big.SendRaw("POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  "3000000\r\n\r\n" +
                  std::string(100000, ' ')));
  auto r = big.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(Json::parse(r.body).contains("error"));
  EXPECT_EQ(Post("/v2/models/mnist/infer", JsonRequest(0, 1)).status, 200);
  // Failures are counted by model and code.
  auto metrics = Fetch(port_, "GET", "/metrics").body;
  EXPECT_GE(Metric(metrics, "skiff_inference_requests_total{model=\"mnist\",code=\"400\"}"), 8);
  EXPECT_GE(Metric(metrics, "skiff_inference_requests_total{model=\"\",code=\"404\"}"), 2);
  EXPECT_GE(Metric(metrics, "nv_inference_request_failure{model=\"mnist\",version=\"1\"}"), 8);
}

TEST_F(ModelServerTest, ClientsThatDisconnectMidRequestDoNotHurtOthers) {
  std::string full = JsonRequest(0, 1);
  for (int i = 0; i < 20; ++i) {
    {
      Connection c(port_);
      ASSERT_TRUE(c.SendRaw("POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                            std::to_string(full.size()) + "\r\n\r\n" + full.substr(0, 500)));
    }
    {
      // The whole request, then gone before the answer.
      Connection c(port_);
      ASSERT_TRUE(c.SendRaw("POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                            std::to_string(full.size()) + "\r\n\r\n" + full));
    }
  }
  auto r = Post("/v2/models/mnist/infer", full);
  ASSERT_EQ(r.status, 200);
  ExpectClose(JsonFloats(Json::parse(r.body)["outputs"][0]["data"]), Forward(0, 1));
}

TEST_F(ModelServerTest, ConcurrentRequestsAreBatched) {
  auto before = Fetch(port_, "GET", "/metrics").body;
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> clients;
  auto want = Forward(0, 16);
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      Connection c(port_);
      std::string body = JsonRequest(t, 1);
      std::vector<float> expect(want.begin() + t * 10, want.begin() + t * 10 + 10);
      for (int i = 0; i < 20; ++i) {
        auto r = c.Request("POST", "/v2/models/mnist/infer", body);
        if (r.status != 200) continue;
        ++ok;
        auto got = JsonFloats(Json::parse(r.body)["outputs"][0]["data"]);
        for (int k = 0; k < 10; ++k) {
          if (std::abs(got[k] - expect[k]) > 1e-4f * std::max(1.0f, std::abs(expect[k]))) {
            ++wrong;
            break;
          }
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 320);
  EXPECT_EQ(wrong.load(), 0);  // each client got its own row back
  auto after = Fetch(port_, "GET", "/metrics").body;
  const std::string m = "{model=\"mnist\",version=\"1\"}";
  double rows = Metric(after, "nv_inference_count" + m) - Metric(before, "nv_inference_count" + m);
  double execs =
      Metric(after, "nv_inference_exec_count" + m) - Metric(before, "nv_inference_exec_count" + m);
  EXPECT_EQ(rows, 320);
  EXPECT_LT(execs, rows / 2) << "expected batches of more than one row on average";
  double single = Metric(after, "skiff_inference_batch_size_bucket{model=\"mnist\",le=\"1\"}");
  double all = Metric(after, "skiff_inference_batch_size_count{model=\"mnist\"}");
  EXPECT_LT(single, all);
  EXPECT_GE(Metric(after, "nv_inference_request_success" + m) -
                Metric(before, "nv_inference_request_success" + m),
            320);
  EXPECT_GT(Metric(after, "nv_inference_queue_duration_us" + m), 0);
  EXPECT_NE(after.find("request_predict_seconds_bucket{model_name=\"mnist\",le=\"0.005\"}"),
            std::string::npos);
  EXPECT_NE(after.find("skiff_inference_requests_total{model=\"mnist\",code=\"200\"}"),
            std::string::npos);
}

TEST_F(ModelServerTest, ModelsLoadAndUnloadAtRunTime) {
  auto index = [&] { return Json::parse(Post("/v2/repository/index", "").body); };
  auto state = [&](const std::string& name) {
    for (const auto& e : index()) {
      if (e["name"] == name) return e["state"].get<std::string>();
    }
    return std::string("absent");
  };
  EXPECT_EQ(state("ctr"), "READY");
  EXPECT_EQ(Post("/v2/repository/models/ctr/unload", "").status, 200);
  EXPECT_EQ(state("ctr"), "UNAVAILABLE");
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/ctr/ready").status, 503);
  auto refused = Post("/v2/models/ctr/infer", R"({"inputs":[]})");
  EXPECT_EQ(refused.status, 503);
  EXPECT_NE(refused.body.find("not ready"), std::string::npos);
  // An unload by request does not make the server unready; mnist keeps serving.
  EXPECT_EQ(Fetch(port_, "GET", "/v2/health/ready").status, 200);
  EXPECT_EQ(Post("/v2/models/mnist/infer", JsonRequest(0, 1)).status, 200);
  EXPECT_EQ(Post("/v2/repository/models/ctr/load", "").status, 200);
  EXPECT_EQ(state("ctr"), "READY");
  EXPECT_EQ(Fetch(port_, "GET", "/v2/models/ctr/ready").status, 200);

  // A model copied into the repository later, loaded with two instances.
  fs::copy(dir_ / "repo/mnist", dir_ / "repo/late", fs::copy_options::recursive);
  EXPECT_EQ(state("late"), "UNAVAILABLE");
  EXPECT_EQ(Post("/v2/repository/models/late/load", R"({"parameters":{"instances":2}})").status,
            200);
  auto r = Post("/v2/models/late/infer", JsonRequest(5, 1));
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectClose(JsonFloats(Json::parse(r.body)["outputs"][0]["data"]), Forward(5, 1));
  // Reloading while serving keeps answering.
  EXPECT_EQ(Post("/v2/repository/models/late/load", "").status, 200);
  EXPECT_EQ(Post("/v2/models/late/infer", JsonRequest(5, 1)).status, 200);

  EXPECT_EQ(Post("/v2/repository/models/missing/load", "").status, 404);
  EXPECT_EQ(Post("/v2/repository/models/missing/unload", "").status, 404);
  EXPECT_EQ(Post("/v2/repository/models/late/load", R"({"parameters":{"bogus":1}})").status, 400);
  EXPECT_EQ(Post("/v2/repository/models/late/unload", "").status, 200);
  auto ready_only = Json::parse(Post("/v2/repository/index", R"({"ready":true})").body);
  for (const auto& e : ready_only) EXPECT_NE(e["name"], "late");
}

}  // namespace
}  // namespace skiff::serving

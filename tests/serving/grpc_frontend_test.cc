// End-to-end tests of skiff-model-server's V2 gRPC API with a C++ grpc client: a tiny MLP trained
// here by skiff-ml; gRPC answers (typed and raw contents) equal the REST answers for the same
// input, metadata agrees with REST, errors carry Triton's/KServe's codes, gRPC and REST requests
// share one dynamic batch, and the repository rpcs load and unload. Built only with gRPC.
#ifdef SKIFF_SERVING_GRPC

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <map>
#include <regex>
#include <thread>

#include "ml/prepare.h"
#include "model_fixture.h"
#include "serving/grpc_inference.grpc.pb.h"
#include "test_http.h"

namespace skiff::serving {
namespace {

namespace fs = std::filesystem;
namespace pb = ::inference;
using testing::Fetch;
using testing::FloatsJson;
using testing::JsonFloats;
using testing::Slurp;
using testing::StopsCleanly;

class GrpcFrontendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("skiff-grpc-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "repo");
    if (!ml::FindFashionMnist("").ok()) return;
    if (!testing::TrainTinyMlp(dir_, dir_ / "repo/mnist", 200, &setup_error_)) return;
    server_ = testing::Spawn(
        {SKIFF_MODEL_SERVER, "--model-repository", (dir_ / "repo").string(), "--address",
         "127.0.0.1", "--http-port", "0", "--grpc-port", "0", "--http-threads", "2",
         "--grpc-threads", "2", "--max-batch-size", "16", "--max-latency-us", "2000"},
        dir_ / "server.log");
    http_port_ = testing::WaitListening(server_, dir_ / "server.log", "skiff-model-server ready");
    std::smatch m;
    std::string log = Slurp(dir_ / "server.log");
    if (std::regex_search(log, m, std::regex("grpc listening on 127\\.0\\.0\\.1:(\\d+)"))) {
      grpc_port_ = static_cast<uint16_t>(std::stoi(m[1]));
    }
    if (http_port_ == 0 || grpc_port_ == 0) setup_error_ += "server did not start: " + log;
    images_ = testing::ReadTestSplit(dir_ / "data");
  }

  static void TearDownTestSuite() {
    // gRPC shuts down with the rest: SIGTERM still drains and exits 0.
    if (server_ > 0) EXPECT_TRUE(StopsCleanly(server_)) << Slurp(dir_ / "server.log");
    fs::remove_all(dir_);
  }

  void SetUp() override {
    if (!ml::FindFashionMnist("").ok()) {
      GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/bootstrap installs it)";
    }
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    stub_ = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
  }

  // The REST V2 JSON answer for rows [first, first + n).
  static std::vector<float> RestInfer(int64_t first, int64_t n) {
    auto r = Fetch(http_port_, "POST", "/v2/models/mnist/infer",
                   R"({"inputs":[{"name":"input","datatype":"FP32","shape":[)" + std::to_string(n) +
                       R"(,1,28,28],"data":)" +
                       FloatsJson(images_.x.data() + first * 784, n * 784) + "}]}");
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    return JsonFloats(Json::parse(r.body)["outputs"][0]["data"]);
  }

  static pb::ModelInferRequest RawRequest(int64_t first, int64_t n) {
    pb::ModelInferRequest req;
    req.set_model_name("mnist");
    auto* in = req.add_inputs();
    in->set_name("input");
    in->set_datatype("FP32");
    for (int64_t d : {n, int64_t{1}, int64_t{28}, int64_t{28}}) in->add_shape(d);
    req.add_raw_input_contents(std::string(
        reinterpret_cast<const char*>(images_.x.data() + first * 784), n * 784 * sizeof(float)));
    return req;
  }

  static pb::ModelInferRequest TypedRequest(int64_t first, int64_t n) {
    pb::ModelInferRequest req = RawRequest(first, n);
    req.clear_raw_input_contents();
    auto* c = req.mutable_inputs(0)->mutable_contents();
    for (int64_t i = 0; i < n * 784; ++i) c->add_fp32_contents(images_.x[first * 784 + i]);
    return req;
  }

  grpc::Status Infer(const pb::ModelInferRequest& req, pb::ModelInferResponse* resp) {
    grpc::ClientContext ctx;
    return stub_->ModelInfer(&ctx, req, resp);
  }

  grpc::StatusCode InferCode(const pb::ModelInferRequest& req) {
    pb::ModelInferResponse resp;
    return Infer(req, &resp).error_code();
  }

  static double Metric(const std::string& text, const std::string& series) {
    size_t at = text.find(series + " ");
    return at == std::string::npos ? 0 : std::atof(text.c_str() + at + series.size() + 1);
  }

  static inline fs::path dir_;
  static inline pid_t server_ = -1;
  static inline uint16_t http_port_ = 0, grpc_port_ = 0;
  static inline std::string setup_error_;
  static inline testing::Images images_;
  std::unique_ptr<pb::GRPCInferenceService::Stub> stub_;
};

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    // Batched GEMM may sum in another order than batch-1 GEMM: equal to float rounding.
    EXPECT_NEAR(got[i], want[i], 1e-4f * std::max(1.0f, std::abs(want[i]))) << i;
  }
}

std::vector<float> RawFloats(const std::string& bytes) {
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

TEST_F(GrpcFrontendTest, InferAnswersLikeRest) {
  for (int64_t i = 0; i < 10; ++i) {
    auto want = RestInfer(i, 1);
    pb::ModelInferRequest typed = TypedRequest(i, 1);
    typed.set_id("req-" + std::to_string(i));
    pb::ModelInferResponse resp;
    ASSERT_TRUE(Infer(typed, &resp).ok());
    EXPECT_EQ(resp.id(), "req-" + std::to_string(i));
    EXPECT_EQ(resp.model_name(), "mnist");
    EXPECT_EQ(resp.model_version(), "1");
    ASSERT_EQ(resp.outputs_size(), 1);
    EXPECT_EQ(resp.outputs(0).name(), "output");
    EXPECT_EQ(resp.outputs(0).datatype(), "FP32");
    EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
              (std::vector<int64_t>{1, 10}));
    EXPECT_EQ(resp.raw_output_contents_size(), 0);  // typed in, typed out
    auto& f = resp.outputs(0).contents().fp32_contents();
    ExpectClose(std::vector<float>(f.begin(), f.end()), want);

    pb::ModelInferResponse raw;
    ASSERT_TRUE(Infer(RawRequest(i, 1), &raw).ok());
    ASSERT_EQ(raw.raw_output_contents_size(), 1);  // raw in, raw out
    EXPECT_FALSE(raw.outputs(0).has_contents());
    ExpectClose(RawFloats(raw.raw_output_contents(0)), want);
  }
  // Several rows in one request, the output named explicitly, through version "1".
  pb::ModelInferRequest rows = RawRequest(10, 3);
  rows.set_model_version("1");
  rows.add_outputs()->set_name("output");
  pb::ModelInferResponse resp;
  ASSERT_TRUE(Infer(rows, &resp).ok());
  EXPECT_EQ(resp.outputs(0).shape(0), 3);
  ExpectClose(RawFloats(resp.raw_output_contents(0)), RestInfer(10, 3));
}

TEST_F(GrpcFrontendTest, HealthAndMetadataAgreeWithRest) {
  grpc::ClientContext c1, c2, c3, c4, c5, c6;
  pb::ServerLiveResponse live;
  ASSERT_TRUE(stub_->ServerLive(&c1, {}, &live).ok());
  EXPECT_TRUE(live.live());
  pb::ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&c2, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());
  pb::ModelReadyRequest mr;
  mr.set_name("mnist");
  pb::ModelReadyResponse model_ready;
  ASSERT_TRUE(stub_->ModelReady(&c3, mr, &model_ready).ok());
  EXPECT_TRUE(model_ready.ready());
  mr.set_name("nope");
  EXPECT_EQ(stub_->ModelReady(&c4, mr, &model_ready).error_code(), grpc::StatusCode::NOT_FOUND);

  pb::ServerMetadataResponse server;
  ASSERT_TRUE(stub_->ServerMetadata(&c5, {}, &server).ok());
  auto rest_server = Json::parse(Fetch(http_port_, "GET", "/v2").body);
  EXPECT_EQ(server.name(), rest_server["name"]);
  EXPECT_EQ(server.version(), rest_server["version"]);
  EXPECT_EQ(Json(std::vector<std::string>(server.extensions().begin(), server.extensions().end())),
            rest_server["extensions"]);

  pb::ModelMetadataRequest mm;
  mm.set_name("mnist");
  pb::ModelMetadataResponse meta;
  ASSERT_TRUE(stub_->ModelMetadata(&c6, mm, &meta).ok());
  auto rest = Json::parse(Fetch(http_port_, "GET", "/v2/models/mnist").body);
  EXPECT_EQ(meta.name(), "mnist");
  EXPECT_EQ(meta.platform(), rest["platform"]);
  EXPECT_EQ(Json(std::vector<std::string>(meta.versions().begin(), meta.versions().end())),
            rest["versions"]);
  auto specs = [](const auto& list) {
    Json out = Json::array();
    for (const auto& t : list) {
      out.push_back({{"name", t.name()},
                     {"datatype", t.datatype()},
                     {"shape", std::vector<int64_t>(t.shape().begin(), t.shape().end())}});
    }
    return out;
  };
  EXPECT_EQ(specs(meta.inputs()), rest["inputs"]);
  EXPECT_EQ(specs(meta.outputs()), rest["outputs"]);
  EXPECT_EQ(specs(meta.inputs())[0]["shape"], Json::array({-1, 1, 28, 28}));

  grpc::ClientContext c7;
  mm.set_name("nope");
  EXPECT_EQ(stub_->ModelMetadata(&c7, mm, &meta).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GrpcFrontendTest, BadRequestsGetTheProtocolsCodesAndTheServerKeepsServing) {
  using C = grpc::StatusCode;
  std::vector<std::pair<std::string, pb::ModelInferRequest>> invalid;
  auto with = [&](const std::string& what, auto edit, bool typed = false) {
    pb::ModelInferRequest r = typed ? TypedRequest(0, 1) : RawRequest(0, 1);
    edit(r);
    invalid.emplace_back(what, std::move(r));
  };
  with("wrong rank", [](auto& r) {
    r.mutable_inputs(0)->clear_shape();
    r.mutable_inputs(0)->add_shape(1);
    r.mutable_inputs(0)->add_shape(784);
  });
  with("wrong fixed dimension", [](auto& r) { r.mutable_inputs(0)->set_shape(2, 27); });
  with("wrong datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FP64"); });
  with("unknown datatype", [](auto& r) { r.mutable_inputs(0)->set_datatype("FLOAT"); });
  with("raw too short", [](auto& r) { r.mutable_raw_input_contents(0)->resize(100); });
  with("raw count", [](auto& r) { r.add_raw_input_contents("x"); });
  with("raw and typed",
       [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); });
  with("unknown input", [](auto& r) { r.mutable_inputs(0)->set_name("pixels"); });
  with("unknown output", [](auto& r) { r.add_outputs()->set_name("probabilities"); });
  with("missing input", [](auto& r) {
    r.clear_inputs();
    r.clear_raw_input_contents();
  });
  with(
      "typed count", [](auto& r) { r.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1); },
      true);
  with(
      "wrong typed field",
      [](auto& r) {
        auto* c = r.mutable_inputs(0)->mutable_contents();
        c->clear_fp32_contents();
        for (int i = 0; i < 784; ++i) c->add_int_contents(1);
      },
      true);
  for (const auto& [what, req] : invalid) {
    pb::ModelInferResponse resp;
    grpc::Status st = Infer(req, &resp);
    EXPECT_EQ(st.error_code(), C::INVALID_ARGUMENT) << what << ": " << st.error_message();
    EXPECT_FALSE(st.error_message().empty()) << what;
  }
  pb::ModelInferRequest unknown = RawRequest(0, 1);
  unknown.set_model_name("nope");
  EXPECT_EQ(InferCode(unknown), C::NOT_FOUND);
  pb::ModelInferRequest version = RawRequest(0, 1);
  version.set_model_version("7");
  EXPECT_EQ(InferCode(version), C::NOT_FOUND);

  pb::ModelInferResponse resp;
  ASSERT_TRUE(Infer(RawRequest(0, 1), &resp).ok());
  ExpectClose(RawFloats(resp.raw_output_contents(0)), RestInfer(0, 1));
  auto metrics = Fetch(http_port_, "GET", "/metrics").body;
  EXPECT_GE(
      Metric(metrics,
             "skiff_inference_grpc_requests_total{model=\"mnist\",code=\"INVALID_ARGUMENT\"}"),
      invalid.size());
  EXPECT_GE(Metric(metrics, "skiff_inference_grpc_requests_total{model=\"\",code=\"NOT_FOUND\"}"),
            2);
  EXPECT_GE(Metric(metrics, "skiff_inference_grpc_requests_total{model=\"mnist\",code=\"OK\"}"), 1);
  EXPECT_GE(Metric(metrics, "nv_inference_request_failure{model=\"mnist\",version=\"1\"}"),
            invalid.size());
}

TEST_F(GrpcFrontendTest, GrpcAndRestRequestsShareOneBatcher) {
  auto want = RestInfer(0, 16);
  auto before = Fetch(http_port_, "GET", "/metrics").body;
  std::atomic<int> ok{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      std::vector<float> expect(want.begin() + t * 10, want.begin() + t * 10 + 10);
      auto check = [&](const std::vector<float>& got) {
        ++ok;
        for (int k = 0; k < 10; ++k) {
          if (got.size() != 10 ||
              std::abs(got[k] - expect[k]) > 1e-4f * std::max(1.0f, std::abs(expect[k]))) {
            ++wrong;
            return;
          }
        }
      };
      if (t % 2 == 0) {  // half the clients on gRPC, each on its own channel
        auto stub = pb::GRPCInferenceService::NewStub(grpc::CreateChannel(
            "127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials()));
        pb::ModelInferRequest req = RawRequest(t, 1);
        for (int i = 0; i < 20; ++i) {
          grpc::ClientContext ctx;
          pb::ModelInferResponse resp;
          if (stub->ModelInfer(&ctx, req, &resp).ok())
            check(RawFloats(resp.raw_output_contents(0)));
        }
      } else {
        testing::Connection c(http_port_);
        std::string body = R"({"inputs":[{"name":"input","datatype":"FP32","shape":[1,1,28,28],)"
                           R"("data":)" +
                           FloatsJson(images_.x.data() + t * 784, 784) + "}]}";
        for (int i = 0; i < 20; ++i) {
          auto r = c.Request("POST", "/v2/models/mnist/infer", body);
          if (r.status == 200) check(JsonFloats(Json::parse(r.body)["outputs"][0]["data"]));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 320);
  EXPECT_EQ(wrong.load(), 0);  // each client got its own row back
  auto after = Fetch(http_port_, "GET", "/metrics").body;
  const std::string m = "{model=\"mnist\",version=\"1\"}";
  double rows = Metric(after, "nv_inference_count" + m) - Metric(before, "nv_inference_count" + m);
  double execs =
      Metric(after, "nv_inference_exec_count" + m) - Metric(before, "nv_inference_exec_count" + m);
  EXPECT_EQ(rows, 320);
  EXPECT_LT(execs, rows / 2) << "expected batches of more than one row on average";
  const std::string ok_series = "skiff_inference_grpc_requests_total{model=\"mnist\",code=\"OK\"}";
  EXPECT_EQ(Metric(after, ok_series) - Metric(before, ok_series), 160);
}

TEST_F(GrpcFrontendTest, RepositoryRpcsLoadAndUnload) {
  auto load = [&](const std::string& name, std::map<std::string, int64_t> params = {}) {
    grpc::ClientContext ctx;
    pb::RepositoryModelLoadRequest req;
    req.set_model_name(name);
    for (const auto& [k, v] : params) (*req.mutable_parameters())[k].set_int64_param(v);
    pb::RepositoryModelLoadResponse resp;
    return stub_->RepositoryModelLoad(&ctx, req, &resp).error_code();
  };
  auto unload = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::RepositoryModelUnloadRequest req;
    req.set_model_name(name);
    pb::RepositoryModelUnloadResponse resp;
    return stub_->RepositoryModelUnload(&ctx, req, &resp).error_code();
  };
  auto state = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::RepositoryIndexResponse index;
    EXPECT_TRUE(stub_->RepositoryIndex(&ctx, {}, &index).ok());
    for (const auto& e : index.models()) {
      if (e.name() == name) return e.state();
    }
    return std::string("absent");
  };
  auto model_ready = [&] {
    grpc::ClientContext ctx;
    pb::ModelReadyRequest req;
    req.set_name("mnist");
    pb::ModelReadyResponse resp;
    EXPECT_TRUE(stub_->ModelReady(&ctx, req, &resp).ok());
    return resp.ready();
  };
  using C = grpc::StatusCode;
  EXPECT_EQ(state("mnist"), "READY");
  EXPECT_EQ(unload("mnist"), C::OK);
  EXPECT_EQ(state("mnist"), "UNAVAILABLE");
  EXPECT_FALSE(model_ready());
  EXPECT_EQ(InferCode(RawRequest(0, 1)), C::UNAVAILABLE);
  // An unload by request does not make the server unready (as over REST).
  grpc::ClientContext ctx;
  pb::ServerReadyResponse ready;
  ASSERT_TRUE(stub_->ServerReady(&ctx, {}, &ready).ok());
  EXPECT_TRUE(ready.ready());

  EXPECT_EQ(load("mnist", {{"instances", 2}}), C::OK);
  EXPECT_TRUE(model_ready());
  pb::ModelInferResponse resp;
  ASSERT_TRUE(Infer(RawRequest(3, 1), &resp).ok());
  ExpectClose(RawFloats(resp.raw_output_contents(0)), RestInfer(3, 1));
  EXPECT_EQ(load("mnist", {{"bogus", 1}}), C::INVALID_ARGUMENT);
  EXPECT_EQ(load("missing"), C::NOT_FOUND);
  EXPECT_EQ(unload("missing"), C::NOT_FOUND);
  EXPECT_TRUE(model_ready());  // a refused reload keeps the loaded model serving
}

TEST_F(GrpcFrontendTest, AnExplicitPortInUseIsAnError) {
  // grpc would share a port through SO_REUSEPORT; the server turns that off, so a second server
  // asked for the same port fails instead of stealing half the connections.
  pid_t second = testing::Spawn(
      {SKIFF_MODEL_SERVER, "--model-repository", (dir_ / "repo").string(), "--address", "127.0.0.1",
       "--http-port", "0", "--grpc-port", std::to_string(grpc_port_)},
      dir_ / "second.log");
  ASSERT_GT(second, 0);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 300 && !exited; ++i) {
    exited = waitpid(second, &status, WNOHANG) == second;
    if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!exited) {
    kill(second, SIGKILL);
    waitpid(second, &status, 0);
  }
  EXPECT_TRUE(exited && WIFEXITED(status) && WEXITSTATUS(status) == 1)
      << Slurp(dir_ / "second.log");
  EXPECT_NE(Slurp(dir_ / "second.log").find("gRPC cannot listen"), std::string::npos);
  pb::ModelInferResponse resp;
  EXPECT_TRUE(Infer(RawRequest(0, 1), &resp).ok());
}

}  // namespace
}  // namespace skiff::serving

#endif  // SKIFF_SERVING_GRPC

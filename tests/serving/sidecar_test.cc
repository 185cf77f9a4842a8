// End-to-end tests of skiff-model-sidecar in front of a real skiff-model-server: the image
// transformer turns PNGs (and raw pixels) into the predictor's tensor and answers exactly what the
// predictor answers for the same pixels; the occlusion explainer returns a saliency map for the
// predicted class; bad images get 400 and a dead predictor 503.
#include <gtest/gtest.h>
#include <signal.h>

#include "common/encoding.h"
#include "ml/prepare.h"
#include "model_fixture.h"
#include "serving/image.h"
#include "test_http.h"

namespace skiff::serving {
namespace {

using namespace testing;  // NOLINT: the fixture helpers

class SidecarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("skiff-sidecar-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (!ml::FindFashionMnist("").ok()) return;
    if (!TrainTinyMlp(dir_, dir_ / "mnist", 300, &error_)) return;
    predictor_ =
        Spawn({SKIFF_MODEL_SERVER, "--model-dir", (dir_ / "mnist").string(), "--model-name",
               "mnist", "--address", "127.0.0.1", "--http-port", "0", "--http-threads", "1"},
              dir_ / "predictor.log");
    predictor_port_ = WaitListening(predictor_, dir_ / "predictor.log", "ready");
    if (predictor_port_ == 0) {
      error_ = "predictor did not start: " + Slurp(dir_ / "predictor.log");
      return;
    }
    const std::string host = "127.0.0.1:" + std::to_string(predictor_port_);
    for (const char* mode : {"transformer", "explainer"}) {
      fs::path log = dir_ / (std::string(mode) + ".log");
      // KServe's spelling of the flags, as an InferenceService passes them.
      pid_t pid = Spawn({SKIFF_MODEL_SIDECAR, mode, "--predictor_host", host, "--model_name",
                         "mnist", "--address", "127.0.0.1", "--http_port", "0"},
                        log);
      uint16_t port = WaitListening(pid, log, mode);
      if (port == 0) error_ += std::string(mode) + " did not start: " + Slurp(log);
      (std::string(mode) == "transformer" ? transformer_ : explainer_) = {pid, port};
    }
    images_ = ReadTestSplit(dir_ / "data");
  }

  static void TearDownTestSuite() {
    for (pid_t pid : {transformer_.first, explainer_.first, predictor_}) {
      if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, nullptr, 0);
      }
    }
    fs::remove_all(dir_);
  }

  void SetUp() override {
    if (!ml::FindFashionMnist("").ok()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    ASSERT_TRUE(error_.empty()) << error_;
    ASSERT_GT(images_.count, 4);
  }

  // Test image i as 8-bit pixels.
  static Image Pixels(int64_t i) {
    Image im{28, 28, 1, {}};
    for (int k = 0; k < 784; ++k) im.pixels.push_back(static_cast<uint8_t>(images_.x[i * 784 + k]));
    return im;
  }
  static std::string PngB64(const Image& im) { return Base64Encode(EncodePng(im).value()); }
  // Test image i as a [1][28][28] array of numbers.
  static Json Nested(int64_t i) {
    Json rows = Json::array();
    for (int y = 0; y < 28; ++y) {
      rows.push_back(std::vector<float>(images_.x.begin() + i * 784 + y * 28,
                                        images_.x.begin() + i * 784 + (y + 1) * 28));
    }
    return Json::array({rows});
  }

  // The predictor's own V2 answer for test images [first, first + n).
  static std::vector<float> Direct(int64_t first, int64_t n) {
    std::string body = R"({"inputs":[{"name":"input","datatype":"FP32","shape":[)" +
                       std::to_string(n) + R"(,1,28,28],"data":)" +
                       FloatsJson(images_.x.data() + first * 784, n * 784) + "}]}";
    auto r = Fetch(predictor_port_, "POST", "/v2/models/mnist/infer", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return JsonFloats(Json::parse(r.body)["outputs"][0]["data"]);
  }

  static inline fs::path dir_;
  static inline std::string error_;
  static inline pid_t predictor_ = -1;
  static inline uint16_t predictor_port_ = 0;
  static inline std::pair<pid_t, uint16_t> transformer_{-1, 0}, explainer_{-1, 0};
  static inline Images images_;
};

TEST_F(SidecarTest, TransformerTurnsPngsIntoThePredictorsTensor) {
  const Image raw = Pixels(2);
  Json req = {
      {"instances",
       Json::array({{{"image_bytes", {{"b64", PngB64(Pixels(0))}}}},
                    PngB64(Pixels(1)),
                    {{"b64", Base64Encode(std::string(raw.pixels.begin(), raw.pixels.end()))}}})}};
  auto r = Fetch(transformer_.second, "POST", "/v1/models/mnist:predict", req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json preds = Json::parse(r.body)["predictions"];
  ASSERT_EQ(preds.size(), 3u);
  std::vector<float> got;
  for (const auto& p : preds) {
    auto row = JsonFloats(p);
    got.insert(got.end(), row.begin(), row.end());
  }
  // PNG and raw pixels decode to exactly the pixels, so the logits are the predictor's own.
  EXPECT_EQ(got, Direct(0, 3));
}

TEST_F(SidecarTest, TransformerConvertsV2BytesInputsAndOtherSizesAndColours) {
  // The same image as a 56x56 RGB PNG: converted to grey and resized back down.
  Image big{56, 56, 3, {}};
  Image small = Pixels(3);
  for (int y = 0; y < 56; ++y) {
    for (int x = 0; x < 56; ++x) {
      uint8_t v = small.pixels[(y / 2) * 28 + x / 2];
      big.pixels.insert(big.pixels.end(), {v, v, v});
    }
  }
  Json req = {{"inputs", Json::array({{{"name", "image"},
                                       {"datatype", "BYTES"},
                                       {"shape", {2}},
                                       {"data", {PngB64(Pixels(3)), PngB64(big)}}}})}};
  auto r = Fetch(transformer_.second, "POST", "/v2/models/mnist/infer", req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  auto out = Json::parse(r.body)["outputs"][0];
  EXPECT_EQ(out["shape"], Json::parse("[2, 10]"));
  auto data = JsonFloats(out["data"]);
  auto direct = Direct(3, 1);
  ASSERT_EQ(data.size(), 20u);
  EXPECT_EQ(std::vector<float>(data.begin(), data.begin() + 10), direct);
  // The upscaled copy is not bit-identical after resizing, but it is the same picture.
  auto argmax = [](const float* v) { return std::max_element(v, v + 10) - v; };
  EXPECT_EQ(argmax(data.data() + 10), argmax(direct.data()));
}

TEST_F(SidecarTest, BadImagesAre400AndTheTransformerKeepsServing) {
  struct Case {
    Json instance;
    const char* says;
  } cases[] = {
      {"%%%not-base64", "not valid base64"},
      {Base64Encode("\x89PNG\r\n\x1a\nthis is not really a png"), "cannot decode PNG"},
      {Base64Encode("short"), "neither a PNG nor 784 raw 8-bit pixels"},
      {Json::array({1, 2, 3}), "instance has 3 values; the model wants 784"},
      {Json{{"pixels", 1}}, "image_bytes.b64"},
  };
  for (const auto& c : cases) {
    Json req = {{"instances", Json::array({c.instance})}};
    auto r = Fetch(transformer_.second, "POST", "/v1/models/mnist:predict", req.dump());
    EXPECT_EQ(r.status, 400) << c.says;
    EXPECT_NE(Json::parse(r.body).value("error", "").find(c.says), std::string::npos) << r.body;
  }
  auto unknown = Fetch(transformer_.second, "POST", "/v1/models/nope:predict",
                       Json({{"instances", Json::array({PngB64(Pixels(0))})}}).dump());
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto ok = Fetch(transformer_.second, "POST", "/v1/models/mnist:predict",
                  Json({{"instances", Json::array({PngB64(Pixels(0))})}}).dump());
  EXPECT_EQ(ok.status, 200) << ok.body;
  // Metadata and readiness are the predictor's.
  auto meta = Fetch(transformer_.second, "GET", "/v2/models/mnist");
  EXPECT_EQ(meta.status, 200);
  EXPECT_EQ(Json::parse(meta.body)["name"], "mnist");
}

TEST_F(SidecarTest, ExplainerReturnsAnOcclusionSaliencyMapForThePredictedClass) {
  Json req = {{"instances", Json::array({PngB64(Pixels(4))})}};
  auto r = Fetch(explainer_.second, "POST", "/v1/models/mnist:explain", req.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  Json e = Json::parse(r.body)["explanations"][0];
  auto direct = Direct(4, 1);
  EXPECT_EQ(e["target"].get<int64_t>(),
            std::max_element(direct.begin(), direct.end()) - direct.begin());
  EXPECT_EQ(e["method"], "occlusion");
  EXPECT_EQ(e["patchSize"], 4);
  ASSERT_EQ(e["saliency"].size(), 28u);
  ASSERT_EQ(e["saliency"][0].size(), 28u);
  // Occluding the garment changes the prediction somewhere; the empty border changes nothing.
  double most = 0;
  for (const auto& line : e["saliency"]) {
    for (const auto& v : line) most = std::max(most, std::abs(v.get<double>()));
  }
  EXPECT_GT(most, 1e-4);
  EXPECT_GT(e["probability"].get<double>(), 0.0);
  // Predictions pass through the explainer unchanged.
  auto p = Fetch(explainer_.second, "POST", "/v1/models/mnist:predict",
                 Json({{"instances", Json::array({Nested(4)})}}).dump());
  EXPECT_EQ(p.status, 200) << p.body;
  // Numeric instances are explained too.
  auto numeric = Fetch(explainer_.second, "POST", "/v1/models/mnist:explain",
                       Json({{"instances", Json::array({Nested(4)})}}).dump());
  ASSERT_EQ(numeric.status, 200) << numeric.body;
  EXPECT_EQ(Json::parse(numeric.body)["explanations"][0]["saliency"], e["saliency"]);
}

TEST_F(SidecarTest, APredictorThatIsGoneIs503) {
  kill(predictor_, SIGKILL);
  waitpid(predictor_, nullptr, 0);
  predictor_ = -1;
  auto r = Fetch(transformer_.second, "POST", "/v1/models/mnist:predict",
                 Json({{"instances", Json::array({PngB64(Pixels(0))})}}).dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(Json::parse(r.body).value("error", "").find("unreachable"), std::string::npos)
      << r.body;
  auto e = Fetch(explainer_.second, "POST", "/v1/models/mnist:explain",
                 Json({{"instances", Json::array({PngB64(Pixels(0))})}}).dump());
  EXPECT_EQ(e.status, 503) << e.body;
}

}  // namespace
}  // namespace skiff::serving

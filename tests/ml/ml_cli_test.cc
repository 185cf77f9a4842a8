// End-to-end tests of the skiff-ml binary on a small Fashion-MNIST slice: prepare, train,
// evaluate, checkpoint/resume, two-process data parallelism, input validation and xgboost.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/script.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/json.h"
#include "common/net.h"
#include "ml/prepare.h"

extern char** environ;

namespace skiff::ml {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Starts skiff-ml with `args` and extra environment; stdout/stderr go to files under `dir`.
pid_t Start(const fs::path& dir, const std::string& tag, const std::vector<std::string>& args,
            const std::map<std::string, std::string>& env = {}) {
  std::vector<std::string> argv_s = {SKIFF_ML};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (!env.count(kv.substr(0, kv.find('=')))) env_s.push_back(kv);
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string out = (dir / (tag + ".out")).string(), err = (dir / (tag + ".err")).string();
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

Result Wait(pid_t pid, const fs::path& dir, const std::string& tag) {
  int status = 0;
  waitpid(pid, &status, 0);
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = Slurp(dir / (tag + ".out"));
  r.err = Slurp(dir / (tag + ".err"));
  return r;
}

class SkiffMlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("skiff-ml-test-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (!FindFashionMnist("").ok()) return;
    // 600 training images (540 train + 60 validation) and 600 test images: seconds, not minutes.
    prepared_ = Run("prepare", {"prepare", "--out", Path("data"), "--limit", "600"});
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    if (!FindFashionMnist("").ok()) {
      GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/bootstrap installs it)";
    }
  }

  static std::string Path(const std::string& name) { return (dir_ / name).string(); }
  static Result Run(const std::string& tag, const std::vector<std::string>& args,
                    const std::map<std::string, std::string>& env = {}) {
    return Wait(Start(dir_, tag, args, env), dir_, tag);
  }
  static Json ReadJson(const std::string& name) { return Json::parse(Slurp(Path(name))); }

  static std::vector<std::string> EpochLines(const std::string& out) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string l; std::getline(in, l);) {
      if (l.rfind("epoch=", 0) == 0) lines.push_back(l);
    }
    return lines;
  }

  // Runs `skiff-ml train <args> --metrics-file <tag><rank>.json` as two PyTorchJob ranks on
  // 127.0.0.1; every rank must exit 0 with `epochs` epoch lines.
  static void TrainTwoRanks(const std::string& tag, std::vector<std::string> args, size_t epochs);

  static inline fs::path dir_;
  static inline Result prepared_;
};

TEST_F(SkiffMlTest, PrepareWritesTheArtifactWithTheRightCounts) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  Json meta = ReadJson("data/metadata.json");
  EXPECT_EQ(meta["shape"], Json::array({1, 28, 28}));
  EXPECT_EQ(meta["labels"].size(), 10u);
  EXPECT_EQ(meta["splits"]["train"]["count"], 540);
  EXPECT_EQ(meta["splits"]["validation"]["count"], 60);
  EXPECT_EQ(meta["splits"]["test"]["count"], 600);
  EXPECT_GT(meta["normalisation"]["std"][0].get<double>(), 1.0);  // pixels are 0-255
  // Header + one byte a pixel + int32 labels.
  EXPECT_EQ(fs::file_size(Path("data/train.bin")), 24u + 540 * 784 + 540 * 4);
}

TEST_F(SkiffMlTest, TrainImprovesLossAndExportsAModelEvaluateScores) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  auto r =
      Run("train-mlp", {"train", "--data", Path("data"), "--model", "mlp", "--epochs", "3", "--out",
                        Path("mlp"), "--metrics-file", Path("mlp.json"), "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(EpochLines(r.out).size(), 3u) << r.out;
  Json metrics = ReadJson("mlp.json");
  double first = metrics["epochs"][0]["loss"], last = metrics["epochs"][2]["loss"];
  EXPECT_LT(last, first * 0.8) << r.out;

  // A real TorchScript file: loads with torch::jit::load and takes raw pixels.
  auto module = torch::jit::load(Path("mlp/model.pt"));
  auto logits = module.forward({torch::full({2, 1, 28, 28}, 128.0f)}).toTensor();
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, 10}));
  Json card = ReadJson("mlp/model_card.json");
  EXPECT_EQ(card["labels"].size(), 10u);
  EXPECT_EQ(card["input"]["shape"], Json::array({-1, 1, 28, 28}));

  auto ev = Run("evaluate", {"evaluate", "--model", Path("mlp/model.pt"), "--data", Path("data"),
                             "--metrics-file", Path("eval.json"), "--classification-metrics-file",
                             Path("cm.json")});
  ASSERT_EQ(ev.code, 0) << ev.err;
  double accuracy = ReadJson("eval.json")["accuracy"];
  EXPECT_GT(accuracy, 0.5);  // chance is 0.1
  Json cm = ReadJson("cm.json")["confusionMatrix"];
  ASSERT_EQ(cm["rows"].size(), 10u);
  int64_t total = 0;
  for (const auto& row : cm["rows"]) {
    for (const auto& v : row["row"]) total += v.get<int64_t>();
  }
  EXPECT_EQ(total, 600);
}

TEST_F(SkiffMlTest, CnnTrainsWithBatchNorm) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  auto r = Run("train-cnn", {"train", "--data", Path("data"), "--model", "cnn", "--epochs", "1",
                             "--out", Path("cnn"), "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(EpochLines(r.out).size(), 1u);
  auto ev = Run("evaluate-cnn", {"evaluate", "--model", Path("cnn"), "--data", Path("data")});
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_EQ(ev.out.rfind("accuracy=", 0), 0u) << ev.out;
}

TEST_F(SkiffMlTest, ResumesFromTheCheckpointAtTheNextEpoch) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  std::vector<std::string> base = {"train", "--data",    Path("data"), "--model",
                                   "mlp",   "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto first = Run("resume-1", with({"--epochs", "1", "--checkpoint-dir", Path("ckpt")}));
  ASSERT_EQ(first.code, 0) << first.err;
  ASSERT_EQ(EpochLines(first.out).size(), 1u) << first.out;
  EXPECT_EQ(EpochLines(first.out)[0].rfind("epoch=1 ", 0), 0u) << first.out;
  auto second = Run("resume-2", with({"--epochs", "2", "--checkpoint-dir", Path("ckpt"),
                                      "--metrics-file", Path("resumed.json")}));
  ASSERT_EQ(second.code, 0) << second.err;
  auto lines = EpochLines(second.out);
  ASSERT_EQ(lines.size(), 1u) << second.out;
  EXPECT_EQ(lines[0].rfind("epoch=2 ", 0), 0u) << lines[0];
  // Resuming is exact: same parameters as an uninterrupted two-epoch run.
  auto straight = Run("straight", with({"--epochs", "2", "--metrics-file", Path("straight.json")}));
  ASSERT_EQ(straight.code, 0) << straight.err;
  EXPECT_EQ(ReadJson("resumed.json")["paramChecksum"], ReadJson("straight.json")["paramChecksum"]);
}

void SkiffMlTest::TrainTwoRanks(const std::string& tag, std::vector<std::string> args,
                                size_t epochs) {
  std::string port = std::to_string(skiff::FreeLoopbackPort());
  pid_t pids[2];
  for (int rank = 0; rank < 2; ++rank) {
    std::vector<std::string> argv = args;
    argv.insert(argv.end(),
                {"--metrics-file", (dir_ / (tag + std::to_string(rank) + ".json")).string()});
    pids[rank] = Start(dir_, tag + std::to_string(rank), argv,
                       {{"WORLD_SIZE", "2"},
                        {"RANK", std::to_string(rank)},
                        {"MASTER_ADDR", "127.0.0.1"},
                        {"MASTER_PORT", port}});
  }
  for (int rank = 0; rank < 2; ++rank) {
    auto r = Wait(pids[rank], dir_, tag + std::to_string(rank));
    ASSERT_EQ(r.code, 0) << "rank " << rank << ": " << r.err;
    EXPECT_EQ(EpochLines(r.out).size(), epochs);
  }
}

TEST_F(SkiffMlTest, TwoReplicasEndWithIdenticalParameters) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  TrainTwoRanks(
      "dp", {"train", "--data", Path("data"), "--model", "cnn", "--epochs", "2", "--threads", "1"},
      2);
  Json a = ReadJson("dp0.json"), b = ReadJson("dp1.json");
  EXPECT_EQ(a["worldSize"], 2);
  EXPECT_EQ(a["paramChecksum"], b["paramChecksum"]);
  EXPECT_EQ(a["loss"], b["loss"]);
  // And different from a single-replica run: the replicas really trained on different shards.
  auto single = Run("dp-single", {"train", "--data", Path("data"), "--model", "cnn", "--epochs",
                                  "2", "--threads", "1", "--metrics-file", Path("dp-single.json")});
  ASSERT_EQ(single.code, 0) << single.err;
  EXPECT_NE(ReadJson("dp-single.json")["paramChecksum"], a["paramChecksum"]);
}

// TFJob's parameter-server layout (TF_CONFIG with one ps and two workers): the ps holds the
// parameters and applies the updates; the workers end with the parameters the same data-parallel
// run reaches with all-reduce, so the loss matches the two-replica run above to the last digit.
TEST_F(SkiffMlTest, ParameterServerTrainingMatchesAllReduce) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  std::vector<std::string> ports = {std::to_string(skiff::FreeLoopbackPort()),
                                    std::to_string(skiff::FreeLoopbackPort())};
  std::string cluster = R"({"cluster":{"ps":["127.0.0.1:)" + ports[1] +
                        R"("],"worker":["127.0.0.1:)" + ports[0] + R"(","127.0.0.1:1"]},)";
  std::vector<std::pair<std::string, std::string>> tasks = {
      {"ps", "0"}, {"worker", "0"}, {"worker", "1"}};
  std::vector<pid_t> pids;
  for (const auto& [type, index] : tasks) {
    std::string tag = "ps-" + type + index;
    pids.push_back(Start(
        dir_, tag,
        {"train", "--data", Path("data"), "--model", "mlp", "--epochs", "2", "--threads", "1",
         "--metrics-file", Path(tag + ".json")},
        {{"TF_CONFIG", cluster + R"("task":{"type":")" + type + R"(","index":)" + index + "}}"}}));
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    std::string tag = "ps-" + tasks[i].first + tasks[i].second;
    auto r = Wait(pids[i], dir_, tag);
    ASSERT_EQ(r.code, 0) << tag << ": " << r.err;
    EXPECT_EQ(EpochLines(r.out).size(), 2u) << r.out;
  }
  Json ps = ReadJson("ps-ps0.json"), w0 = ReadJson("ps-worker0.json"),
       w1 = ReadJson("ps-worker1.json");
  EXPECT_EQ(ps["role"], "ps");
  EXPECT_EQ(w0["role"], "trainer");
  EXPECT_EQ(ps["paramChecksum"], w0["paramChecksum"]);
  EXPECT_EQ(w1["paramChecksum"], w0["paramChecksum"]);

  TrainTwoRanks(
      "ar", {"train", "--data", Path("data"), "--model", "mlp", "--epochs", "2", "--threads", "1"},
      2);
  Json a = ReadJson("ar0.json");
  EXPECT_NEAR(a["loss"].get<double>(), w0["loss"].get<double>(), 1e-5);
  EXPECT_NEAR(a["accuracy"].get<double>(), w0["accuracy"].get<double>(), 1e-9);
}

// Exit code 1 and a single line on stderr naming the problem.
void ExpectOneLineFailure(const Result& r, const std::string& mentions) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
}

TEST_F(SkiffMlTest, BadHyperparameterFailsWithOneLine) {
  ASSERT_EQ(prepared_.code, 0) << prepared_.err;
  ExpectOneLineFailure(Run("bad-lr", {"train", "--data", Path("data"), "--lr", "-0.1"}), "--lr");
  ExpectOneLineFailure(Run("bad-model", {"train", "--data", Path("data"), "--model", "rnn"}),
                       "--model");
  ExpectOneLineFailure(Run("bad-flag", {"train", "--data", Path("data"), "--epoch", "2"}),
                       "unknown flag --epoch");
  ExpectOneLineFailure(
      Run("bad-tf", {"train", "--data", Path("data")},
          {{"TF_CONFIG",
            R"({"cluster":{"ps":["p:1"],"worker":["w:1"]},"task":{"type":"evaluator"}})"}}),
      "evaluator");
}

TEST_F(SkiffMlTest, MissingDataFailsWithOneLine) {
  ExpectOneLineFailure(Run("no-data", {"train", "--data", Path("nowhere")}), "nowhere");
  ExpectOneLineFailure(
      Run("no-model", {"evaluate", "--model", Path("nowhere.pt"), "--data", Path("data")}),
      "nowhere.pt");
  ExpectOneLineFailure(Run("no-fm", {"prepare", "--out", Path("x"), "--data-dir", Path("empty")}),
                       "Fashion-MNIST");
}

TEST_F(SkiffMlTest, HelpListsSubcommands) {
  auto r = Run("help", {"help"});
  EXPECT_EQ(r.code, 0);
  for (const char* cmd : {"prepare", "train", "evaluate", "xgb-train", "xgb-evaluate", "gen-ctr",
                          "--epochs", "--batch-size"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  }
}

TEST_F(SkiffMlTest, XgboostOnGeneratedCtrDataBeatsChance) {
  auto prep = Run("ctr", {"prepare", "--generate", "ctr", "--rows", "5000", "--out", Path("ctr")});
  ASSERT_EQ(prep.code, 0) << prep.err;
  auto train = Run("xgb", {"xgb-train", "--data", Path("ctr"), "--out", Path("xgb/model.json"),
                           "--rounds", "40", "--threads", "1"});
  ASSERT_EQ(train.code, 0) << train.err;
  EXPECT_EQ(ReadJson("xgb/model.json").count("learner"), 1u);  // xgboost's JSON model format
  auto ev = Run("xgb-eval", {"xgb-evaluate", "--model", Path("xgb/model.json"), "--data",
                             Path("ctr"), "--metrics-file", Path("xgb-eval.json")});
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_GT(ReadJson("xgb-eval.json")["auc"].get<double>(), 0.6);
}

}  // namespace
}  // namespace skiff::ml

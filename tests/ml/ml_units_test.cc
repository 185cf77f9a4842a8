// Unit tests for skiff-ml's torch-free pieces: dataset artifact, sharding, env parsing, metrics.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "ml/dataset.h"
#include "ml/dist_env.h"
#include "ml/flags.h"
#include "ml/metrics.h"
#include "ml/prepare.h"

namespace skiff::ml {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  auto dir =
      fs::temp_directory_path() / ("skiff-ml-units-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Split Rows(int n, int features) {
  Split s;
  s.count = n;
  s.features = features;
  for (int i = 0; i < n * features; ++i) s.x.push_back(static_cast<float>(i));
  for (int i = 0; i < n; ++i) s.y.push_back(i % 3);
  return s;
}

TEST(DatasetTest, ArtifactRoundTripsAndNormalisesOnLoad) {
  auto dir = TempDir("roundtrip");
  Split train = Rows(10, 4), test = Rows(3, 4);
  DatasetMeta meta;
  meta.kind = "tabular";
  meta.shape = {4};
  meta.labels = {"a", "b", "c"};
  meta.dtype = DType::kFloat32;
  meta.normalisation = Normalisation::Fit(train, true);
  ASSERT_TRUE(WriteDataset(dir, meta, {{"train", &train}, {"test", &test}}).ok());
  auto read = ReadMeta(dir);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->splits["train"]["count"], 10);
  EXPECT_EQ(read->splits["train"]["classCounts"], Json::array({4, 3, 3}));
  auto raw = LoadSplit(dir, *read, "test", false);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->x, test.x);
  EXPECT_EQ(raw->y, test.y);
  auto norm = LoadSplit(dir, *read, "train", true);
  ASSERT_TRUE(norm.ok());
  double mean = 0;
  for (int r = 0; r < 10; ++r) mean += norm->x[r * 4];
  EXPECT_NEAR(mean / 10, 0, 1e-5);
  EXPECT_EQ(LoadSplit(dir, *read, "validation", true).status().code(), Code::kNotFound);
}

TEST(DatasetTest, TruncatedSplitFileIsRejected) {
  auto dir = TempDir("truncated");
  Split s = Rows(5, 2);
  auto path = (dir / "x.bin").string();
  ASSERT_TRUE(WriteSplit(path, s, DType::kFloat32).ok());
  fs::resize_file(path, fs::file_size(path) - 4);
  EXPECT_FALSE(ReadSplitFile(path).ok());
}

TEST(DatasetTest, ShardsAreDisjointEqualSizedAndCoverTheRows) {
  Split s = Rows(11, 1);
  Split a = Shard(s, 0, 2), b = Shard(s, 1, 2);
  EXPECT_EQ(a.count, 5);
  EXPECT_EQ(b.count, 5);
  std::set<float> seen(a.x.begin(), a.x.end());
  for (float v : b.x) EXPECT_TRUE(seen.insert(v).second);
}

TEST(DatasetTest, PermutationIsDeterministicAndComplete) {
  auto p = Permutation(100, 7);
  EXPECT_EQ(p, Permutation(100, 7));
  EXPECT_NE(p, Permutation(100, 8));
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(DatasetTest, IdxReaderHandlesGzipAndPlainFiles) {
  auto dir = TempDir("idx");
  // 2 images of 2x3, labels 4 and 7.
  std::string images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (int i = 0; i < 12; ++i) images += static_cast<char>(i * 20);
  std::string labels = {0, 0, 8, 1, 0, 0, 0, 2, 4, 7};
  std::ofstream(dir / "img") << images;
  gzFile gz = gzopen((dir / "lab.gz").c_str(), "wb");
  gzwrite(gz, labels.data(), labels.size());
  gzclose(gz);
  std::vector<int64_t> shape;
  auto s = ReadIdxPair(dir / "img", dir / "lab.gz", 0, &shape);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(s->y, (std::vector<int32_t>{4, 7}));
  EXPECT_EQ(s->x[11], 220);
  auto limited = ReadIdxPair(dir / "img", dir / "lab.gz", 1, &shape);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->count, 1);
}

TEST(DatasetTest, CsvNumericLabelsSortNumericallyAndBadCellsNameTheLine) {
  auto dir = TempDir("csv");
  std::ofstream(dir / "a.csv") << "f1,label,f2\n1,10,2\n3,9,4\n5,10,6\n";
  std::vector<std::string> names, classes;
  auto s = ReadCsv(dir / "a.csv", "label", 0, &names, &classes);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(names, (std::vector<std::string>{"f1", "f2"}));
  EXPECT_EQ(classes, (std::vector<std::string>{"9", "10"}));
  EXPECT_EQ(s->y, (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(s->x, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::ofstream(dir / "b.csv") << "f1,label\n1,a\nx,b\n";
  classes.clear();
  auto bad = ReadCsv(dir / "b.csv", "label", 0, &names, &classes);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":3:"), std::string::npos) << bad.status().message();
}

TEST(DatasetTest, GeneratedCtrIsDeterministic) {
  auto dir = TempDir("ctr");
  ASSERT_TRUE(GenerateCtrCsv(dir / "a.csv", 50, 3).ok());
  ASSERT_TRUE(GenerateCtrCsv(dir / "b.csv", 50, 3).ok());
  ASSERT_TRUE(GenerateCtrCsv(dir / "c.csv", 50, 4).ok());
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir / "a.csv"), read(dir / "b.csv"));
  EXPECT_NE(read(dir / "a.csv"), read(dir / "c.csv"));
}

GetEnv Env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(DistEnvTest, PyTorchJobEnv) {
  auto c = DistConfigFromEnv(
      Env({{"WORLD_SIZE", "3"}, {"RANK", "2"}, {"MASTER_ADDR", "m"}, {"MASTER_PORT", "23456"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->rank, 2);
  EXPECT_EQ(c->world_size, 3);
  EXPECT_EQ(c->master_addr, "m");
  EXPECT_EQ(c->master_port, 23456);
  EXPECT_FALSE(
      DistConfigFromEnv(
          Env({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "m"}, {"MASTER_PORT", "1"}}))
          .ok());
  auto single = DistConfigFromEnv(Env({}));
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->world_size, 1);
}

TEST(DistEnvTest, TfConfigChiefIsRankZero) {
  std::string cluster = R"({"cluster":{"chief":["c:2222"],"worker":["w0:2222","w1:2222"]},)";
  auto worker =
      DistConfigFromEnv(Env({{"TF_CONFIG", cluster + R"("task":{"type":"worker","index":1}})"}}));
  ASSERT_TRUE(worker.ok()) << worker.status().message();
  EXPECT_EQ(worker->rank, 2);
  EXPECT_EQ(worker->world_size, 3);
  EXPECT_EQ(worker->master_addr, "c");
  EXPECT_EQ(worker->master_port, 2222);
  auto chief =
      DistConfigFromEnv(Env({{"TF_CONFIG", cluster + R"("task":{"type":"chief","index":0}})"}}));
  ASSERT_TRUE(chief.ok());
  EXPECT_EQ(chief->rank, 0);
}

TEST(DistEnvTest, TfConfigParameterServersTakeTheLastRanks) {
  std::string cluster = R"({"cluster":{"ps":["p0:1","p1:1"],"worker":["w0:7","w1:7"]},)";
  auto ps1 =
      DistConfigFromEnv(Env({{"TF_CONFIG", cluster + R"("task":{"type":"ps","index":1}})"}}));
  ASSERT_TRUE(ps1.ok()) << ps1.status().message();
  EXPECT_EQ(ps1->world_size, 4);
  EXPECT_EQ(ps1->num_ps, 2);
  EXPECT_EQ(ps1->trainers(), 2);
  EXPECT_EQ(ps1->rank, 3);
  EXPECT_TRUE(ps1->is_ps());
  EXPECT_EQ(ps1->master_addr, "w0");  // no chief: worker 0 hosts the rendezvous
  EXPECT_EQ(ps1->master_port, 7);
  auto w1 =
      DistConfigFromEnv(Env({{"TF_CONFIG", cluster + R"("task":{"type":"worker","index":1}})"}}));
  ASSERT_TRUE(w1.ok());
  EXPECT_EQ(w1->rank, 1);
  EXPECT_FALSE(w1->is_ps());
  auto missing =
      DistConfigFromEnv(Env({{"TF_CONFIG", cluster + R"("task":{"type":"ps","index":2}})"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("not in cluster.ps"), std::string::npos);
  auto only_ps = DistConfigFromEnv(
      Env({{"TF_CONFIG", R"({"cluster":{"ps":["p:1"]},"task":{"type":"ps","index":0}})"}}));
  ASSERT_FALSE(only_ps.ok());
  EXPECT_NE(only_ps.status().message().find("no chief or worker"), std::string::npos);
}

TEST(MetricsTest, ConfusionMatrixPrecisionRecallAndKfpShape) {
  Confusion c({"x", "y"});
  c.Add(0, 0);
  c.Add(0, 1);
  c.Add(1, 1);
  c.Add(1, 1);
  EXPECT_DOUBLE_EQ(c.Accuracy(), 0.75);
  EXPECT_DOUBLE_EQ(c.Precision(1), 2.0 / 3);
  EXPECT_DOUBLE_EQ(c.Recall(0), 0.5);
  Json kfp = c.ToKfp();
  EXPECT_EQ(kfp["confusionMatrix"]["categories"], Json::array({"x", "y"}));
  EXPECT_EQ(kfp["confusionMatrix"]["rows"][0]["row"], Json::array({1, 1}));
}

TEST(MetricsTest, AucMatchesHandComputedValues) {
  EXPECT_DOUBLE_EQ(RocAuc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(RocAuc({0.5f, 0.5f}, {0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(RocAuc({0.9f, 0.1f}, {1, 0}), 1.0);
}

TEST(FlagsTest, UnknownFlagsAndBadValuesAreRejected) {
  std::vector<FlagSpec> specs = {{"n", "3", ""}, {"on", "", "", true}};
  auto ok = Flags::Parse({"--n=5", "--on"}, specs);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok->Int("n", 1, 10), 5);
  EXPECT_TRUE(ok->Bool("on"));
  EXPECT_FALSE(Flags::Parse({"--m", "1"}, specs).ok());
  EXPECT_FALSE(Flags::Parse({"--n"}, specs).ok());
  EXPECT_FALSE(Flags::Parse({"stray"}, specs).ok());
  auto big = Flags::Parse({"--n", "11"}, specs);
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->Int("n", 1, 10).ok());
}

}  // namespace
}  // namespace skiff::ml

// LineageStore: recording executions, the cache index, provenance walks, persistence.
#include "pipelines/lineage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace skiff::pipelines {
namespace {

ArtifactRecord Artifact(std::string key, std::string type, std::string uri, Json metadata = {}) {
  ArtifactRecord a;
  a.key = key;
  a.name = std::move(key);
  a.type = std::move(type);
  a.uri = std::move(uri);
  a.metadata = metadata.is_null() ? Json::object() : std::move(metadata);
  return a;
}

ExecutionRecord Task(std::string task, std::string run_uid, std::string state = "COMPLETE") {
  ExecutionRecord e;
  e.type = "system.ContainerExecution";
  e.state = std::move(state);
  e.namespace_name = "team-a";
  e.pipeline = "mnist";
  e.run_name = "mnist-run-" + run_uid;
  e.run_uid = std::move(run_uid);
  e.task = task;
  e.pod = e.run_name + "-" + task;
  e.image = "skiff/ml";
  e.command = {"skiff-ml", task};
  e.start_ms = 1'800'000'000'000;
  e.end_ms = e.start_ms + 1000;
  return e;
}

// prepare → train → evaluate, each consuming the previous step's output.
struct Chain {
  int64_t prepare = 0, train = 0, evaluate = 0;
};

Chain RecordChain(LineageStore& store, const std::string& run_uid, const std::string& root) {
  Chain ids;
  ExecutionRecord prepare = Task("prepare", run_uid);
  prepare.input_parameters = {{"rows", 600}};
  prepare.outputs = {Artifact("dataset", "system.Dataset", root + "/prepare/dataset")};
  ids.prepare = store.RecordExecution(prepare).value();

  ExecutionRecord train = Task("train", run_uid);
  train.command = {"skiff-ml", "train", "--epochs", "2"};
  train.input_parameters = {{"lr", 0.01}, {"epochs", 2}};
  train.fingerprint = "fp-train";
  train.inputs = {Artifact("dataset", "system.Dataset", root + "/prepare/dataset")};
  train.outputs = {
      Artifact("model", "system.Model", root + "/train/model", {{"framework", "torchscript"}})};
  ids.train = store.RecordExecution(train).value();

  ExecutionRecord evaluate = Task("evaluate", run_uid);
  evaluate.inputs = {Artifact("model", "system.Model", root + "/train/model")};
  evaluate.outputs = {Artifact("metrics", "system.Metrics", root + "/evaluate/metrics",
                               {{"accuracy", 0.91}, {"loss", 0.25}})};
  evaluate.output_parameters = {{"accuracy", 0.91}};
  ids.evaluate = store.RecordExecution(evaluate).value();
  return ids;
}

std::unique_ptr<LineageStore> OpenMemory() {
  auto store = LineageStore::Open(":memory:");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

TEST(LineageTest, WalksBackFromAMetricsArtifactToTheRunTasksInputsAndParameters) {
  auto store = OpenMemory();
  Chain ids = RecordChain(*store, "uid-1", "file:///a/uid-1");

  auto lineage = store->Lineage("file:///a/uid-1/evaluate/metrics");
  ASSERT_TRUE(lineage.ok()) << lineage.status().ToString();
  const Json& l = *lineage;
  EXPECT_EQ(l["artifact"]["type"], "system.Metrics");
  // Metrics stay structured data, not a string.
  EXPECT_EQ(l["artifact"]["metadata"]["accuracy"], 0.91);

  const Json& evaluate = l["producedBy"];
  EXPECT_EQ(evaluate["task"], "evaluate");
  EXPECT_EQ(evaluate["run"], "mnist-run-uid-1");
  EXPECT_EQ(evaluate["runUid"], "uid-1");
  EXPECT_EQ(evaluate["pipeline"], "mnist");
  EXPECT_EQ(evaluate["namespace"], "team-a");
  EXPECT_EQ(evaluate["execution"]["id"], ids.evaluate);
  EXPECT_EQ(evaluate["execution"]["state"], "COMPLETE");
  EXPECT_EQ(evaluate["execution"]["outputParameters"]["accuracy"], 0.91);
  EXPECT_EQ(evaluate["outputKey"], "metrics");

  ASSERT_EQ(evaluate["inputs"]["artifacts"].size(), 1u);
  const Json& model = evaluate["inputs"]["artifacts"][0];
  EXPECT_EQ(model["key"], "model");
  EXPECT_EQ(model["artifact"]["uri"], "file:///a/uid-1/train/model");
  // The consumer recorded the model without metadata: the producer's is kept.
  EXPECT_EQ(model["artifact"]["metadata"]["framework"], "torchscript");

  const Json& train = model["producedBy"];
  EXPECT_EQ(train["task"], "train");
  EXPECT_EQ(train["image"], "skiff/ml");
  EXPECT_EQ(train["command"], Json({"skiff-ml", "train", "--epochs", "2"}));
  EXPECT_EQ(train["inputs"]["parameters"]["lr"], 0.01);
  EXPECT_EQ(train["inputs"]["parameters"]["epochs"], 2);
  EXPECT_EQ(train["execution"]["fingerprint"], "fp-train");

  const Json& dataset = train["inputs"]["artifacts"][0];
  EXPECT_EQ(dataset["artifact"]["type"], "system.Dataset");
  EXPECT_EQ(dataset["producedBy"]["task"], "prepare");
  EXPECT_EQ(dataset["producedBy"]["inputs"]["parameters"]["rows"], 600);
  EXPECT_EQ(dataset["producedBy"]["inputs"]["artifacts"], Json::array());
}

TEST(LineageTest, UnknownUriIsNotFound) {
  auto store = OpenMemory();
  auto lineage = store->Lineage("file:///nowhere");
  ASSERT_FALSE(lineage.ok());
  EXPECT_EQ(lineage.status().code(), Code::kNotFound);
}

TEST(LineageTest, SharedAncestorIsDescribedOnceAndNamedAfterwards) {
  auto store = OpenMemory();
  ExecutionRecord split = Task("split", "uid-d");
  split.outputs = {Artifact("train", "system.Dataset", "file:///d/train"),
                   Artifact("test", "system.Dataset", "file:///d/test")};
  int64_t split_id = store->RecordExecution(split).value();
  ExecutionRecord join = Task("join", "uid-d");
  join.inputs = {Artifact("a", "system.Dataset", "file:///d/train"),
                 Artifact("b", "system.Dataset", "file:///d/test")};
  join.outputs = {Artifact("out", "system.Artifact", "file:///d/out")};
  ASSERT_TRUE(store->RecordExecution(join).ok());

  auto lineage = store->Lineage("file:///d/out");
  ASSERT_TRUE(lineage.ok());
  const Json& inputs = (*lineage)["producedBy"]["inputs"]["artifacts"];
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_TRUE(inputs[0]["producedBy"].contains("inputs"));
  EXPECT_EQ(inputs[1]["producedBy"]["execution"]["id"], split_id);
  EXPECT_EQ(inputs[1]["producedBy"]["repeated"], true);
  EXPECT_FALSE(inputs[1]["producedBy"].contains("inputs"));
}

TEST(LineageTest, FindCachedReturnsTheNewestCompleteExecutionInTheNamespace) {
  auto store = OpenMemory();
  ExecutionRecord older = Task("train", "uid-1");
  older.fingerprint = "fp";
  older.outputs = {Artifact("model", "system.Model", "file:///r1/model")};
  ASSERT_TRUE(store->RecordExecution(older).ok());

  ExecutionRecord newer = Task("train", "uid-2");
  newer.fingerprint = "fp";
  newer.end_ms = older.end_ms + 5000;
  newer.output_parameters = {{"loss", 0.1}};
  newer.outputs = {Artifact("model", "system.Model", "file:///r2/model", {{"v", 2}})};
  int64_t newer_id = store->RecordExecution(newer).value();

  // Later, but failed; and one in another namespace: neither is a cache hit.
  ExecutionRecord failed = Task("train", "uid-3", "FAILED");
  failed.fingerprint = "fp";
  failed.end_ms = older.end_ms + 9000;
  failed.outputs = {Artifact("model", "system.Model", "file:///r3/model")};
  ASSERT_TRUE(store->RecordExecution(failed).ok());
  ExecutionRecord elsewhere = Task("train", "uid-4");
  elsewhere.namespace_name = "team-b";
  elsewhere.fingerprint = "fp";
  elsewhere.end_ms = older.end_ms + 9000;
  ASSERT_TRUE(store->RecordExecution(elsewhere).ok());

  auto hit = store->FindCached("team-a", "fp");
  ASSERT_TRUE(hit.ok()) << hit.status().ToString();
  ASSERT_TRUE(hit->has_value());
  const ExecutionRecord& e = **hit;
  EXPECT_EQ(e.id, newer_id);
  EXPECT_EQ(e.run_uid, "uid-2");
  EXPECT_EQ(e.output_parameters["loss"], 0.1);
  ASSERT_EQ(e.outputs.size(), 1u);
  EXPECT_EQ(e.outputs[0].key, "model");
  EXPECT_EQ(e.outputs[0].uri, "file:///r2/model");
  EXPECT_EQ(e.outputs[0].type, "system.Model");
  EXPECT_EQ(e.outputs[0].metadata["v"], 2);

  auto miss = store->FindCached("team-a", "other");
  ASSERT_TRUE(miss.ok());
  EXPECT_FALSE(miss->has_value());
  auto only_failed = store->FindCached("team-c", "fp");
  ASSERT_TRUE(only_failed.ok());
  EXPECT_FALSE(only_failed->has_value());
  auto b = store->FindCached("team-b", "fp");
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->run_uid, "uid-4");
}

TEST(LineageTest, ReRecordingAnArtifactUriUpdatesItsMetadataAndKeepsItsId) {
  auto store = OpenMemory();
  ExecutionRecord first = Task("evaluate", "uid-1");
  first.outputs = {Artifact("metrics", "system.Metrics", "file:///m", {{"accuracy", 0.5}})};
  int64_t first_id = store->RecordExecution(first).value();
  ExecutionRecord second = Task("evaluate", "uid-2");
  second.outputs = {Artifact("metrics", "system.Metrics", "file:///m", {{"accuracy", 0.75}})};
  int64_t second_id = store->RecordExecution(second).value();

  auto a = store->GetExecution(first_id).value().outputs.at(0);
  auto b = store->GetExecution(second_id).value().outputs.at(0);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(b.metadata["accuracy"], 0.75);

  auto list = store->ListArtifacts("system.Metrics", 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["artifacts"].size(), 1u);
  EXPECT_EQ((*list)["artifacts"][0]["metadata"]["accuracy"], 0.75);
  // The newest writer is the producer the walk follows.
  EXPECT_EQ((*list)["artifacts"][0]["producedBy"]["runUid"], "uid-2");
  EXPECT_EQ(store->Lineage("file:///m").value()["producedBy"]["execution"]["id"], second_id);
}

TEST(LineageTest, ListArtifactsFiltersByTypeNewestFirstWithALimit) {
  auto store = OpenMemory();
  RecordChain(*store, "uid-1", "file:///a/1");
  RecordChain(*store, "uid-2", "file:///a/2");

  auto metrics = store->ListArtifacts("system.Metrics", 0);
  ASSERT_TRUE(metrics.ok());
  const Json& items = (*metrics)["artifacts"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0]["uri"], "file:///a/2/evaluate/metrics");
  EXPECT_EQ(items[1]["uri"], "file:///a/1/evaluate/metrics");
  EXPECT_EQ(items[0]["metadata"]["loss"], 0.25);
  EXPECT_EQ(items[0]["producedBy"]["task"], "evaluate");
  EXPECT_EQ(items[0]["producedBy"]["run"], "mnist-run-uid-2");

  EXPECT_EQ(store->ListArtifacts("", 0).value()["artifacts"].size(), 6u);
  EXPECT_EQ(store->ListArtifacts("system.Model", 1).value()["artifacts"].size(), 1u);
  EXPECT_EQ(store->ListArtifacts("system.Nothing", 0).value()["artifacts"].size(), 0u);
}

TEST(LineageTest, ExecutionsOfRunAreOldestFirstWithTheirEvents) {
  auto store = OpenMemory();
  Chain one = RecordChain(*store, "uid-1", "file:///a/1");
  RecordChain(*store, "uid-2", "file:///a/2");
  auto run = store->ExecutionsOfRun("uid-1");
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->size(), 3u);
  EXPECT_EQ((*run)[0].id, one.prepare);
  EXPECT_EQ((*run)[1].id, one.train);
  EXPECT_EQ((*run)[2].id, one.evaluate);
  EXPECT_EQ((*run)[1].inputs.at(0).uri, "file:///a/1/prepare/dataset");
  EXPECT_EQ((*run)[1].outputs.at(0).uri, "file:///a/1/train/model");
  EXPECT_EQ((*run)[1].pod, "mnist-run-uid-1-train");
  EXPECT_EQ((*run)[1].pipeline, "mnist");
  EXPECT_EQ(store->ExecutionsOfRun("uid-9").value().size(), 0u);
  EXPECT_EQ(store->GetExecution(12345).status().code(), Code::kNotFound);
}

TEST(LineageTest, AnArtifactWithoutUriIsRejectedAndNothingIsRecorded) {
  auto store = OpenMemory();
  ExecutionRecord e = Task("train", "uid-1");
  e.outputs = {Artifact("model", "system.Model", "")};
  EXPECT_EQ(store->RecordExecution(e).status().code(), Code::kInvalid);
  EXPECT_EQ(store->ExecutionsOfRun("uid-1").value().size(), 0u);
}

class LineageFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lineage_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "sub" / "lineage.db").string(); }
  std::filesystem::path dir_;
};

TEST_F(LineageFileTest, ReopeningTheFileKeepsEverything) {
  Chain ids;
  {
    auto store = LineageStore::Open(Path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ids = RecordChain(**store, "uid-1", "file:///a/1");
  }
  auto store = LineageStore::Open(Path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto lineage = (*store)->Lineage("file:///a/1/evaluate/metrics");
  ASSERT_TRUE(lineage.ok());
  EXPECT_EQ((*lineage)["producedBy"]["inputs"]["artifacts"][0]["producedBy"]["task"], "train");
  auto cached = (*store)->FindCached("team-a", "fp-train");
  ASSERT_TRUE(cached.ok() && cached->has_value());
  EXPECT_EQ((*cached)->id, ids.train);
  // New records after reopening reuse the contexts created before.
  ExecutionRecord more = Task("report", "uid-1");
  ASSERT_TRUE((*store)->RecordExecution(more).ok());
  EXPECT_EQ((*store)->ExecutionsOfRun("uid-1").value().size(), 4u);
}

TEST_F(LineageFileTest, ConcurrentWritersEachCommitWholeExecutions) {
  auto opened = LineageStore::Open(Path());
  ASSERT_TRUE(opened.ok());
  LineageStore& store = **opened;
  constexpr int kThreads = 4, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kEach; ++i) {
        ExecutionRecord e = Task("t" + std::to_string(i), "uid-" + std::to_string(t));
        e.outputs = {Artifact("out", "system.Artifact",
                              "file:///c/" + std::to_string(t) + "/" + std::to_string(i))};
        EXPECT_TRUE(store.RecordExecution(e).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    auto run = store.ExecutionsOfRun("uid-" + std::to_string(t));
    ASSERT_TRUE(run.ok());
    ASSERT_EQ(run->size(), static_cast<size_t>(kEach));
    for (const ExecutionRecord& e : *run) EXPECT_EQ(e.outputs.size(), 1u);
  }
  EXPECT_EQ(store.ListArtifacts("", 0).value()["artifacts"].size(),
            static_cast<size_t>(kThreads * kEach));
}

// Not a timing assertion (the machine is shared): prints the cost of the engine's hot path.
TEST_F(LineageFileTest, RecordsAThousandExecutions) {
  auto opened = LineageStore::Open(Path());
  ASSERT_TRUE(opened.ok());
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    ExecutionRecord e = Task("task-" + std::to_string(i), "bench");
    e.fingerprint = "fp-" + std::to_string(i);
    e.inputs = {Artifact("in", "system.Artifact", "file:///b/root")};
    e.outputs = {Artifact("out", "system.Artifact", "file:///b/" + std::to_string(i))};
    ASSERT_TRUE((*opened)->RecordExecution(e).ok());
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
      1000;
  std::printf("RecordExecution: %.1f us per execution\n", us);
  EXPECT_EQ((*opened)->ExecutionsOfRun("bench").value().size(), 1000u);
}

}  // namespace
}  // namespace skiff::pipelines

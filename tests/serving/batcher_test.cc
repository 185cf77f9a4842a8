// The dynamic batcher with a fake model: concurrent requests share a forward pass and get their
// own rows back, the delay and size limits hold, and stopping drains what was accepted.
#include "serving/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

namespace skiff::serving {
namespace {

// y = 2x per element; "rows" tells each row how many rows its forward pass had.
class DoublingModel : public Model {
 public:
  DoublingModel() {
    meta_.name = "double";
    meta_.platform = "test";
    meta_.batchable = true;
    meta_.inputs = {{"x", DataType::kInt64, {-1, 2}}};
    meta_.outputs = {{"y", DataType::kInt64, {-1, 2}}, {"rows", DataType::kInt64, {-1}}};
  }
  const ModelMetadata& metadata() const override { return meta_; }
  Status Infer(std::span<const Tensor> inputs, std::vector<Tensor>* outputs) override {
    const Tensor& x = inputs[0];
    int64_t n = x.shape[0];
    calls.fetch_add(1);
    if (fail) return Status::Internal("model exploded");
    std::vector<int64_t> in(n * 2), out(n * 2), rows(n, n);
    std::memcpy(in.data(), x.data.data(), x.data.size());
    for (size_t i = 0; i < in.size(); ++i) out[i] = in[i] * 2;
    if (delay_us) std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    outputs->resize(2);
    (*outputs)[0] = {"y",
                     DataType::kInt64,
                     {n, 2},
                     std::string(reinterpret_cast<char*>(out.data()), out.size() * 8)};
    (*outputs)[1] = {"rows",
                     DataType::kInt64,
                     {n},
                     std::string(reinterpret_cast<char*>(rows.data()), rows.size() * 8)};
    return Status::Ok();
  }
  ModelMetadata meta_;
  std::atomic<int> calls{0};
  int delay_us = 0;
  bool fail = false;
};

// Collects completed requests.
class Sink : public InferCompletion {
 public:
  void Complete(std::unique_ptr<InferRequest> r) override {
    std::lock_guard lock(mu_);
    done_.push_back(std::move(r));
    cv_.notify_all();
  }
  std::vector<std::unique_ptr<InferRequest>> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_.size() >= n; });
    return std::move(done_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<InferRequest>> done_;
};

struct Tagged : InferRequest {
  int64_t tag = 0;
};

std::unique_ptr<Tagged> Request(Sink* sink, int64_t tag, int64_t rows = 1) {
  auto r = std::make_unique<Tagged>();
  r->tag = tag;
  r->rows = rows;
  r->completion = sink;
  std::vector<int64_t> x;
  for (int64_t i = 0; i < rows; ++i) {
    x.push_back(tag * 100 + i);
    x.push_back(-(tag * 100 + i));
  }
  r->inputs = {{"x",
                DataType::kInt64,
                {rows, 2},
                std::string(reinterpret_cast<char*>(x.data()), x.size() * 8)}};
  return r;
}

std::vector<int64_t> Values(const Tensor& t) {
  std::vector<int64_t> v(t.data.size() / 8);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

std::unique_ptr<ModelRunner> Runner(DoublingModel** model, BatchingOptions o, ModelStats* stats) {
  auto m = std::make_unique<DoublingModel>();
  *model = m.get();
  std::vector<std::unique_ptr<Model>> instances;
  instances.push_back(std::move(m));
  return std::make_unique<ModelRunner>(std::move(instances), o, stats);
}

TEST(Batcher, ConcurrentRequestsShareOneForwardAndGetTheirOwnRows) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  // A long delay: the batch closes because it is full, not because time ran out.
  auto runner = Runner(&model, {.max_batch_size = 8, .max_queue_delay_us = 5'000'000}, &stats);
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] { runner->Submit(Request(&sink, i + 1, 2)); });
  }
  for (auto& t : clients) t.join();
  auto done = sink.WaitFor(4);
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(model->calls.load(), 1);
  for (auto& r : done) {
    auto* t = static_cast<Tagged*>(r.get());
    ASSERT_TRUE(t->status.ok()) << t->status.message();
    EXPECT_EQ(t->batch_rows, 8);
    EXPECT_EQ(t->outputs[0].shape, (std::vector<int64_t>{2, 2}));
    int64_t base = t->tag * 100;
    EXPECT_EQ(Values(t->outputs[0]),
              (std::vector<int64_t>{2 * base, -2 * base, 2 * (base + 1), -2 * (base + 1)}));
    EXPECT_EQ(Values(t->outputs[1]), (std::vector<int64_t>{8, 8}));
  }
  EXPECT_EQ(stats.exec_count.load(), 1u);
  EXPECT_EQ(stats.inference_count.load(), 8u);
  EXPECT_EQ(stats.batch_size.CountAbove(4), 1u);
}

TEST(Batcher, DelayBoundsTheWaitForAFullBatch) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 32, .max_queue_delay_us = 20'000}, &stats);
  auto start = Clock::now();
  runner->Submit(Request(&sink, 1));
  auto done = sink.WaitFor(1);
  auto waited = Clock::now() - start;
  ASSERT_EQ(done.size(), 1u);
  EXPECT_GE(waited, std::chrono::milliseconds(19));
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_GE(done[0]->queue_us, 19'000);
}

TEST(Batcher, NeverExceedsTheMaximumBatchSize) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 4, .max_queue_delay_us = 1000}, &stats);
  model->delay_us = 2000;  // requests pile up while a batch runs
  for (int i = 0; i < 40; ++i) runner->Submit(Request(&sink, i, i % 3 + 1));
  auto done = sink.WaitFor(40);
  ASSERT_EQ(done.size(), 40u);
  for (auto& r : done) {
    EXPECT_TRUE(r->status.ok());
    EXPECT_LE(r->batch_rows, 4);
  }
  EXPECT_EQ(stats.batch_size.CountAbove(4), 0u);
  EXPECT_GT(stats.batch_size.CountAbove(1), 0u);  // and it did batch
}

TEST(Batcher, WithoutBatchingEveryRequestRunsAlone) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 0}, &stats);
  for (int i = 0; i < 10; ++i) runner->Submit(Request(&sink, i, 2));
  auto done = sink.WaitFor(10);
  ASSERT_EQ(done.size(), 10u);
  EXPECT_EQ(model->calls.load(), 10);
  for (auto& r : done) EXPECT_EQ(r->batch_rows, 2);
}

TEST(Batcher, ModelErrorsReachEveryRequestOfTheBatch) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 8, .max_queue_delay_us = 100'000}, &stats);
  model->fail = true;
  for (int i = 0; i < 8; ++i) runner->Submit(Request(&sink, i));
  auto done = sink.WaitFor(8);
  ASSERT_EQ(done.size(), 8u);
  for (auto& r : done) EXPECT_EQ(r->status.code(), Code::kInternal);
}

TEST(Batcher, StopDrainsAcceptedRequestsAndRefusesNewOnes) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 2, .max_queue_delay_us = 0}, &stats);
  model->delay_us = 1000;
  for (int i = 0; i < 10; ++i) runner->Submit(Request(&sink, i));
  runner->Stop();
  runner->Submit(Request(&sink, 99));
  auto done = sink.WaitFor(11);
  ASSERT_EQ(done.size(), 11u);
  int ok = 0, refused = 0;
  for (auto& r : done) {
    if (r->status.ok()) ++ok;
    if (r->status.code() == Code::kUnavailable) ++refused;
  }
  EXPECT_EQ(ok, 10);
  EXPECT_EQ(refused, 1);
}

TEST(Batcher, FullQueueAnswers503) {
  DoublingModel* model;
  ModelStats stats;
  Sink sink;
  auto runner = Runner(&model, {.max_batch_size = 0, .max_queue_size = 2}, &stats);
  model->delay_us = 50'000;
  for (int i = 0; i < 6; ++i) runner->Submit(Request(&sink, i));
  auto done = sink.WaitFor(6);
  ASSERT_EQ(done.size(), 6u);
  int refused = 0;
  for (auto& r : done) refused += r->status.code() == Code::kUnavailable;
  EXPECT_GE(refused, 1);
}

TEST(Batcher, SeveralInstancesRunInParallel) {
  ModelStats stats;
  Sink sink;
  std::vector<std::unique_ptr<Model>> instances;
  std::vector<DoublingModel*> models;
  for (int i = 0; i < 2; ++i) {
    auto m = std::make_unique<DoublingModel>();
    m->delay_us = 100'000;
    models.push_back(m.get());
    instances.push_back(std::move(m));
  }
  ModelRunner runner(std::move(instances), {.max_batch_size = 0, .instances = 2}, &stats);
  auto start = Clock::now();
  runner.Submit(Request(&sink, 1));
  runner.Submit(Request(&sink, 2));
  ASSERT_EQ(sink.WaitFor(2).size(), 2u);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(190));
  EXPECT_EQ(models[0]->calls.load(), 1);
  EXPECT_EQ(models[1]->calls.load(), 1);
}

}  // namespace
}  // namespace skiff::serving

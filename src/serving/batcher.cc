// The dynamic batcher; see batcher.h.
#include "serving/batcher.h"

#include <algorithm>

namespace skiff::serving {
namespace {

int64_t Micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

// Inputs of `a` and `b` agree on every dimension but the batch: they can share one forward.
bool SameInnerShapes(const InferRequest& a, const InferRequest& b) {
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const auto& x = a.inputs[i].shape;
    const auto& y = b.inputs[i].shape;
    if (x.size() != y.size() || !std::equal(x.begin() + 1, x.end(), y.begin() + 1)) return false;
  }
  return true;
}

// Copies rows [begin, begin + count) of `t` (dimension 0 has `total` rows).
Status SliceRows(const Tensor& t, int64_t total, int64_t begin, int64_t count, Tensor* out) {
  out->name = t.name;
  out->datatype = t.datatype;
  out->shape = t.shape;
  if (t.shape.empty() || t.shape[0] != total) {
    return Status::Internal("output " + t.name + " has shape " + ShapeString(t.shape) +
                            "; a batched model must return " + std::to_string(total) + " rows");
  }
  out->shape[0] = count;
  if (t.datatype == DataType::kBytes) {
    int64_t per_row = total ? ElementCount(t.shape) / total : 0;
    int64_t from = BytesElementOffset(t.data, begin * per_row);
    int64_t to = BytesElementOffset(t.data, (begin + count) * per_row);
    if (from < 0 || to < 0) return Status::Internal("malformed BYTES output " + t.name);
    out->data.assign(t.data, from, to - from);
    return Status::Ok();
  }
  size_t row_bytes = total ? t.data.size() / total : 0;
  out->data.assign(t.data, begin * row_bytes, count * row_bytes);
  return Status::Ok();
}

}  // namespace

ModelRunner::ModelRunner(std::vector<std::unique_ptr<Model>> instances, BatchingOptions options,
                         ModelStats* stats)
    : instances_(std::move(instances)),
      options_(options),
      batching_(options.max_batch_size > 1 && instances_[0]->metadata().batchable),
      stats_(stats) {
  for (auto& m : instances_) threads_.emplace_back([this, model = m.get()] { Work(model); });
}

ModelRunner::~ModelRunner() { Stop(); }

void ModelRunner::Submit(std::unique_ptr<InferRequest> request) {
  request->enqueued = Clock::now();
  bool stopped;
  {
    std::lock_guard lock(mu_);
    stopped = stopping_;
    if (!stopping_ && queue_.size() < options_.max_queue_size) {
      queued_rows_ += request->rows;
      queue_.push_back(std::move(request));
    }
  }
  if (!request) {
    cv_.notify_one();
    return;
  }
  request->status = Status::Unavailable(stopped ? "model " + metadata().name + " is being unloaded"
                                                : "model " + metadata().name + " has " +
                                                      std::to_string(options_.max_queue_size) +
                                                      " requests queued; try again later");
  request->completion->Complete(std::move(request));
}

void ModelRunner::Stop() {
  std::call_once(stop_once_, [this] {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  });
}

void ModelRunner::Work(Model* model) {
  const auto delay = std::chrono::microseconds(options_.max_queue_delay_us);
  const int64_t max_rows = batching_ ? options_.max_batch_size : 1;
  std::vector<std::unique_ptr<InferRequest>> batch;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping and drained
    if (batching_ && !stopping_ && delay.count() > 0) {
      auto deadline = queue_.front()->enqueued + delay;
      while (!stopping_ && !queue_.empty() && queued_rows_ < max_rows) {
        if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
      if (queue_.empty()) continue;  // another instance took them
    }
    int64_t rows = 0;
    while (!queue_.empty()) {
      InferRequest& next = *queue_.front();
      if (!batch.empty() &&
          (!batching_ || rows + next.rows > max_rows || !SameInnerShapes(*batch[0], next))) {
        break;
      }
      rows += next.rows;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    queued_rows_ -= rows;
    bool more = !queue_.empty();
    lock.unlock();
    if (more) cv_.notify_one();  // another idle instance can start on the rest
    Execute(model, batch);
    batch.clear();
    lock.lock();
  }
}

void ModelRunner::Execute(Model* model, std::vector<std::unique_ptr<InferRequest>>& batch) {
  const auto start = Clock::now();
  int64_t total = 0;
  for (const auto& r : batch) total += r->rows;
  std::vector<Tensor> outputs;
  Status st;
  if (batch.size() == 1) {
    st = model->Infer(batch[0]->inputs, &outputs);
  } else {
    // Concatenate along dimension 0: row-major tensors with equal inner shapes just append.
    std::vector<Tensor> inputs(batch[0]->inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& first = batch[0]->inputs[i];
      inputs[i].name = first.name;
      inputs[i].datatype = first.datatype;
      inputs[i].shape = first.shape;
      inputs[i].shape[0] = total;
      size_t bytes = 0;
      for (const auto& r : batch) bytes += r->inputs[i].data.size();
      inputs[i].data.reserve(bytes);
      for (const auto& r : batch) inputs[i].data += r->inputs[i].data;
    }
    st = model->Infer(inputs, &outputs);
  }
  const auto end = Clock::now();
  const int64_t compute_us = Micros(end - start);
  stats_->exec_count.fetch_add(1, std::memory_order_relaxed);
  stats_->inference_count.fetch_add(total, std::memory_order_relaxed);
  stats_->compute_duration_us.fetch_add(compute_us, std::memory_order_relaxed);
  stats_->batch_size.Observe(static_cast<double>(total));

  int64_t offset = 0;
  for (auto& r : batch) {
    r->queue_us = Micros(start - r->enqueued);
    r->compute_us = compute_us;
    r->batch_rows = total;
    stats_->queue_duration_us.fetch_add(r->queue_us, std::memory_order_relaxed);
    if (!st.ok()) {
      r->status = st;
    } else if (batch.size() == 1) {
      r->outputs = std::move(outputs);
    } else {
      r->outputs.resize(outputs.size());
      for (size_t i = 0; i < outputs.size() && r->status.ok(); ++i) {
        r->status = SliceRows(outputs[i], total, offset, r->rows, &r->outputs[i]);
      }
    }
    offset += r->rows;
    InferCompletion* completion = r->completion;
    completion->Complete(std::move(r));
  }
}

}  // namespace skiff::serving

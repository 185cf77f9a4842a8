// Prometheus metrics of the model server, named as Triton and KServe users expect:
//   nv_inference_request_success / _failure   requests per model (Triton counters)
//   nv_inference_count / nv_inference_exec_count   inferences (batch rows) / model executions
//   nv_inference_request_duration_us, nv_inference_queue_duration_us,
//   nv_inference_compute_infer_duration_us     cumulative microseconds (Triton)
//   request_predict_seconds{model_name}        end-to-end latency histogram (KServe)
//   skiff_inference_requests_total{model,code} responses by HTTP status code
//   skiff_inference_batch_size{model}          rows per model execution (histogram)
//   skiff_inference_grpc_requests_total{model,code}   gRPC ModelInfer answers by gRPC status code
// Everything is updated with relaxed atomics: no lock on the request path.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::serving {

// `value` escaped for a Prometheus label (backslash, quote, newline).
std::string EscapeLabel(const std::string& value);

// A cumulative histogram with fixed upper bounds (Prometheus `le`), lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends `name_bucket`, `name_sum`, `name_count` lines with the given label text (`a="b"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  // Observations greater than `value` (by bucket bounds; `value` should be a bound).
  uint64_t CountAbove(double value) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum in millionths, so it stays an integer atomic
};

struct ModelStats {
  ModelStats();
  std::atomic<uint64_t> success{0}, failure{0};
  std::atomic<uint64_t> inference_count{0}, exec_count{0};
  std::atomic<uint64_t> request_duration_us{0}, queue_duration_us{0}, compute_duration_us{0};
  Histogram batch_size;
  Histogram request_seconds;
  // Responses by status code; index from CodeIndex().
  std::array<std::atomic<uint64_t>, 10> by_code{};

  void RecordResponse(int http_code, double seconds);
  static size_t CodeIndex(int http_code);

  // gRPC ModelInfer answers by status code (0 OK .. 16 UNAUTHENTICATED); the Triton counters and
  // the latency histogram above count both protocols.
  std::array<std::atomic<uint64_t>, 17> grpc_by_code{};
  void RecordGrpcResponse(int grpc_code, double seconds);
};

// Owns one ModelStats per model name for the life of the server (counters stay monotonic across
// unload and reload). Thread-safe; pointers returned stay valid until the Metrics is destroyed.
class Metrics {
 public:
  ModelStats* ForModel(const std::string& name);
  // Stats for requests that name no known model (label model="").
  ModelStats* Unrouted() { return ForModel(""); }
  // The Prometheus text exposition of every family above, then `extra`.
  std::string Render(const std::string& extra = "") const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<ModelStats>> models_;  // guarded by mu_
};

}  // namespace skiff::serving

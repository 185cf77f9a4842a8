// Prometheus text rendering and lock-free recording; see metrics.h.
#include "serving/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace skiff::serving {
namespace {

constexpr int kCodes[] = {200, 400, 404, 405, 413, 500, 501, 503, 504, 0};  // 0: any other

// grpc::StatusCode names by value, as gRPC users read them.
constexpr const char* kGrpcCodes[] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

std::string EscapeLabel(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micro_.fetch_add(static_cast<uint64_t>(std::llround(value * 1e6)), std::memory_order_relaxed);
}

uint64_t Histogram::CountAbove(double value) const {
  uint64_t n = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    if (i == bounds_.size() || bounds_[i] > value) n += buckets_[i].load(std::memory_order_relaxed);
  }
  return n;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i == bounds_.size() ? "+Inf" : Num(bounds_[i]);
    *out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) +
            "\n";
  }
  std::string braces = labels.empty() ? "" : "{" + labels + "}";
  *out +=
      name + "_sum" + braces + " " + Num(sum_micro_.load(std::memory_order_relaxed) / 1e6) + "\n";
  *out += name + "_count" + braces + " " + std::to_string(count_.load(std::memory_order_relaxed)) +
          "\n";
}

ModelStats::ModelStats()
    : batch_size({1, 2, 4, 8, 16, 32, 64, 128, 256}),
      request_seconds({0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                       0.5, 1, 2.5, 5, 10}) {}

size_t ModelStats::CodeIndex(int http_code) {
  for (size_t i = 0; i + 1 < std::size(kCodes); ++i) {
    if (kCodes[i] == http_code) return i;
  }
  return std::size(kCodes) - 1;
}

void ModelStats::RecordResponse(int http_code, double seconds) {
  by_code[CodeIndex(http_code)].fetch_add(1, std::memory_order_relaxed);
  request_seconds.Observe(seconds);
}

void ModelStats::RecordGrpcResponse(int grpc_code, double seconds) {
  size_t i = grpc_code >= 0 && grpc_code < static_cast<int>(grpc_by_code.size()) ? grpc_code : 2;
  grpc_by_code[i].fetch_add(1, std::memory_order_relaxed);  // 2 is UNKNOWN
  request_seconds.Observe(seconds);
}

ModelStats* Metrics::ForModel(const std::string& name) {
  std::lock_guard lock(mu_);
  auto& slot = models_[name];
  if (!slot) slot = std::make_unique<ModelStats>();
  return slot.get();
}

std::string Metrics::Render(const std::string& extra) const {
  std::lock_guard lock(mu_);
  std::string out;
  auto counter = [&](const char* name, const char* help, auto field, bool skip_unrouted) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    for (const auto& [model, s] : models_) {
      if (skip_unrouted && model.empty()) continue;
      out += std::string(name) + "{model=\"" + EscapeLabel(model) + "\",version=\"1\"} " +
             std::to_string((s.get()->*field).load(std::memory_order_relaxed)) + "\n";
    }
  };
  counter("nv_inference_request_success", "Number of successful inference requests",
          &ModelStats::success, true);
  counter("nv_inference_request_failure", "Number of failed inference requests",
          &ModelStats::failure, false);
  counter("nv_inference_count", "Number of inferences performed (batch rows)",
          &ModelStats::inference_count, true);
  counter("nv_inference_exec_count", "Number of model executions performed (batches)",
          &ModelStats::exec_count, true);
  counter("nv_inference_request_duration_us", "Cumulative inference request duration in us",
          &ModelStats::request_duration_us, true);
  counter("nv_inference_queue_duration_us", "Cumulative inference queuing duration in us",
          &ModelStats::queue_duration_us, true);
  counter("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in us",
          &ModelStats::compute_duration_us, true);

  out += "# HELP skiff_inference_requests_total Responses to model requests by HTTP status code\n";
  out += "# TYPE skiff_inference_requests_total counter\n";
  for (const auto& [model, s] : models_) {
    for (size_t i = 0; i < std::size(kCodes); ++i) {
      uint64_t n = s->by_code[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      std::string code = kCodes[i] ? std::to_string(kCodes[i]) : "other";
      out += "skiff_inference_requests_total{model=\"" + EscapeLabel(model) + "\",code=\"" + code +
             "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP skiff_inference_grpc_requests_total gRPC ModelInfer answers by status code\n";
  out += "# TYPE skiff_inference_grpc_requests_total counter\n";
  for (const auto& [model, s] : models_) {
    for (size_t i = 0; i < std::size(kGrpcCodes); ++i) {
      uint64_t n = s->grpc_by_code[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "skiff_inference_grpc_requests_total{model=\"" + EscapeLabel(model) + "\",code=\"" +
             kGrpcCodes[i] + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP request_predict_seconds Time to answer a predict request, in seconds\n";
  out += "# TYPE request_predict_seconds histogram\n";
  for (const auto& [model, s] : models_) {
    s->request_seconds.Render("request_predict_seconds",
                              "model_name=\"" + EscapeLabel(model) + "\"", &out);
  }
  out += "# HELP skiff_inference_batch_size Rows per model execution (dynamic batching)\n";
  out += "# TYPE skiff_inference_batch_size histogram\n";
  for (const auto& [model, s] : models_) {
    if (model.empty()) continue;
    s->batch_size.Render("skiff_inference_batch_size", "model=\"" + EscapeLabel(model) + "\"",
                         &out);
  }
  out += extra;
  return out;
}

}  // namespace skiff::serving

#include "pipelines/metrics.h"

#include <array>
#include <sstream>

namespace skiff::pipelines {
namespace {

// Runs last from well under a second (cached) to hours (training).
constexpr std::array<double, 12> kBounds = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200};

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

}  // namespace

void PipelineMetrics::RunFinished(const std::string& pipeline, const std::string& status,
                                  double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = durations_[{pipeline, status}];
  if (h.buckets.empty()) h.buckets.assign(kBounds.size(), 0);
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
  ++runs_[status];
}

void PipelineMetrics::TaskFinished(const std::string& state) {
  std::lock_guard<std::mutex> lock(mu_);
  ++tasks_[state];
}

void PipelineMetrics::CacheLookup(bool hit) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(hit ? cache_hits_ : cache_misses_);
}

std::string PipelineMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream o;
  o << "# HELP kubeflow_pipeline_duration_seconds Wall time of finished pipeline runs.\n"
       "# TYPE kubeflow_pipeline_duration_seconds histogram\n";
  for (const auto& [key, h] : durations_) {
    const std::string labels =
        "pipeline=\"" + Escape(key.first) + "\",status=\"" + Escape(key.second) + "\"";
    for (size_t i = 0; i < kBounds.size(); ++i) {
      o << "kubeflow_pipeline_duration_seconds_bucket{" << labels << ",le=\"" << Number(kBounds[i])
        << "\"} " << h.buckets[i] << "\n";
    }
    o << "kubeflow_pipeline_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.count
      << "\n";
    o << "kubeflow_pipeline_duration_seconds_sum{" << labels << "} " << Number(h.sum) << "\n";
    o << "kubeflow_pipeline_duration_seconds_count{" << labels << "} " << h.count << "\n";
  }
  o << "# HELP kubeflow_pipeline_runs_total Finished pipeline runs by final state.\n"
       "# TYPE kubeflow_pipeline_runs_total counter\n";
  for (const auto& [status, n] : runs_) {
    o << "kubeflow_pipeline_runs_total{status=\"" << Escape(status) << "\"} " << n << "\n";
  }
  o << "# HELP kubeflow_pipeline_tasks_total Finished pipeline tasks by final state.\n"
       "# TYPE kubeflow_pipeline_tasks_total counter\n";
  for (const auto& [state, n] : tasks_) {
    o << "kubeflow_pipeline_tasks_total{state=\"" << Escape(state) << "\"} " << n << "\n";
  }
  o << "# HELP kubeflow_pipeline_cache_hits_total Cacheable tasks whose outputs were reused.\n"
       "# TYPE kubeflow_pipeline_cache_hits_total counter\n"
       "kubeflow_pipeline_cache_hits_total "
    << cache_hits_
    << "\n# HELP kubeflow_pipeline_cache_misses_total Cacheable tasks that had to run.\n"
       "# TYPE kubeflow_pipeline_cache_misses_total counter\n"
       "kubeflow_pipeline_cache_misses_total "
    << cache_misses_ << "\n";
  return o.str();
}

}  // namespace skiff::pipelines

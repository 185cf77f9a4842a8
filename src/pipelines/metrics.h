// Pipeline metrics in Prometheus' text format, served on skiff's /metrics:
//   kubeflow_pipeline_duration_seconds{pipeline, status}  histogram of run wall time
//   kubeflow_pipeline_runs_total{status}                  finished runs
//   kubeflow_pipeline_tasks_total{state}                  finished tasks by final state
//   kubeflow_pipeline_cache_hits_total / _misses_total    cache lookups of cacheable tasks
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace skiff::pipelines {

class PipelineMetrics {
 public:
  void RunFinished(const std::string& pipeline, const std::string& status, double seconds);
  void TaskFinished(const std::string& state);
  void CacheLookup(bool hit);
  std::string Render() const;

 private:
  struct Histogram {
    std::vector<int64_t> buckets;  // cumulative counts per bound in kBounds
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Histogram> durations_;
  std::map<std::string, int64_t> runs_;
  std::map<std::string, int64_t> tasks_;
  int64_t cache_hits_ = 0;
  int64_t cache_misses_ = 0;
};

}  // namespace skiff::pipelines

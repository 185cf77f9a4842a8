// The request-based autoscaler (Knative's KPA): per revision, the gateway counts in-flight
// requests and requests served (RevisionStats); every tick the autoscaler samples them, averages
// them over a stable window (60 s) and a panic window (6 s), and decides a replica count:
// ceil(observed / target per Pod), panicking (never scaling down) while the panic window asks for
// at least twice the ready capacity, scaling to zero only when allowed (min 0) after a whole idle
// stable window and the grace period. The InferenceService controller asks for the decision and
// creates or deletes Pods to match; the autoscaler wakes it when a decision changes.
//
// Thread-safety: every public method may be called from any thread. RevisionStats is updated on
// the gateway's event loops (a short uncontended lock per request start and end).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controllers/manager.h"

namespace skiff::inference {

using SteadyTime = std::chrono::steady_clock::time_point;

struct AutoscalerOptions {
  // Knative's defaults (config-autoscaler).
  std::chrono::milliseconds stable_window{60000};
  double panic_window_percentage = 10.0;      // of the stable window: 6 s
  double panic_threshold_percentage = 200.0;  // of the ready capacity
  std::chrono::milliseconds scale_to_zero_grace{30000};
  double target_utilization = 0.7;          // container-concurrency-target-percentage
  double concurrency_target_default = 100;  // container-concurrency-target-default
  double rps_target_default = 200;          // requests-per-second-target-default
  double max_scale_up_rate = 1000;
  double max_scale_down_rate = 2;
  // How often metrics are sampled and decisions made; 0 = stable_window / 30 in [50 ms, 2 s].
  std::chrono::milliseconds tick{0};

  std::chrono::milliseconds panic_window() const;
  std::chrono::milliseconds effective_tick() const;
};

// What an InferenceService component says about scaling.
struct ScaleSpec {
  int min_replicas = 1;
  int max_replicas = 0;                // 0: no upper bound
  std::string metric = "concurrency";  // concurrency | rps
  std::optional<double> target;        // scaleTarget (autoscaling.knative.dev/target)
  int container_concurrency = 0;       // hard per-Pod limit; 0 = unlimited
  bool operator==(const ScaleSpec&) const = default;
};

// Knative's ResolveMetricTarget: the per-Pod value the autoscaler aims at (target x utilization;
// the target defaults to containerConcurrency, else 100 concurrent requests or 200 rps).
double TargetPerPod(const ScaleSpec& spec, const AutoscalerOptions& options);

// Counted by the gateway for one revision: requests in flight (including those the activator
// holds) as a time integral, and requests started.
class RevisionStats {
 public:
  void Begin();
  void End();
  int64_t in_flight() const;
  // Average concurrency and requests/s since the previous call (the first call: since creation).
  void Sample(SteadyTime now, double* concurrency, double* rps);

 private:
  mutable std::mutex mu_;
  int64_t in_flight_ = 0;                                  // GUARDED_BY(mu_)
  double integral_ = 0;                                    // GUARDED_BY(mu_), request-seconds
  uint64_t started_ = 0;                                   // GUARDED_BY(mu_)
  SteadyTime changed_ = std::chrono::steady_clock::now();  // GUARDED_BY(mu_)
  SteadyTime sampled_ = changed_;                          // GUARDED_BY(mu_)
};

// The KPA decision for one revision, fed with explicit times (unit-testable).
class Decider {
 public:
  Decider(ScaleSpec spec, const AutoscalerOptions& options, SteadyTime start, int initial);
  void Update(const ScaleSpec& spec) { spec_ = spec; }
  // One sample of the metric (average concurrency, or rps) over the last tick.
  void Record(SteadyTime t, double value, bool active);
  // The replica count for now, given the ready Pods; `waiting` = requests held by the activator.
  int Desired(SteadyTime now, int ready_pods, bool waiting);
  bool panicking() const { return panic_start_.has_value(); }
  double stable_average(SteadyTime now) const;
  double panic_average(SteadyTime now) const;

 private:
  double Average(SteadyTime now, std::chrono::milliseconds window) const;

  ScaleSpec spec_;
  const AutoscalerOptions options_;
  const SteadyTime start_;
  std::vector<std::pair<SteadyTime, double>> samples_;  // oldest first, pruned to one window
  std::optional<SteadyTime> panic_start_, panic_last_;
  int max_panic_pods_ = 0;
  int last_ = 0;
  SteadyTime last_active_;
};

class Autoscaler : public controllers::Runnable {
 public:
  explicit Autoscaler(AutoscalerOptions options = {});
  ~Autoscaler() override;

  const AutoscalerOptions& options() const { return options_; }

  // The gateway's counters for revision `key` ("ns/revision"), created on first use.
  std::shared_ptr<RevisionStats> Stats(const std::string& key);

  // The controller registers a revision it runs (or updates it): its scale spec, its ready
  // Pods, how many Pods it has now, and what to call when the decision changes.
  void Configure(const std::string& key, const ScaleSpec& spec, int ready_pods, int current_pods,
                 std::function<void()> on_change);
  // The replica count decided for `key`, or nullopt when it is not configured.
  std::optional<int> Desired(const std::string& key);
  // The revision is gone: forget it.
  void Forget(const std::string& key);
  // The activator holds a request for `key`, which has no ready Pod: scale from zero now.
  void Activate(const std::string& key);
  bool Panicking(const std::string& key);

  // Runnable: the sampling thread.
  void Start() override;
  void Stop() override;
  // One round of sampling and deciding (the thread calls it every tick; tests may call it).
  void Tick(SteadyTime now);

 private:
  struct Revision {
    std::unique_ptr<Decider> decider;
    std::shared_ptr<RevisionStats> stats;
    ScaleSpec spec;
    int ready = 0;
    int desired = 0;
    bool waiting = false;
    std::function<void()> on_change;
  };
  void Run();

  const AutoscalerOptions options_;
  std::mutex mu_;
  std::map<std::string, Revision> revisions_;                    // GUARDED_BY(mu_)
  std::map<std::string, std::shared_ptr<RevisionStats>> stats_;  // GUARDED_BY(mu_)
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace skiff::inference

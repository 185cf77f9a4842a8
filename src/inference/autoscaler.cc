// Knative's KPA decision (autoscaler.Scale) and the sampling thread around it.
#include "inference/autoscaler.h"

#include <algorithm>
#include <cmath>

namespace skiff::inference {

using std::chrono::duration;
using std::chrono::milliseconds;

std::chrono::milliseconds AutoscalerOptions::panic_window() const {
  return milliseconds(std::max<int64_t>(
      1, static_cast<int64_t>(stable_window.count() * panic_window_percentage / 100.0)));
}

std::chrono::milliseconds AutoscalerOptions::effective_tick() const {
  if (tick.count() > 0) return tick;
  return std::clamp(milliseconds(stable_window.count() / 30), milliseconds(50), milliseconds(2000));
}

double TargetPerPod(const ScaleSpec& spec, const AutoscalerOptions& options) {
  double total;
  const bool rps = spec.metric == "rps";
  if (rps) {
    total = options.rps_target_default;
  } else {
    total = spec.container_concurrency > 0 ? spec.container_concurrency
                                           : options.concurrency_target_default;
  }
  if (spec.target && *spec.target > 0) {
    total = *spec.target;
    if (!rps && spec.container_concurrency > 0) {
      total = std::min<double>(total, spec.container_concurrency);
    }
  }
  return std::max(0.01, total * options.target_utilization);
}

void RevisionStats::Begin() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  integral_ += in_flight_ * duration<double>(now - changed_).count();
  changed_ = now;
  ++in_flight_;
  ++started_;
}

void RevisionStats::End() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  integral_ += in_flight_ * duration<double>(now - changed_).count();
  changed_ = now;
  if (in_flight_ > 0) --in_flight_;
}

int64_t RevisionStats::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

void RevisionStats::Sample(SteadyTime now, double* concurrency, double* rps) {
  std::lock_guard<std::mutex> lock(mu_);
  if (now < changed_) now = changed_;
  integral_ += in_flight_ * duration<double>(now - changed_).count();
  changed_ = now;
  const double dt = duration<double>(now - sampled_).count();
  *concurrency = dt > 0 ? integral_ / dt : static_cast<double>(in_flight_);
  // A request that started and ended within the tick still counts as activity.
  *rps = dt > 0 ? started_ / dt : 0;
  if (started_ > 0 && *concurrency == 0) *concurrency = 1e-9;
  integral_ = 0;
  started_ = 0;
  sampled_ = now;
}

Decider::Decider(ScaleSpec spec, const AutoscalerOptions& options, SteadyTime start, int initial)
    : spec_(std::move(spec)),
      options_(options),
      start_(start),
      last_(initial),
      last_active_(start) {}

void Decider::Record(SteadyTime t, double value, bool active) {
  samples_.emplace_back(t, value);
  if (active) last_active_ = t;
  const auto horizon = t - options_.stable_window;
  auto keep = std::find_if(samples_.begin(), samples_.end(),
                           [&](const auto& s) { return s.first > horizon; });
  samples_.erase(samples_.begin(), keep);
}

double Decider::Average(SteadyTime now, std::chrono::milliseconds window) const {
  double sum = 0;
  int n = 0;
  for (const auto& [t, v] : samples_) {
    if (t > now - window && t <= now) {
      sum += v;
      ++n;
    }
  }
  return n ? sum / n : 0;
}

double Decider::stable_average(SteadyTime now) const {
  return Average(now, options_.stable_window);
}
double Decider::panic_average(SteadyTime now) const {
  return Average(now, options_.panic_window());
}

int Decider::Desired(SteadyTime now, int ready_pods, bool waiting) {
  const double target = TargetPerPod(spec_, options_);
  const double ready = std::max(1, ready_pods);
  const double stable = stable_average(now), panic = panic_average(now);
  const int max_up = static_cast<int>(std::ceil(options_.max_scale_up_rate * ready));
  const int max_down = static_cast<int>(std::floor(ready / options_.max_scale_down_rate));
  int dspc = static_cast<int>(std::ceil(stable / target - 1e-9));
  int dppc = static_cast<int>(std::ceil(panic / target - 1e-9));
  // At most max_scale_up_rate times the ready Pods up, and down to 1/max_scale_down_rate.
  dspc = std::max(std::min(dspc, max_up), max_down);
  dppc = std::max(std::min(dppc, max_up), max_down);

  const bool over = panic / (ready * target) >= options_.panic_threshold_percentage / 100.0;
  if (over) {
    if (!panic_start_) {
      panic_start_ = now;
      max_panic_pods_ = ready_pods;
    }
    panic_last_ = now;
  } else if (panic_start_ && now - *panic_last_ >= options_.stable_window) {
    panic_start_.reset();
    panic_last_.reset();
    max_panic_pods_ = 0;
  }
  int desired = dspc;
  if (panic_start_) {
    max_panic_pods_ = std::max(max_panic_pods_, dppc);
    desired = std::max(desired, max_panic_pods_);
  }
  // Until one stable window of data exists, do not scale below where the revision started.
  if (now - start_ < options_.stable_window) desired = std::max(desired, last_ > 0 ? 1 : 0);
  if (waiting) desired = std::max(desired, 1);
  desired = std::max(desired, spec_.min_replicas);
  if (spec_.max_replicas > 0) desired = std::min(desired, spec_.max_replicas);
  // Scale to zero only after a whole idle stable window plus the grace period.
  if (desired == 0 && last_ > 0 &&
      now - last_active_ < options_.stable_window + options_.scale_to_zero_grace) {
    desired = 1;
  }
  last_ = desired;
  return desired;
}

Autoscaler::Autoscaler(AutoscalerOptions options) : options_(options) {}

Autoscaler::~Autoscaler() { Stop(); }

std::shared_ptr<RevisionStats> Autoscaler::Stats(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = stats_[key];
  if (!s) s = std::make_shared<RevisionStats>();
  return s;
}

void Autoscaler::Configure(const std::string& key, const ScaleSpec& spec, int ready_pods,
                           int current_pods, std::function<void()> on_change) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, added] = revisions_.try_emplace(key);
  Revision& r = it->second;
  if (added) {
    const int initial = std::max({current_pods, spec.min_replicas, 1});
    r.decider =
        std::make_unique<Decider>(spec, options_, std::chrono::steady_clock::now(), initial);
    auto& s = stats_[key];
    if (!s) s = std::make_shared<RevisionStats>();
    r.stats = s;
    r.desired = spec.max_replicas > 0 ? std::min(initial, spec.max_replicas) : initial;
  } else if (!(r.spec == spec)) {
    r.decider->Update(spec);
    int d = std::max(r.desired, spec.min_replicas);
    if (spec.max_replicas > 0) d = std::min(d, spec.max_replicas);
    r.desired = d;
  }
  r.spec = spec;
  r.ready = ready_pods;
  if (ready_pods > 0) r.waiting = false;
  r.on_change = std::move(on_change);
}

std::optional<int> Autoscaler::Desired(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revisions_.find(key);
  if (it == revisions_.end()) return std::nullopt;
  return it->second.desired;
}

void Autoscaler::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  revisions_.erase(key);
  stats_.erase(key);
}

void Autoscaler::Activate(const std::string& key) {
  std::function<void()> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = revisions_.find(key);
    if (it == revisions_.end()) return;
    Revision& r = it->second;
    r.waiting = true;
    if (r.desired < 1) {
      r.desired = 1;
      notify = r.on_change;
    }
  }
  if (notify) notify();
}

bool Autoscaler::Panicking(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = revisions_.find(key);
  return it != revisions_.end() && it->second.decider->panicking();
}

void Autoscaler::Tick(SteadyTime now) {
  std::vector<std::function<void()>> notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, r] : revisions_) {
      double concurrency = 0, rps = 0;
      r.stats->Sample(now, &concurrency, &rps);
      const bool active = concurrency > 0 || rps > 0 || r.stats->in_flight() > 0;
      r.decider->Record(now, r.spec.metric == "rps" ? rps : concurrency, active);
      const bool waiting = r.waiting && r.ready == 0;
      const int desired = r.decider->Desired(now, r.ready, waiting);
      if (desired != r.desired) {
        r.desired = desired;
        if (r.on_change) notify.push_back(r.on_change);
      }
    }
  }
  for (auto& f : notify) f();
}

void Autoscaler::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Autoscaler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Autoscaler::Run() {
  const auto tick = options_.effective_tick();
  auto next = std::chrono::steady_clock::now() + tick;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (cv_.wait_until(lock, next, [this] { return stop_; })) break;
    lock.unlock();
    Tick(std::chrono::steady_clock::now());
    lock.lock();
    next += tick;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + tick;
  }
}

}  // namespace skiff::inference

// The KPA decision with explicit times: targets as Knative resolves them, stable and panic
// windows, bounds, scale to zero after the grace period, and the activator's wake-up.
#include "inference/autoscaler.h"

#include <gtest/gtest.h>

#include <thread>

namespace skiff::inference {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

AutoscalerOptions Opts() {
  AutoscalerOptions o;
  o.stable_window = seconds(60);
  o.scale_to_zero_grace = seconds(30);
  return o;
}

// Feeds `value` once a second for `secs` seconds from `*t`. `ready` < 0: the ready Pods follow
// the previous decision (the controller keeps up).
void Feed(Decider& d, SteadyTime* t, double value, int secs, int ready, int* desired) {
  for (int i = 0; i < secs; ++i) {
    *t += seconds(1);
    d.Record(*t, value, value > 0);
    *desired = d.Desired(*t, ready < 0 ? std::max(*desired, 0) : ready, false);
  }
}

TEST(Autoscaler, TargetsResolveAsKnative) {
  AutoscalerOptions o = Opts();
  ScaleSpec s;
  EXPECT_DOUBLE_EQ(TargetPerPod(s, o), 70);  // 100 concurrent x 70 %
  s.container_concurrency = 10;
  EXPECT_DOUBLE_EQ(TargetPerPod(s, o), 7);
  s.target = 20;  // capped by containerConcurrency
  EXPECT_DOUBLE_EQ(TargetPerPod(s, o), 7);
  s.container_concurrency = 0;
  s.target = 1;
  EXPECT_DOUBLE_EQ(TargetPerPod(s, o), 0.7);
  s = ScaleSpec{};
  s.metric = "rps";
  EXPECT_DOUBLE_EQ(TargetPerPod(s, o), 140);
}

TEST(Autoscaler, StableWindowSizesReplicasWithinBounds) {
  ScaleSpec s;
  s.min_replicas = 1;
  s.max_replicas = 5;
  s.target = 10;  // 7 per Pod
  SteadyTime t{};
  Decider d(s, Opts(), t, 1);
  int desired = 0;
  Feed(d, &t, 14, 60, 2, &desired);
  EXPECT_EQ(desired, 2);  // ceil(14 / 7)
  Feed(d, &t, 28, 60, 2, &desired);
  EXPECT_EQ(desired, 4);
  Feed(d, &t, 1000, 60, 4, &desired);
  EXPECT_EQ(desired, 5);            // maxReplicas
  Feed(d, &t, 0, 70, 5, &desired);  // past the panic window's echo and one stable window
  EXPECT_EQ(desired, 2);            // at most halved per decision (max-scale-down-rate 2)
  Feed(d, &t, 0, 120, -1, &desired);
  EXPECT_EQ(desired, 1);  // minReplicas
}

TEST(Autoscaler, PanicScalesUpAtOnceAndHoldsWhileLoadLasts) {
  ScaleSpec s;
  s.target = 10;  // 7 per Pod
  s.max_replicas = 0;
  SteadyTime t{};
  Decider d(s, Opts(), t, 1);
  int desired = 0;
  Feed(d, &t, 3, 70, 1, &desired);
  EXPECT_EQ(desired, 1);
  EXPECT_FALSE(d.panicking());
  // A burst: the 6 s panic window sees 4x one Pod's capacity long before the 60 s window does.
  Feed(d, &t, 28, 3, 1, &desired);
  EXPECT_TRUE(d.panicking());
  EXPECT_GE(desired, 3);
  const int panic_desired = desired;
  // Load drops: no scale-down while panicking.
  Feed(d, &t, 3, 10, panic_desired, &desired);
  EXPECT_EQ(desired, panic_desired);
  // One stable window without panic-level load ends the panic.
  Feed(d, &t, 3, 70, panic_desired, &desired);
  EXPECT_FALSE(d.panicking());
  EXPECT_EQ(desired, 1);
}

TEST(Autoscaler, ScalesToZeroOnlyAfterStableWindowAndGrace) {
  ScaleSpec s;
  s.min_replicas = 0;
  s.target = 1;
  SteadyTime t{};
  Decider d(s, Opts(), t, 1);
  int desired = 0;
  Feed(d, &t, 0.5, 5, 1, &desired);
  EXPECT_EQ(desired, 1);
  Feed(d, &t, 0, 60, 1, &desired);
  EXPECT_EQ(desired, 1);  // idle for the stable window, but still in the grace period
  Feed(d, &t, 0, 31, 1, &desired);
  EXPECT_EQ(desired, 0);
  // A request held by the activator brings one replica back.
  EXPECT_EQ(d.Desired(t, 0, /*waiting=*/true), 1);
}

TEST(Autoscaler, StatsIntegrateConcurrencyOverTime) {
  RevisionStats stats;
  double c = 0, rps = 0;
  stats.Sample(std::chrono::steady_clock::now(), &c, &rps);
  stats.Begin();
  stats.Begin();
  std::this_thread::sleep_for(milliseconds(200));
  stats.End();
  std::this_thread::sleep_for(milliseconds(200));
  stats.Sample(std::chrono::steady_clock::now(), &c, &rps);
  // Two in flight for 0.2 s, then one for 0.2 s: 1.5 on average.
  EXPECT_NEAR(c, 1.5, 0.25);
  EXPECT_NEAR(rps, 5, 1.5);
  EXPECT_EQ(stats.in_flight(), 1);
}

TEST(Autoscaler, ActivateWakesTheController) {
  AutoscalerOptions o = Opts();
  Autoscaler a(o);
  ScaleSpec s;
  s.min_replicas = 0;
  int woken = 0;
  a.Configure("ns/r", s, 0, 0, [&] { ++woken; });
  EXPECT_EQ(a.Desired("ns/r").value_or(-1), 1);  // initial scale
  EXPECT_FALSE(a.Desired("ns/other"));
  a.Activate("ns/r");
  EXPECT_EQ(woken, 0);  // already 1: nothing to do
  a.Forget("ns/r");
  EXPECT_FALSE(a.Desired("ns/r"));
}

TEST(Autoscaler, TickFollowsTheGatewayCounters) {
  AutoscalerOptions o;
  o.stable_window = milliseconds(1000);
  o.scale_to_zero_grace = milliseconds(200);
  Autoscaler a(o);
  ScaleSpec s;
  s.min_replicas = 0;
  s.max_replicas = 4;
  s.target = 1;  // 0.7 per Pod
  std::atomic<int> woken{0};
  a.Configure("ns/r", s, 1, 1, [&] { ++woken; });
  auto stats = a.Stats("ns/r");
  for (int i = 0; i < 3; ++i) stats->Begin();
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < 12; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    t = std::chrono::steady_clock::now();
    a.Tick(t);
  }
  EXPECT_EQ(a.Desired("ns/r").value_or(-1), 4);  // ceil(3 / 0.7) = 5, capped at 4
  EXPECT_GT(woken.load(), 0);
  for (int i = 0; i < 3; ++i) stats->End();
  for (int i = 0; i < 80 && a.Desired("ns/r").value_or(-1) != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(25));
    a.Tick(std::chrono::steady_clock::now());
  }
  EXPECT_EQ(a.Desired("ns/r").value_or(-1), 0);
}

}  // namespace
}  // namespace skiff::inference

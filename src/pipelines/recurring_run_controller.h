// The RecurringRun controller: KFP's ScheduledWorkflow controller for skiff's kinds. For each
// RecurringRun it creates PipelineRuns at the times its schedule names; the run engine runs them.
//
// When a run is due (KFP's rules, in UTC, whole seconds):
//  - cron: the first schedule time after the last run's scheduled time, or after
//    max(startTime, creation time) before the first run;
//  - intervalSecond: the last run's scheduled time + interval; the first run comes one interval
//    after startTime (or after creation when there is no startTime), as in KFP;
//  - nothing after endTime; nothing while mode is DISABLE;
//  - catch-up (the default): every missed time runs, in order, one per reconcile;
//    noCatchup: after a pause or a late start only the latest missed time runs (for intervals,
//    KFP's rule: when a whole interval more has passed, the run is scheduled at "now");
//  - at most maxConcurrency (default 10, 1..10) of its runs unfinished at once (finished:
//    SUCCEEDED, SKIPPED, FAILED, CANCELED); a held-back run starts once an earlier one finishes.
// A run is named `<recurring run>-<unix seconds of its scheduled time>`, so creating it twice is
// AlreadyExists, never a duplicate. It is controlled by the RecurringRun (deleting that deletes
// its runs through the garbage collector), carries the label kRecurringRunLabel, the scheduled
// time and index annotations, spec.recurringRunRef, and the RecurringRun's pipelineRef /
// pipelineSpec, parameters, serviceAccountName, timeout, pipelineRoot, cachingOptions and
// experiment. String parameter values have KFP's macros substituted (SubstituteRunMacros).
//
// Status: observedGeneration; one condition as KFP writes it (type Enabled or Disabled, or Error
// when the spec cannot be scheduled, with status "True"); lastRunTime (the last run's scheduled
// time); nextRunTime (absent when disabled or finished); runs[] (the newest 10 runs, newest last,
// state copied from each run).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "client/client.h"
#include "common/clock.h"
#include "controllers/manager.h"

namespace skiff::pipelines {

inline constexpr char kRecurringRunLabel[] = "pipelines.kubeflow.org/recurring-run";
inline constexpr char kScheduledTimeAnnotation[] = "pipelines.kubeflow.org/scheduled-time";
inline constexpr char kRunIndexAnnotation[] = "pipelines.kubeflow.org/recurring-run-index";
// On the RecurringRun: the index of its newest run, so [[Index]] keeps counting up even when old
// runs are deleted (KFP keeps it in status.trigger.lastIndex, which skiff's status lacks).
inline constexpr char kLastIndexAnnotation[] = "pipelines.kubeflow.org/last-index";

struct RecurringRunOptions {
  // Decides when runs are due; must outlive the controller. Tests inject a fake one.
  Clock* clock = Clock::Real();
  int workers = 2;
  // Called after each reconcile that finished (no error, no retry), with the object's key
  // ("ns/name") and the clock reading it acted on, so tests can tell when a clock change has been
  // seen. May be empty.
  std::function<void(const std::string& key, std::chrono::system_clock::time_point now)>
      on_reconciled;
};

// Registers the controller (For RecurringRuns, Owns PipelineRuns) with `mgr`. `client` must
// outlive `mgr`'s controllers.
Status StartRecurringRunController(controllers::Manager& mgr, client::Client* client,
                                   RecurringRunOptions options = {});

// What KFP's run-parameter macros stand for in one run.
struct RunMacros {
  std::chrono::system_clock::time_point scheduled_time;
  std::chrono::system_clock::time_point current_time;
  int64_t index = 0;  // 1 for a schedule's first run
};

// KFP's parameter formatter: [[ScheduledTime]] and [[CurrentTime]] (UTC, 20060102150405 form),
// [[ScheduledTime.<Go layout>]] and [[CurrentTime.<Go layout>]] (e.g.
// [[ScheduledTime.2006-01-02]]),
// [[Index]]. Any other [[...]] (e.g. [[RunUUID]], which only exists once the run does) is kept.
std::string SubstituteRunMacros(std::string_view text, const RunMacros& macros);

// Formats `t` in UTC with a Go reference-time layout ("2006-01-02T15:04:05Z07:00", "Jan _2",
// "Monday 3:04PM MST"). Text that is not a layout element is copied.
std::string FormatGoTime(std::string_view layout, std::chrono::system_clock::time_point t);

}  // namespace skiff::pipelines

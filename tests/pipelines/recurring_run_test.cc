// The RecurringRun controller in a Manager over the in-process API server, with the garbage
// collector and a fake clock: schedules are driven by moving the clock, and run states are set by
// the test (no engine runs here). Observed through the API as a user would.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

#include "../client/test_util.h"
#include "controllers/core_controllers.h"
#include "controllers/object_meta.h"
#include "pipelines/recurring_run_controller.h"

namespace skiff::pipelines {
namespace {

using skiff::testing::Eventually;
using skiff::testing::InProcessEnv;
using std::chrono::minutes;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

const client::Resource kRecurringRuns{"kubeflow.org", "v2beta1", "recurringruns"};
const client::Resource kPipelineRuns{"kubeflow.org", "v2beta1", "pipelineruns"};

TimePoint T(const std::string& text) {
  TimePoint t;
  EXPECT_TRUE(ParseRfc3339(text, &t)) << text;
  return t;
}

int64_t Unix(TimePoint t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

// Safe to read from controller threads while the test moves it.
class FakeClock : public Clock {
 public:
  explicit FakeClock(TimePoint t) : now_(Unix(t)) {}
  TimePoint Now() const override { return TimePoint(seconds(now_.load())); }
  void Set(TimePoint t) { now_ = Unix(t); }

 private:
  std::atomic<int64_t> now_;
};

const TimePoint kT0 = T("2030-01-01T00:00:00Z");

Json RecurringRun(const std::string& name, Json schedule) {
  return {{"apiVersion", "kubeflow.org/v2beta1"},
          {"kind", "RecurringRun"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"schedule", std::move(schedule)},
            {"pipelineRef", {{"name", "hello"}}},
            {"parameters", {{"message", "hi"}}}}}};
}

class RecurringRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mgr_ = std::make_unique<controllers::Manager>(env_.client.get());
    controllers::CoreControllerOptions core;
    core.gc.registry_poll = std::chrono::milliseconds(50);
    ASSERT_TRUE(
        controllers::StartCoreControllers(*mgr_, env_.client.get(), &env_.registry, core).ok());
    RecurringRunOptions options;
    options.clock = &clock_;
    options.on_reconciled = [this](const std::string& key, TimePoint now) {
      std::lock_guard<std::mutex> lock(mu_);
      TimePoint& seen = reconciled_[key];
      seen = std::max(seen, now);
    };
    ASSERT_TRUE(StartRecurringRunController(*mgr_, env_.client.get(), options).ok());
    mgr_->Start();
  }
  void TearDown() override { mgr_->Stop(); }

  client::Client* c() { return env_.client.get(); }

  Json Create(const Json& rr) {
    auto created = c()->Create(kRecurringRuns, "default", rr);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    return created.ok() ? *created : Json();
  }
  Json Get(const std::string& name) {
    auto got = c()->Get(kRecurringRuns, "default", name);
    return got.ok() ? *got : Json();
  }
  Json Run(const std::string& name) {
    auto got = c()->Get(kPipelineRuns, "default", name);
    return got.ok() ? *got : Json();
  }
  void Patch(const std::string& name, const Json& patch) {
    auto patched =
        c()->Patch(kRecurringRuns, "default", name, client::PatchType::kMerge, patch.dump());
    ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  }

  // Names of the PipelineRuns in "default", in name order.
  std::vector<std::string> Runs() {
    std::vector<std::string> out;
    auto list = c()->List(kPipelineRuns, "default", {});
    EXPECT_TRUE(list.ok());
    if (!list.ok()) return out;
    for (const Json& item : (*list)["items"]) out.push_back(controllers::NameOf(item));
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string RunName(const std::string& rr, const std::string& time) {
    return rr + "-" + std::to_string(Unix(T(time)));
  }

  // Moves the clock and waits until the controller has finished a reconcile of `name` that saw
  // the new time. Touching an annotation wakes it, as the timer it set (in real time) would.
  void AdvanceTo(const std::string& name, TimePoint t) {
    clock_.Set(t);
    static int ticks = 0;
    Patch(name, {{"metadata", {{"annotations", {{"test/tick", std::to_string(++ticks)}}}}}});
    EXPECT_TRUE(Eventually([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return reconciled_["default/" + name] >= t;
    })) << "no reconcile of "
        << name << " at " << FormatRfc3339(t);
  }
  void AdvanceTo(const std::string& name, const std::string& time) { AdvanceTo(name, T(time)); }

  // Waits until exactly `n` runs exist, and then until the schedule's status is written.
  void WaitRuns(size_t n) {
    EXPECT_TRUE(Eventually([&] { return Runs().size() == n; }))
        << "want " << n << " runs, have " << Runs().size();
  }
  // Waits until the field at `path` ("status.runs.0.state"; null `want`: absent) equals `want`.
  void WaitStatus(const std::string& name, const std::string& path, const Json& want) {
    std::string pointer = "/" + path;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    const Json::json_pointer ptr(pointer);
    Json last;
    EXPECT_TRUE(Eventually([&] {
      last = Get(name);
      const bool has = last.contains(ptr);
      return want.is_null() ? !has : (has && last.at(ptr) == want);
    })) << path
        << " never became " << want.dump() << "; last: " << last.dump(2);
  }
  void SetState(const std::string& run, const std::string& state) {
    Json obj = Run(run);
    ASSERT_TRUE(obj.is_object()) << run;
    obj["status"]["state"] = state;
    auto written = c()->UpdateStatus(kPipelineRuns, "default", obj);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
  }

  FakeClock clock_{kT0};
  InProcessEnv env_{&clock_};  // creation timestamps come from the same clock
  std::unique_ptr<controllers::Manager> mgr_;
  std::mutex mu_;
  std::map<std::string, TimePoint> reconciled_;  // GUARDED_BY(mu_)
};

TEST_F(RecurringRunTest, CronEveryMinuteStartsOneRunPerMinute) {
  Json rr = RecurringRun("nightly", {{"cron", "* * * * *"}});
  rr["spec"]["serviceAccountName"] = "runner";
  rr["spec"]["timeout"] = "1h";
  rr["spec"]["pipelineRoot"] = "/tmp/root";
  rr["spec"]["cachingOptions"] = {{"disabled", true}};
  rr["spec"]["experiment"] = "exp";
  const Json created = Create(rr);
  WaitStatus("nightly", "status.nextRunTime", "2030-01-01T00:01:00Z");
  WaitStatus("nightly", "status.conditions.0.type", "Enabled");
  EXPECT_TRUE(Runs().empty());

  AdvanceTo("nightly", "2030-01-01T00:00:59Z");
  EXPECT_TRUE(Runs().empty());

  AdvanceTo("nightly", "2030-01-01T00:01:00Z");
  const std::string first = RunName("nightly", "2030-01-01T00:01:00Z");
  WaitRuns(1);
  const Json run = Run(first);
  ASSERT_TRUE(run.is_object()) << "missing " << first;
  EXPECT_EQ(controllers::LabelOf(run, kRecurringRunLabel), "nightly");
  EXPECT_EQ(run["metadata"]["annotations"][kScheduledTimeAnnotation], "2030-01-01T00:01:00Z");
  EXPECT_EQ(run["metadata"]["annotations"][kRunIndexAnnotation], "1");
  EXPECT_TRUE(controllers::IsControlledBy(run, controllers::UidOf(created)));
  EXPECT_EQ(run["metadata"]["ownerReferences"][0]["kind"], "RecurringRun");
  EXPECT_EQ(run["spec"]["recurringRunRef"]["name"], "nightly");
  EXPECT_EQ(run["spec"]["pipelineRef"]["name"], "hello");
  EXPECT_EQ(run["spec"]["parameters"]["message"], "hi");
  EXPECT_EQ(run["spec"]["serviceAccountName"], "runner");
  EXPECT_EQ(run["spec"]["timeout"], "1h");
  EXPECT_EQ(run["spec"]["pipelineRoot"], "/tmp/root");
  EXPECT_EQ(run["spec"]["cachingOptions"]["disabled"], true);
  EXPECT_EQ(run["spec"]["experiment"], "exp");
  WaitStatus("nightly", "status.nextRunTime", "2030-01-01T00:02:00Z");
  WaitStatus("nightly", "status.lastRunTime", "2030-01-01T00:01:00Z");

  AdvanceTo("nightly", "2030-01-01T00:01:40Z");
  EXPECT_EQ(Runs().size(), 1u);

  AdvanceTo("nightly", "2030-01-01T00:02:05Z");
  WaitRuns(2);
  WaitStatus("nightly", "status.lastRunTime", "2030-01-01T00:02:00Z");
  WaitStatus("nightly", "status.nextRunTime", "2030-01-01T00:03:00Z");
  const Json status = Get("nightly")["status"];
  ASSERT_EQ(status["runs"].size(), 2u);
  EXPECT_EQ(status["runs"][0]["name"], first);
  EXPECT_EQ(status["runs"][1]["name"], RunName("nightly", "2030-01-01T00:02:00Z"));
  EXPECT_EQ(status["runs"][1]["scheduledTime"], "2030-01-01T00:02:00Z");
  ASSERT_EQ(status["conditions"].size(), 1u);
  EXPECT_EQ(status["conditions"][0]["type"], "Enabled");
  EXPECT_EQ(status["conditions"][0]["status"], "True");
  EXPECT_EQ(status["observedGeneration"], Get("nightly")["metadata"]["generation"]);
}

TEST_F(RecurringRunTest, IntervalRunsOneIntervalAfterCreation) {
  Create(RecurringRun("every5m", {{"intervalSecond", 300}}));
  WaitStatus("every5m", "status.nextRunTime", "2030-01-01T00:05:00Z");
  AdvanceTo("every5m", "2030-01-01T00:04:59Z");
  EXPECT_TRUE(Runs().empty());
  AdvanceTo("every5m", "2030-01-01T00:05:00Z");
  WaitRuns(1);
  EXPECT_TRUE(Run(RunName("every5m", "2030-01-01T00:05:00Z")).is_object());
  WaitStatus("every5m", "status.nextRunTime", "2030-01-01T00:10:00Z");
}

TEST_F(RecurringRunTest, IntervalWithStartTimeCountsFromStartTime) {
  Create(RecurringRun("later", {{"intervalSecond", 60}, {"startTime", "2030-01-01T01:00:00Z"}}));
  WaitStatus("later", "status.nextRunTime", "2030-01-01T01:01:00Z");
  AdvanceTo("later", "2030-01-01T01:00:30Z");
  EXPECT_TRUE(Runs().empty());
  AdvanceTo("later", "2030-01-01T01:01:00Z");
  WaitRuns(1);
  EXPECT_TRUE(Run(RunName("later", "2030-01-01T01:01:00Z")).is_object());
}

TEST_F(RecurringRunTest, CatchUpRunsEveryMissedTimeInOrder) {
  Create(RecurringRun("catchup", {{"cron", "0 * * * * *"}}));  // KFP's 6-field form
  WaitStatus("catchup", "status.nextRunTime", "2030-01-01T00:01:00Z");
  AdvanceTo("catchup", "2030-01-01T00:05:30Z");
  WaitRuns(5);
  WaitStatus("catchup", "status.lastRunTime", "2030-01-01T00:05:00Z");
  WaitStatus("catchup", "status.nextRunTime", "2030-01-01T00:06:00Z");
  for (int m = 1; m <= 5; ++m) {
    const std::string time = "2030-01-01T00:0" + std::to_string(m) + ":00Z";
    const Json run = Run(RunName("catchup", time));
    ASSERT_TRUE(run.is_object()) << time;
    // Created in schedule order: the index counts up with the scheduled time.
    EXPECT_EQ(run["metadata"]["annotations"][kRunIndexAnnotation], std::to_string(m));
  }
}

TEST_F(RecurringRunTest, NoCatchupRunsOnlyTheLatestMissedTime) {
  Json rr = RecurringRun("latest", {{"cron", "* * * * *"}});
  rr["spec"]["noCatchup"] = true;
  Create(rr);
  WaitStatus("latest", "status.nextRunTime", "2030-01-01T00:01:00Z");
  AdvanceTo("latest", "2030-01-01T00:05:30Z");
  WaitRuns(1);
  EXPECT_TRUE(Run(RunName("latest", "2030-01-01T00:05:00Z")).is_object());
  WaitStatus("latest", "status.nextRunTime", "2030-01-01T00:06:00Z");
  AdvanceTo("latest", "2030-01-01T00:05:50Z");
  EXPECT_EQ(Runs().size(), 1u);
}

TEST_F(RecurringRunTest, NoCatchupIntervalRunsNowWhenAWholeIntervalLate) {
  Json rr = RecurringRun("late", {{"intervalSecond", 60}});
  rr["spec"]["noCatchup"] = true;
  Create(rr);
  WaitStatus("late", "status.nextRunTime", "2030-01-01T00:01:00Z");
  AdvanceTo("late", "2030-01-01T00:05:30Z");
  WaitRuns(1);
  // KFP's rule for intervals: scheduled at "now", the next one interval later.
  EXPECT_TRUE(Run(RunName("late", "2030-01-01T00:05:30Z")).is_object());
  WaitStatus("late", "status.nextRunTime", "2030-01-01T00:06:30Z");
}

TEST_F(RecurringRunTest, MaxConcurrencyHoldsRunsBackUntilEarlierOnesFinish) {
  Json rr = RecurringRun("busy", {{"cron", "* * * * *"}});
  rr["spec"]["maxConcurrency"] = 2;
  Create(rr);
  WaitStatus("busy", "status.nextRunTime", "2030-01-01T00:01:00Z");
  AdvanceTo("busy", "2030-01-01T00:05:30Z");
  WaitRuns(2);
  const std::string r1 = RunName("busy", "2030-01-01T00:01:00Z");
  const std::string r2 = RunName("busy", "2030-01-01T00:02:00Z");
  SetState(r1, "RUNNING");
  SetState(r2, "PENDING");
  // Due but held back: nextRunTime says what comes next.
  WaitStatus("busy", "status.nextRunTime", "2030-01-01T00:03:00Z");
  WaitStatus(
      "busy", "status.runs",
      Json::array(
          {{{"name", r1}, {"scheduledTime", "2030-01-01T00:01:00Z"}, {"state", "RUNNING"}},
           {{"name", r2}, {"scheduledTime", "2030-01-01T00:02:00Z"}, {"state", "PENDING"}}}));
  AdvanceTo("busy", "2030-01-01T00:05:40Z");
  EXPECT_EQ(Runs().size(), 2u);

  SetState(r1, "SUCCEEDED");  // a run finishing wakes the schedule
  WaitRuns(3);
  EXPECT_TRUE(Run(RunName("busy", "2030-01-01T00:03:00Z")).is_object());
  AdvanceTo("busy", "2030-01-01T00:05:50Z");
  EXPECT_EQ(Runs().size(), 3u);

  SetState(r2, "FAILED");
  WaitRuns(4);
  EXPECT_TRUE(Run(RunName("busy", "2030-01-01T00:04:00Z")).is_object());
  WaitStatus("busy", "status.runs.0.state", "SUCCEEDED");
  WaitStatus("busy", "status.runs.1.state", "FAILED");
}

TEST_F(RecurringRunTest, DisabledScheduleStartsNothingAndCatchesUpWhenEnabled) {
  Json rr = RecurringRun("paused", {{"cron", "* * * * *"}});
  rr["spec"]["mode"] = "DISABLE";
  Create(rr);
  WaitStatus("paused", "status.conditions.0.type", "Disabled");
  EXPECT_EQ(FindPath(Get("paused"), "status.nextRunTime"), nullptr);
  AdvanceTo("paused", "2030-01-01T00:03:30Z");
  EXPECT_TRUE(Runs().empty());

  // KFP catches up on what was missed while disabled (noCatchup is the way not to).
  Patch("paused", {{"spec", {{"mode", "ENABLE"}}}});
  WaitRuns(3);
  WaitStatus("paused", "status.conditions.0.type", "Enabled");
  WaitStatus("paused", "status.nextRunTime", "2030-01-01T00:04:00Z");

  Patch("paused", {{"spec", {{"mode", "DISABLE"}}}});
  WaitStatus("paused", "status.conditions.0.type", "Disabled");
  AdvanceTo("paused", "2030-01-01T00:09:00Z");
  EXPECT_EQ(Runs().size(), 3u);
  EXPECT_EQ(FindPath(Get("paused"), "status.nextRunTime"), nullptr);
}

TEST_F(RecurringRunTest, EndTimeEndsTheSchedule) {
  Create(RecurringRun("bounded", {{"intervalSecond", 60}, {"endTime", "2030-01-01T00:02:30Z"}}));
  AdvanceTo("bounded", "2030-01-01T00:10:00Z");
  WaitRuns(2);
  WaitStatus("bounded", "status.lastRunTime", "2030-01-01T00:02:00Z");
  WaitStatus("bounded", "status.nextRunTime", nullptr);
  AdvanceTo("bounded", "2030-01-01T00:20:00Z");
  EXPECT_EQ(Runs().size(), 2u);
}

TEST_F(RecurringRunTest, ParametersGetKfpMacrosSubstituted) {
  Json rr = RecurringRun("macros", {{"cron", "* * * * *"}});
  rr["spec"]["parameters"] = {{"scheduled", "[[ScheduledTime]]"},
                              {"day", "data/[[ScheduledTime.2006-01-02]]/x"},
                              {"now", "[[CurrentTime]]"},
                              {"clock", "[[CurrentTime.15:04:05]]"},
                              {"index", "run-[[Index]]"},
                              {"uuid", "[[RunUUID]]"},
                              {"count", 5},
                              {"list", Json::array({"[[Index]]", 7})}};
  Create(rr);
  WaitStatus("macros", "status.nextRunTime", "2030-01-01T00:01:00Z");
  AdvanceTo("macros", "2030-01-01T00:01:30Z");
  WaitRuns(1);
  const Json params = Run(RunName("macros", "2030-01-01T00:01:00Z"))["spec"]["parameters"];
  EXPECT_EQ(params["scheduled"], "20300101000100");
  EXPECT_EQ(params["day"], "data/2030-01-01/x");
  EXPECT_EQ(params["now"], "20300101000130");
  EXPECT_EQ(params["clock"], "00:01:30");
  EXPECT_EQ(params["index"], "run-1");
  EXPECT_EQ(params["uuid"], "[[RunUUID]]");
  EXPECT_EQ(params["count"], 5);
  EXPECT_EQ(params["list"], Json::array({"1", 7}));
}

TEST_F(RecurringRunTest, IndexKeepsCountingWhenRunsAreDeleted) {
  Create(RecurringRun("counted", {{"cron", "* * * * *"}}));
  AdvanceTo("counted", "2030-01-01T00:02:00Z");
  WaitRuns(2);
  EXPECT_TRUE(Eventually([&] {
    const Json rr = Get("counted");
    const Json* annotations = FindPath(rr, "metadata.annotations");
    return annotations && annotations->is_object() &&
           annotations->value(kLastIndexAnnotation, "") == "2";
  }));
  for (const std::string& run : Runs()) {
    ASSERT_TRUE(c()->Delete(kPipelineRuns, "default", run).ok());
  }
  WaitRuns(0);
  AdvanceTo("counted", "2030-01-01T00:03:00Z");
  WaitRuns(1);
  const Json run = Run(RunName("counted", "2030-01-01T00:03:00Z"));
  EXPECT_EQ(run["metadata"]["annotations"][kRunIndexAnnotation], "3");
}

TEST_F(RecurringRunTest, StatusKeepsTheNewestTenRuns) {
  Create(RecurringRun("many", {{"cron", "* * * * *"}}));
  AdvanceTo("many", "2030-01-01T00:12:00Z");
  WaitRuns(10);  // the default maxConcurrency
  for (const std::string& run : Runs()) SetState(run, "SUCCEEDED");
  WaitRuns(12);
  WaitStatus("many", "status.lastRunTime", "2030-01-01T00:12:00Z");
  const Json runs = Get("many")["status"]["runs"];
  ASSERT_EQ(runs.size(), 10u);
  EXPECT_EQ(runs[0]["name"], RunName("many", "2030-01-01T00:03:00Z"));
  EXPECT_EQ(runs[9]["name"], RunName("many", "2030-01-01T00:12:00Z"));
}

TEST_F(RecurringRunTest, DeletingTheScheduleDeletesItsRuns) {
  Create(RecurringRun("doomed", {{"cron", "* * * * *"}}));
  AdvanceTo("doomed", "2030-01-01T00:02:00Z");
  WaitRuns(2);
  ASSERT_TRUE(c()->Delete(kRecurringRuns, "default", "doomed").ok());
  EXPECT_TRUE(Eventually([&] { return Runs().empty(); }));
}

TEST_F(RecurringRunTest, InvalidScheduleIsReportedAsError) {
  Create(RecurringRun("broken", {{"cron", "0 25 * * *"}}));
  WaitStatus("broken", "status.conditions.0.type", "Error");
  EXPECT_EQ(Get("broken")["status"]["conditions"][0]["message"],
            "invalid cron expression \"0 25 * * *\": field 2 (hour) value 25 out of range 0-23");
  // Fixing the spec recovers.
  Patch("broken", {{"spec", {{"schedule", {{"cron", "0 2 * * *"}}}}}});
  WaitStatus("broken", "status.conditions.0.type", "Enabled");
  WaitStatus("broken", "status.nextRunTime", "2030-01-01T02:00:00Z");
}

TEST(RunMacrosTest, GoLayouts) {
  const TimePoint t = T("2030-07-04T15:06:07Z");
  EXPECT_EQ(FormatGoTime("2006-01-02T15:04:05Z07:00", t), "2030-07-04T15:06:07Z");
  EXPECT_EQ(FormatGoTime("Mon Jan _2 3:04PM MST 2006", t), "Thu Jul  4 3:06PM UTC 2030");
  EXPECT_EQ(FormatGoTime("Monday, January 2, 06 -0700", t), "Thursday, July 4, 30 +0000");
  EXPECT_EQ(FormatGoTime("20060102.000", t), "20300704.000");
  EXPECT_EQ(FormatGoTime("day 002 of 2006", t), "day 185 of 2030");
  EXPECT_EQ(FormatGoTime("yyyy", t), "yyyy");
}

TEST(RunMacrosTest, UnknownMacrosAreKept) {
  const RunMacros m{T("2030-01-01T00:01:00Z"), T("2030-01-01T00:02:00Z"), 4};
  EXPECT_EQ(SubstituteRunMacros("[[Index]]-[[Index]] [[Nope]] [[ [[ScheduledTime]]", m),
            "4-4 [[Nope]] [[ [[ScheduledTime]]");
  EXPECT_EQ(SubstituteRunMacros("a[[CurrentTime]]b", m), "a20300101000200b");
  EXPECT_EQ(SubstituteRunMacros("unterminated [[Index", m), "unterminated [[Index");
}

}  // namespace
}  // namespace skiff::pipelines

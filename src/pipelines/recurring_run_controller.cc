// The RecurringRun reconcile: read the schedule and the runs it already started, start the next
// due run if the schedule and maxConcurrency allow, record status, and come back when the next
// run is due. Runs are listed live (not from a cache) so a run created by the previous reconcile
// is always counted against maxConcurrency.
#include "pipelines/recurring_run_controller.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>
#include <vector>

#include "controllers/event_recorder.h"
#include "controllers/object_meta.h"
#include "controllers/reconciler.h"
#include "pipelines/cron.h"

namespace skiff::pipelines {
namespace {

using controllers::ObjectPtr;
using controllers::Request;
using controllers::Result;
using std::chrono::seconds;
using std::chrono::sys_seconds;
using TimePoint = std::chrono::system_clock::time_point;

const client::Resource kRecurringRuns{"kubeflow.org", "v2beta1", "recurringruns"};
const client::Resource kPipelineRuns{"kubeflow.org", "v2beta1", "pipelineruns"};

constexpr size_t kRunHistory = 10;
constexpr int64_t kDefaultMaxConcurrency = 10;
// Spec fields a run takes over from its RecurringRun unchanged (parameters are formatted).
constexpr std::array<const char*, 7> kCopiedSpecFields = {
    "pipelineRef",  "pipelineSpec",   "serviceAccountName", "timeout",
    "pipelineRoot", "cachingOptions", "experiment"};

sys_seconds ToSeconds(TimePoint t) { return std::chrono::floor<seconds>(t); }
int64_t Unix(sys_seconds t) { return t.time_since_epoch().count(); }
std::string Rfc3339(sys_seconds t) { return FormatRfc3339(TimePoint(t)); }

std::optional<sys_seconds> TimeAt(const Json& obj, std::string_view path) {
  const std::string text = StringAt(obj, path);
  TimePoint t;
  if (text.empty() || !ParseRfc3339(text, &t)) return std::nullopt;
  return ToSeconds(t);
}

// KfpRunState's values; anything else is left out of status.runs (the schema would refuse it).
bool KnownState(const std::string& state) {
  static const std::array<const char*, 8> kStates = {"PENDING", "RUNNING",   "SUCCEEDED", "SKIPPED",
                                                     "FAILED",  "CANCELING", "CANCELED",  "PAUSED"};
  return std::any_of(kStates.begin(), kStates.end(), [&](const char* s) { return state == s; });
}

// An index annotation's value; 0 when absent or not a number (written by someone else).
int64_t ParseIndex(const std::string& text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return ec == std::errc() && end == text.data() + text.size() ? v : 0;
}

bool Finished(const std::string& state) {
  return state == "SUCCEEDED" || state == "SKIPPED" || state == "FAILED" || state == "CANCELED";
}

// ---- Go time layouts (KFP's [[ScheduledTime.<layout>]]) ----

constexpr std::array<const char*, 12> kLongMonths = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
constexpr std::array<const char*, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

std::string Pad(int64_t v, int width, char fill = '0') {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), fill);
  return s;
}

bool StartsWith(std::string_view s, size_t at, std::string_view prefix) {
  return s.substr(at, prefix.size()) == prefix;
}

bool LowerAt(std::string_view s, size_t at) {
  return at < s.size() && s[at] >= 'a' && s[at] <= 'z';
}

}  // namespace

std::string FormatGoTime(std::string_view layout, TimePoint t) {
  const sys_seconds secs = ToSeconds(t);
  const auto day = std::chrono::floor<std::chrono::days>(secs);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss<seconds> hms(secs - day);
  const int year = static_cast<int>(ymd.year());
  const int month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  const int mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
  const int wday = static_cast<int>(std::chrono::weekday(day).c_encoding());
  const int yday =
      static_cast<int>(
          (day - std::chrono::sys_days(ymd.year() / std::chrono::January / 1)).count()) +
      1;
  const int hour = static_cast<int>(hms.hours().count());
  const int minute = static_cast<int>(hms.minutes().count());
  const int second = static_cast<int>(hms.seconds().count());
  const int hour12 = hour % 12 == 0 ? 12 : hour % 12;

  std::string out;
  size_t i = 0;
  // Longest element first where one is a prefix of another, as Go's layout scanner does.
  auto take = [&](std::string_view element, const std::string& value) {
    if (!StartsWith(layout, i, element)) return false;
    out += value;
    i += element.size();
    return true;
  };
  while (i < layout.size()) {
    const char c = layout[i];
    bool done = false;
    switch (c) {
      case 'J':
        done = take("January", kLongMonths[month - 1]) ||
               (!LowerAt(layout, i + 3) &&
                take("Jan", std::string(kLongMonths[month - 1]).substr(0, 3)));
        break;
      case 'M':
        done =
            take("Monday", kLongDays[wday]) ||
            (!LowerAt(layout, i + 3) && take("Mon", std::string(kLongDays[wday]).substr(0, 3))) ||
            take("MST", "UTC");
        break;
      case '0':
        done = take("01", Pad(month, 2)) || take("02", Pad(mday, 2)) ||
               take("03", Pad(hour12, 2)) || take("04", Pad(minute, 2)) ||
               take("05", Pad(second, 2)) || take("06", Pad(year % 100, 2)) ||
               take("002", Pad(yday, 3));
        break;
      case '1':
        done = take("15", Pad(hour, 2)) || take("1", std::to_string(month));
        break;
      case '2':
        done = take("2006", Pad(year, 4)) || take("2", std::to_string(mday));
        break;
      case '_':
        if (StartsWith(layout, i, "_2006")) {
          out += '_';
          ++i;
          done = take("2006", Pad(year, 4));
        } else {
          done = take("__2", Pad(yday, 3, ' ')) || take("_2", Pad(mday, 2, ' '));
        }
        break;
      case '3':
        done = take("3", std::to_string(hour12));
        break;
      case '4':
        done = take("4", std::to_string(minute));
        break;
      case '5':
        done = take("5", std::to_string(second));
        break;
      case 'P':
        done = take("PM", hour >= 12 ? "PM" : "AM");
        break;
      case 'p':
        done = take("pm", hour >= 12 ? "pm" : "am");
        break;
      case '-':
        done = take("-070000", "+000000") || take("-07:00:00", "+00:00:00") ||
               take("-0700", "+0000") || take("-07:00", "+00:00") || take("-07", "+00");
        break;
      case 'Z':
        done = take("Z070000", "Z") || take("Z07:00:00", "Z") || take("Z0700", "Z") ||
               take("Z07:00", "Z") || take("Z07", "Z");
        break;
      case '.':
      case ',':
        if (i + 1 < layout.size() && (layout[i + 1] == '0' || layout[i + 1] == '9')) {
          const char digit = layout[i + 1];
          size_t j = i + 1;
          while (j < layout.size() && layout[j] == digit) ++j;
          if (j >= layout.size() || !std::isdigit(static_cast<unsigned char>(layout[j]))) {
            // Whole seconds only: .000 prints zeros, .999 (trailing zeros dropped) nothing.
            if (digit == '0') out += c + std::string(j - i - 1, '0');
            i = j;
            done = true;
          }
        }
        break;
      default:
        break;
    }
    if (!done) out += layout[i++];
  }
  return out;
}

std::string SubstituteRunMacros(std::string_view text, const RunMacros& macros) {
  constexpr std::string_view kDefaultLayout = "20060102150405";
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("[[", pos);
    const size_t close = open == std::string_view::npos ? open : text.find("]]", open + 2);
    if (close == std::string_view::npos) {
      out += text.substr(pos);
      return out;
    }
    out += text.substr(pos, open - pos);
    const std::string_view inner = text.substr(open + 2, close - open - 2);
    if (inner == "ScheduledTime") {
      out += FormatGoTime(kDefaultLayout, macros.scheduled_time);
    } else if (inner == "CurrentTime") {
      out += FormatGoTime(kDefaultLayout, macros.current_time);
    } else if (inner == "Index") {
      out += std::to_string(macros.index);
    } else if (inner.rfind("ScheduledTime.", 0) == 0) {
      out += FormatGoTime(inner.substr(14), macros.scheduled_time);
    } else if (inner.rfind("CurrentTime.", 0) == 0) {
      out += FormatGoTime(inner.substr(12), macros.current_time);
    } else {
      out += text.substr(open, close + 2 - open);
    }
    pos = close + 2;
  }
}

namespace {

Json SubstituteInValue(const Json& value, const RunMacros& macros) {
  if (value.is_string()) return SubstituteRunMacros(value.get<std::string>(), macros);
  if (value.is_array() || value.is_object()) {
    Json out = value;
    for (auto& item : out) item = SubstituteInValue(item, macros);
    return out;
  }
  return value;
}

// The schedule of one RecurringRun, read from its spec.
struct Schedule {
  std::optional<CronSchedule> cron;
  seconds interval{0};
  std::optional<sys_seconds> start;
  std::optional<sys_seconds> end;
  bool catchup = true;

  // KFP's getNextScheduledEpoch: the next due time given the last run's scheduled time (or none
  // yet), or nullopt when the schedule has ended.
  std::optional<sys_seconds> NextDue(std::optional<sys_seconds> last, sys_seconds created,
                                     sys_seconds now) const {
    sys_seconds base = last ? *last : (start ? *start : created);
    if (start && *start > base) base = *start;
    if (!cron) {
      sys_seconds next = base + interval;
      if (end && next > *end) return std::nullopt;
      // KFP's no-catch-up rule for intervals: a whole interval late means "run now".
      if (!catchup && now >= next + interval) next = end ? std::min(now, *end) : now;
      return next;
    }
    auto next_of = [&](sys_seconds t) -> std::optional<sys_seconds> {
      const TimePoint n = cron->Next(TimePoint(t));
      if (n == TimePoint::max()) return std::nullopt;
      const sys_seconds s = ToSeconds(n);
      if (end && s > *end) return std::nullopt;
      return s;
    };
    std::optional<sys_seconds> next = next_of(base);
    if (!next || catchup || *next > now) return next;
    // The latest schedule time not after now: probe windows back from now, doubling, so a long
    // pause of a frequent schedule does not walk every missed time.
    const sys_seconds limit = end ? std::min(now, *end) : now;
    for (seconds window{1};; window *= 2) {
      const sys_seconds from = limit - window;
      if (from <= *next) break;
      auto probe = next_of(from);
      if (probe && *probe <= limit) {
        next = probe;
        break;
      }
    }
    for (auto after = next_of(*next); after && *after <= limit; after = next_of(*next)) {
      next = after;
    }
    return next;
  }
};

StatusOr<Schedule> ReadSchedule(const Json& rr) {
  Schedule s;
  const Json* spec = FindPath(rr, "spec.schedule");
  if (!spec || !spec->is_object()) return Status::Invalid("spec.schedule is required");
  const std::string cron = spec->value("cron", "");
  const Json* interval = spec->contains("intervalSecond") ? &(*spec)["intervalSecond"] : nullptr;
  if (!cron.empty() && interval) {
    return Status::Invalid("spec.schedule: set cron or intervalSecond, not both");
  }
  if (!cron.empty()) {
    auto parsed = ParseCron(cron);
    if (!parsed.ok()) return parsed.status();
    s.cron = std::move(*parsed);
  } else if (interval && interval->is_number_integer() && interval->get<int64_t>() >= 1) {
    s.interval = seconds(interval->get<int64_t>());
  } else if (interval) {
    return Status::Invalid("spec.schedule.intervalSecond must be a whole number of seconds >= 1");
  } else {
    return Status::Invalid("spec.schedule: set cron or intervalSecond");
  }
  for (const char* field : {"startTime", "endTime"}) {
    const std::string text = spec->value(field, "");
    if (text.empty()) continue;
    TimePoint t;
    if (!ParseRfc3339(text, &t)) {
      return Status::Invalid(std::string("spec.schedule.") + field + ": \"" + text +
                             "\" is not an RFC 3339 time");
    }
    (std::string_view(field) == "startTime" ? s.start : s.end) = ToSeconds(t);
  }
  const Json* no_catchup = FindPath(rr, "spec.noCatchup");
  s.catchup = !(no_catchup && no_catchup->is_boolean() && no_catchup->get<bool>());
  if (!FindPath(rr, "spec.pipelineRef") && !FindPath(rr, "spec.pipelineSpec")) {
    return Status::Invalid("spec needs pipelineRef or pipelineSpec");
  }
  return s;
}

// KFP writes one condition, replacing the list; the transition time moves only when it changes.
void SetCondition(Json& status, const std::string& type, const std::string& message,
                  int64_t generation, const std::string& now) {
  std::string since = now;
  if (const Json* old = controllers::FindCondition(status, type)) {
    if (old->value("status", "") == "True") since = old->value("lastTransitionTime", now);
  }
  status["conditions"] = Json::array({{{"type", type},
                                       {"status", "True"},
                                       {"reason", type},
                                       {"message", message},
                                       {"observedGeneration", generation},
                                       {"lastTransitionTime", since}}});
}

struct OwnedRun {
  std::string name;
  std::optional<sys_seconds> scheduled;
  int64_t index = 0;
  std::string state;
};

class RecurringRunReconciler : public controllers::Reconciler {
 public:
  RecurringRunReconciler(controllers::Manager* mgr, client::Client* client,
                         const RecurringRunOptions& options)
      : client_(client),
        clock_(options.clock),
        on_reconciled_(options.on_reconciled),
        recorder_(client, "recurringrun-controller", "", options.clock),
        recurring_runs_(mgr->GetInformer(kRecurringRuns)) {}

  StatusOr<Result> Reconcile(const Request& request) override {
    const TimePoint now = clock_->Now();
    StatusOr<Result> result = ReconcileAt(request, now);
    if (result.ok() && !result->requeue && on_reconciled_) {
      on_reconciled_(controllers::ObjectKey(request.ns, request.name), now);
    }
    return result;
  }

 private:
  StatusOr<Result> ReconcileAt(const Request& request, TimePoint real_now) {
    ObjectPtr cached = recurring_runs_->Get(request.ns, request.name);
    if (cached == nullptr || controllers::IsDeleting(*cached)) return Result{};
    const Json& rr = *cached;
    const sys_seconds now = ToSeconds(real_now);
    const int64_t generation = IntAt(rr, "metadata.generation").value_or(0);

    Json status = rr.value("status", Json::object());
    if (!status.is_object()) status = Json::object();
    status["observedGeneration"] = generation;

    auto schedule = ReadSchedule(rr);
    if (!schedule.ok()) {
      SetCondition(status, "Error", schedule.status().message(), generation, Rfc3339(now));
      status.erase("nextRunTime");
      return Write(rr, std::move(status), Result{});
    }

    auto listed = OwnedRuns(rr);
    if (!listed.ok()) return listed.status();
    std::vector<OwnedRun> runs = std::move(*listed);
    int64_t active = 0;
    std::optional<sys_seconds> last = TimeAt(rr, "status.lastRunTime");
    int64_t last_index = ParseIndex(AnnotationOf(rr, kLastIndexAnnotation));
    for (const OwnedRun& run : runs) {
      if (!Finished(run.state)) ++active;
      if (run.scheduled && (!last || *run.scheduled > *last)) last = run.scheduled;
      last_index = std::max(last_index, run.index);
    }

    const bool enabled = StringAt(rr, "spec.mode") != "DISABLE";
    int64_t max_concurrency = IntAt(rr, "spec.maxConcurrency").value_or(kDefaultMaxConcurrency);
    max_concurrency = std::clamp<int64_t>(max_concurrency, 1, 10);
    const std::optional<sys_seconds> created = TimeAt(rr, "metadata.creationTimestamp");

    std::optional<sys_seconds> next = schedule->NextDue(last, created.value_or(now), now);
    if (enabled && next && *next <= now && active < max_concurrency) {
      const int64_t index = last_index + 1;
      Json run = NewRun(rr, *next, index, real_now);
      Status s = controllers::CreateChild(client_, recorder_, rr, kPipelineRuns, run);
      if (!s.ok()) return s;
      const std::string name = controllers::NameOf(run);
      if (std::none_of(runs.begin(), runs.end(),
                       [&](const OwnedRun& r) { return r.name == name; })) {
        runs.push_back({name, *next, index, ""});
        ++active;
      }
      last = *next;
      last_index = std::max(last_index, index);
      next = schedule->NextDue(last, created.value_or(now), now);
    }

    if (last) status["lastRunTime"] = Rfc3339(*last);
    if (enabled && next) {
      status["nextRunTime"] = Rfc3339(*next);
    } else {
      status.erase("nextRunTime");
    }
    status["runs"] = History(std::move(runs));
    SetCondition(status, enabled ? "Enabled" : "Disabled",
                 enabled ? "The schedule is enabled." : "The schedule is disabled.", generation,
                 Rfc3339(now));

    Result result;
    if (enabled && next) {
      if (*next > now) {
        result.requeue_after =
            std::chrono::ceil<std::chrono::milliseconds>(TimePoint(*next) - real_now);
      } else if (active < max_concurrency) {
        result.requeue_after = std::chrono::milliseconds(1);  // more missed times to catch up
      }
      // Otherwise held back by maxConcurrency: a run finishing wakes us (Owns).
    }
    auto written = Write(rr, std::move(status), result);
    if (!written.ok() || written->requeue) return written;
    if (AnnotationOf(rr, kLastIndexAnnotation) != std::to_string(last_index) && last_index > 0) {
      Json patch = {
          {"metadata", {{"annotations", {{kLastIndexAnnotation, std::to_string(last_index)}}}}}};
      auto patched = client_->Patch(kRecurringRuns, request.ns, request.name,
                                    client::PatchType::kMerge, patch.dump());
      if (!patched.ok() && patched.status().code() != Code::kNotFound) return patched.status();
    }
    return written;
  }

  static std::string AnnotationOf(const Json& obj, const char* key) {
    const Json* annotations = FindPath(obj, "metadata.annotations");
    if (!annotations || !annotations->is_object()) return "";
    auto it = annotations->find(key);
    return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
  }

  // This schedule's runs, read live: the one created by the previous reconcile must count.
  StatusOr<std::vector<OwnedRun>> OwnedRuns(const Json& rr) {
    const std::string name = controllers::NameOf(rr);
    client::ListOptions options;
    if (name.size() <= 63) options.label_selector = std::string(kRecurringRunLabel) + "=" + name;
    auto list = client_->List(kPipelineRuns, controllers::NamespaceOf(rr), options);
    if (!list.ok()) return list.status();
    std::vector<OwnedRun> out;
    for (const Json& item : (*list)["items"]) {
      if (!controllers::IsControlledBy(item, controllers::UidOf(rr)) ||
          controllers::IsDeleting(item)) {
        continue;
      }
      OwnedRun run{controllers::NameOf(item), std::nullopt, 0, StringAt(item, "status.state")};
      TimePoint t;
      if (ParseRfc3339(AnnotationOf(item, kScheduledTimeAnnotation), &t))
        run.scheduled = ToSeconds(t);
      run.index = ParseIndex(AnnotationOf(item, kRunIndexAnnotation));
      out.push_back(std::move(run));
    }
    return out;
  }

  Json NewRun(const Json& rr, sys_seconds scheduled, int64_t index, TimePoint now) const {
    const std::string name = controllers::NameOf(rr);
    Json meta = {{"name", name + "-" + std::to_string(Unix(scheduled))},
                 {"namespace", controllers::NamespaceOf(rr)},
                 {"annotations",
                  {{kScheduledTimeAnnotation, Rfc3339(scheduled)},
                   {kRunIndexAnnotation, std::to_string(index)}}},
                 {"ownerReferences", Json::array({{{"apiVersion", "kubeflow.org/v2beta1"},
                                                   {"kind", "RecurringRun"},
                                                   {"name", name},
                                                   {"uid", controllers::UidOf(rr)},
                                                   {"controller", true},
                                                   {"blockOwnerDeletion", true}}})}};
    // Label values stop at 63 characters; longer names are found by ownerReference alone.
    if (name.size() <= 63) meta["labels"] = {{kRecurringRunLabel, name}};
    Json spec = Json::object();
    const Json& rr_spec = rr["spec"];
    for (const char* field : kCopiedSpecFields) {
      if (rr_spec.contains(field)) spec[field] = rr_spec[field];
    }
    if (rr_spec.contains("parameters")) {
      spec["parameters"] =
          SubstituteInValue(rr_spec["parameters"], RunMacros{TimePoint(scheduled), now, index});
    }
    spec["recurringRunRef"] = {{"name", name}};
    return {{"apiVersion", "kubeflow.org/v2beta1"},
            {"kind", "PipelineRun"},
            {"metadata", std::move(meta)},
            {"spec", std::move(spec)}};
  }

  // The newest kRunHistory runs by scheduled time, newest last.
  static Json History(std::vector<OwnedRun> runs) {
    std::sort(runs.begin(), runs.end(), [](const OwnedRun& a, const OwnedRun& b) {
      const int64_t ta = a.scheduled ? Unix(*a.scheduled) : 0;
      const int64_t tb = b.scheduled ? Unix(*b.scheduled) : 0;
      return ta != tb ? ta < tb : a.name < b.name;
    });
    Json out = Json::array();
    const size_t first = runs.size() > kRunHistory ? runs.size() - kRunHistory : 0;
    for (size_t i = first; i < runs.size(); ++i) {
      Json entry = {{"name", runs[i].name}};
      if (runs[i].scheduled) entry["scheduledTime"] = Rfc3339(*runs[i].scheduled);
      if (KnownState(runs[i].state)) entry["state"] = runs[i].state;
      out.push_back(std::move(entry));
    }
    return out;
  }

  // Writes `status` when it changed; a stale read (Conflict) is retried quietly.
  StatusOr<Result> Write(const Json& rr, Json status, Result result) {
    if (rr.value("status", Json::object()) == status) return result;
    Json updated = rr;
    updated["status"] = std::move(status);
    auto written = client_->UpdateStatus(kRecurringRuns, controllers::NamespaceOf(rr), updated);
    if (!written.ok()) {
      if (written.status().code() == Code::kConflict) return Result{.requeue = true};
      if (written.status().code() == Code::kNotFound) return Result{};
      return written.status();
    }
    return result;
  }

  client::Client* const client_;
  Clock* const clock_;
  const std::function<void(const std::string&, TimePoint)> on_reconciled_;
  controllers::EventRecorder recorder_;
  controllers::Informer* const recurring_runs_;
};

}  // namespace

Status StartRecurringRunController(controllers::Manager& mgr, client::Client* client,
                                   RecurringRunOptions options) {
  mgr.NewController("recurringrun")
      .For(kRecurringRuns)
      .Owns(kPipelineRuns)
      .WithWorkers(options.workers)
      .Complete(std::make_unique<RecurringRunReconciler>(&mgr, client, options));
  return Status::Ok();
}

}  // namespace skiff::pipelines

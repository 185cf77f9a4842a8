// Cron schedules for RecurringRuns, read as robfig/cron (which KFP's ScheduledWorkflow controller
// uses) reads them, evaluated in UTC. Pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace skiff::pipelines {

// A parsed schedule. Accepted forms:
//  - 5 fields `minute hour day-of-month month day-of-week` (standard cron);
//  - 6 fields with seconds first (KFP's form: `0 */5 * * * *`);
//  - each field: `*` or `?`, a value, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a comma
//    list of those; months and weekdays also by name (JAN..DEC, SUN..SAT, any case); Sunday is 0
//    or 7;
//  - @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly, and `@every <duration>`
//    with a Go duration (`90s`, `1h30m`, `1.5h`; rounded down to whole seconds, at least 1s).
// Day-of-month and day-of-week: when both are restricted a day matching either runs (cron's OR);
// a field counts as unrestricted only when it is `*` or `?` without a step, as in robfig/cron.
//
// Thread-safety: immutable after parsing; Next may be called concurrently.
class CronSchedule {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  // The first activation strictly after `after` (whole seconds). TimePoint::max() when the
  // schedule never fires again (e.g. `0 0 30 2 *`, looked for within five years).
  TimePoint Next(TimePoint after) const;

  // The text it was parsed from.
  const std::string& expression() const { return expression_; }
  // For `@every`: the fixed delay; zero for field schedules.
  std::chrono::seconds every() const { return every_; }

 private:
  friend StatusOr<CronSchedule> ParseCron(std::string_view expression);

  std::string expression_;
  std::chrono::seconds every_{0};
  // One bit per allowed value.
  uint64_t seconds_ = 0;
  uint64_t minutes_ = 0;
  uint64_t hours_ = 0;
  uint64_t days_of_month_ = 0;  // bits 1..31
  uint64_t months_ = 0;         // bits 1..12
  uint64_t days_of_week_ = 0;   // bits 0..6, Sunday = 0
  bool dom_any_ = false;        // `*` or `?`: the other day field alone decides
  bool dow_any_ = false;
};

// Errors are kInvalid and name the field:
//   invalid cron expression "0 25 * * *": field 2 (hour) value 25 out of range 0-23
StatusOr<CronSchedule> ParseCron(std::string_view expression);

// A Go duration ("300ms", "-1.5h", "2h45m"): units ns, us (µs), ms, s, m, h. kInvalid otherwise.
StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

}  // namespace skiff::pipelines

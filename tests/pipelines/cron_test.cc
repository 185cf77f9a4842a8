// Cron parsing and next-time search: the forms KFP users write (5 fields, 6 with seconds, names,
// steps, descriptors, @every) and the errors they see when they get one wrong.
#include "pipelines/cron.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"

namespace skiff::pipelines {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

TimePoint T(const std::string& text) {
  TimePoint t;
  EXPECT_TRUE(ParseRfc3339(text, &t)) << text;
  return t;
}

// The next `n` activations after `after`, as RFC 3339 strings.
std::vector<std::string> NextN(const std::string& expr, const std::string& after, int n) {
  auto schedule = ParseCron(expr);
  EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
  std::vector<std::string> out;
  if (!schedule.ok()) return out;
  TimePoint t = T(after);
  for (int i = 0; i < n; ++i) {
    t = schedule->Next(t);
    if (t == TimePoint::max()) break;
    out.push_back(FormatRfc3339(t));
  }
  return out;
}

std::string ErrorOf(const std::string& expr) {
  auto schedule = ParseCron(expr);
  EXPECT_FALSE(schedule.ok()) << expr << " parsed";
  if (schedule.ok()) return "";
  EXPECT_EQ(schedule.status().code(), Code::kInvalid);
  return schedule.status().message();
}

using V = std::vector<std::string>;

TEST(CronTest, FiveFieldsRunOnTheMinuteStrictlyAfter) {
  EXPECT_EQ(NextN("* * * * *", "2024-01-01T00:00:30Z", 3),
            V({"2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z", "2024-01-01T00:03:00Z"}));
  // An activation time itself is not "after".
  EXPECT_EQ(NextN("* * * * *", "2024-01-01T00:01:00Z", 1), V({"2024-01-01T00:02:00Z"}));
}

TEST(CronTest, SixFieldsHaveSecondsFirst) {
  EXPECT_EQ(NextN("*/15 * * * * *", "2024-01-01T00:00:00Z", 3),
            V({"2024-01-01T00:00:15Z", "2024-01-01T00:00:30Z", "2024-01-01T00:00:45Z"}));
  EXPECT_EQ(NextN("0 */5 * * * *", "2024-01-01T00:03:10Z", 2),
            V({"2024-01-01T00:05:00Z", "2024-01-01T00:10:00Z"}));
  EXPECT_EQ(NextN("30 0 12 * * *", "2024-01-01T12:00:30Z", 1), V({"2024-01-02T12:00:30Z"}));
}

TEST(CronTest, ListsRangesAndSteps) {
  EXPECT_EQ(NextN("5,10,45 * * * *", "2024-01-01T00:06:00Z", 3),
            V({"2024-01-01T00:10:00Z", "2024-01-01T00:45:00Z", "2024-01-01T01:05:00Z"}));
  EXPECT_EQ(NextN("0 9-17/4 * * *", "2024-01-01T10:00:00Z", 3),
            V({"2024-01-01T13:00:00Z", "2024-01-01T17:00:00Z", "2024-01-02T09:00:00Z"}));
  // `a/n` runs from a to the end of the range, as robfig/cron reads it.
  EXPECT_EQ(NextN("50/5 * * * *", "2024-01-01T00:00:00Z", 3),
            V({"2024-01-01T00:50:00Z", "2024-01-01T00:55:00Z", "2024-01-01T01:50:00Z"}));
  EXPECT_EQ(NextN("1-3,58 * * * *", "2024-01-01T00:02:00Z", 3),
            V({"2024-01-01T00:03:00Z", "2024-01-01T00:58:00Z", "2024-01-01T01:01:00Z"}));
}

TEST(CronTest, MonthAndDayNamesInAnyCase) {
  // 2024-01-01 is a Monday; 2024-07-01 is one too.
  EXPECT_EQ(NextN("0 0 * JAN,Jul MON", "2024-01-01T00:00:00Z", 1), V({"2024-01-08T00:00:00Z"}));
  EXPECT_EQ(NextN("0 0 * jan,jul mon", "2024-01-29T00:00:00Z", 1), V({"2024-07-01T00:00:00Z"}));
  EXPECT_EQ(NextN("0 12 * * MON-FRI", "2024-01-05T12:00:00Z", 1), V({"2024-01-08T12:00:00Z"}));
  // Sunday is 0 or 7.
  EXPECT_EQ(NextN("0 0 * * 7", "2024-01-01T00:00:00Z", 1), V({"2024-01-07T00:00:00Z"}));
  EXPECT_EQ(NextN("0 0 * * 0", "2024-01-01T00:00:00Z", 1), V({"2024-01-07T00:00:00Z"}));
}

TEST(CronTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th or any Friday: Fri 5 Jan, then Fri 12 Jan, then Sat 13 Jan.
  EXPECT_EQ(NextN("0 0 13 * FRI", "2024-01-01T00:00:00Z", 3),
            V({"2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z"}));
  // `*` day-of-month leaves Mondays alone deciding.
  EXPECT_EQ(NextN("0 0 * * MON", "2024-01-08T00:00:00Z", 1), V({"2024-01-15T00:00:00Z"}));
  // A step makes the field restricted (robfig/cron): days 1, 11, 21, 31 or Mondays.
  EXPECT_EQ(NextN("0 0 */10 * MON", "2024-01-08T00:00:00Z", 2),
            V({"2024-01-11T00:00:00Z", "2024-01-15T00:00:00Z"}));
}

TEST(CronTest, CalendarEdges) {
  EXPECT_EQ(NextN("0 0 31 * *", "2024-01-31T00:00:00Z", 2),
            V({"2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z"}));
  EXPECT_EQ(NextN("0 0 29 2 *", "2024-03-01T00:00:00Z", 1), V({"2028-02-29T00:00:00Z"}));
  EXPECT_EQ(NextN("59 23 31 12 *", "2024-06-01T00:00:00Z", 2),
            V({"2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z"}));
  // 30 February never comes.
  auto never = ParseCron("0 0 30 2 *");
  ASSERT_TRUE(never.ok());
  EXPECT_EQ(never->Next(T("2024-01-01T00:00:00Z")), TimePoint::max());
}

TEST(CronTest, SubSecondTimesRoundToTheNextWholeSecond) {
  auto schedule = ParseCron("* * * * * *");
  ASSERT_TRUE(schedule.ok());
  const TimePoint t = T("2024-01-01T00:00:00Z") + std::chrono::milliseconds(400);
  EXPECT_EQ(FormatRfc3339(schedule->Next(t)), "2024-01-01T00:00:01Z");
}

TEST(CronTest, Descriptors) {
  EXPECT_EQ(NextN("@hourly", "2024-01-01T00:30:00Z", 1), V({"2024-01-01T01:00:00Z"}));
  EXPECT_EQ(NextN("@daily", "2024-01-01T00:30:00Z", 1), V({"2024-01-02T00:00:00Z"}));
  EXPECT_EQ(NextN("@midnight", "2024-01-01T00:30:00Z", 1), V({"2024-01-02T00:00:00Z"}));
  EXPECT_EQ(NextN("@weekly", "2024-01-01T00:00:00Z", 1), V({"2024-01-07T00:00:00Z"}));
  EXPECT_EQ(NextN("@monthly", "2024-01-15T00:00:00Z", 1), V({"2024-02-01T00:00:00Z"}));
  EXPECT_EQ(NextN("@yearly", "2024-01-15T00:00:00Z", 1), V({"2025-01-01T00:00:00Z"}));
  EXPECT_EQ(NextN("@annually", "2024-01-15T00:00:00Z", 1), V({"2025-01-01T00:00:00Z"}));
}

TEST(CronTest, EveryDuration) {
  EXPECT_EQ(NextN("@every 90s", "2024-01-01T00:00:00Z", 2),
            V({"2024-01-01T00:01:30Z", "2024-01-01T00:03:00Z"}));
  EXPECT_EQ(NextN("@every 1h30m", "2024-01-01T00:00:10Z", 1), V({"2024-01-01T01:30:10Z"}));
  // Under a second becomes a second.
  EXPECT_EQ(NextN("@every 500ms", "2024-01-01T00:00:00Z", 1), V({"2024-01-01T00:00:01Z"}));
  auto every = ParseCron("@every 2m");
  ASSERT_TRUE(every.ok());
  EXPECT_EQ(every->every(), std::chrono::seconds(120));
}

TEST(CronTest, ErrorsNameTheFieldAndTheProblem) {
  EXPECT_EQ(ErrorOf("0 25 * * *"),
            "invalid cron expression \"0 25 * * *\": field 2 (hour) value 25 out of range 0-23");
  EXPECT_EQ(ErrorOf("0 0 25 * * *"),
            "invalid cron expression \"0 0 25 * * *\": field 3 (hour) value 25 out of range 0-23");
  EXPECT_NE(ErrorOf("* * * *").find("got 4"), std::string::npos);
  EXPECT_NE(ErrorOf("* * * * * * *").find("got 7"), std::string::npos);
  EXPECT_NE(ErrorOf("*/0 * * * *").find("field 1 (minute) step 0"), std::string::npos);
  EXPECT_NE(ErrorOf("30-10 * * * *").find("field 1 (minute) range 30-10 runs backwards"),
            std::string::npos);
  EXPECT_NE(ErrorOf("* * * FOO *").find("field 4 (month) \"FOO\" is not a number or a name"),
            std::string::npos);
  EXPECT_NE(ErrorOf("* * 0 * *").find("field 3 (day-of-month) value 0 out of range 1-31"),
            std::string::npos);
  EXPECT_NE(ErrorOf("* * * * 8").find("field 5 (day-of-week) value 8 out of range 0-6"),
            std::string::npos);
  EXPECT_NE(ErrorOf("1,,2 * * * *").find("empty list item"), std::string::npos);
  EXPECT_NE(ErrorOf("@fortnightly").find("unknown descriptor @fortnightly"), std::string::npos);
  EXPECT_NE(ErrorOf("@every banana").find("invalid duration \"banana\""), std::string::npos);
  EXPECT_NE(ErrorOf("   ").find("empty"), std::string::npos);
}

TEST(CronTest, GoDurations) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(*ParseGoDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseGoDuration("1.5h"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseGoDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("-2s"), std::chrono::seconds(-2));
  EXPECT_EQ(*ParseGoDuration("0"), nanoseconds(0));
  EXPECT_EQ(*ParseGoDuration("1us"), nanoseconds(1000));
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("2x").ok());
  EXPECT_FALSE(ParseGoDuration("10").ok());
  EXPECT_FALSE(ParseGoDuration("h").ok());
}

}  // namespace
}  // namespace skiff::pipelines

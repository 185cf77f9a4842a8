// Cron parsing as robfig/cron does it (so KFP schedules mean the same here), and a next-time
// search that walks month → day → hour → minute → second in UTC.
#include "pipelines/cron.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <vector>

namespace skiff::pipelines {
namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

struct FieldSpec {
  const char* name;
  int min;
  int max;  // largest value accepted when parsing (7 for day-of-week: Sunday again)
  const char* const* names = nullptr;  // names[i] means min + i
  int name_count = 0;
};

constexpr const char* kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr const char* kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const FieldSpec kSecond{"second", 0, 59};
const FieldSpec kMinute{"minute", 0, 59};
const FieldSpec kHour{"hour", 0, 23};
const FieldSpec kDayOfMonth{"day-of-month", 1, 31};
const FieldSpec kMonth{"month", 1, 12, kMonthNames, 12};
const FieldSpec kDayOfWeek{"day-of-week", 0, 7, kDayNames, 7};

struct Field {
  uint64_t bits = 0;
  bool any = false;  // `*` or `?` without a step
};

class FieldParser {
 public:
  FieldParser(std::string_view expression, const FieldSpec& spec, int position)
      : expression_(expression), spec_(spec), position_(position) {}

  StatusOr<Field> Parse(std::string_view text) {
    Field out;
    bool all_any = true;
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      std::string_view item = text.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (item.empty()) return Error("has an empty list item");
      bool any = false;
      auto bits = ParseItem(item, &any);
      if (!bits.ok()) return bits.status();
      out.bits |= *bits;
      all_any = all_any && any;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    out.any = all_any;
    if (spec_.max == 7 && (out.bits & (uint64_t{1} << 7))) {  // Sunday as 7
      out.bits = (out.bits & ~(uint64_t{1} << 7)) | 1;
    }
    return out;
  }

 private:
  Status Error(const std::string& what) const {
    return Status::Invalid("invalid cron expression \"" + std::string(expression_) + "\": field " +
                           std::to_string(position_) + " (" + spec_.name + ") " + what);
  }

  StatusOr<int> Value(std::string_view text) const {
    if (text.empty()) return Error("has an empty value");
    bool digits = true;
    for (char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
    if (digits) {
      if (text.size() > 4) return Error("value " + std::string(text) + " out of range");
      const int v = std::stoi(std::string(text));
      if (v < spec_.min || v > spec_.max) {
        const int shown_max = spec_.max == 7 ? 6 : spec_.max;
        return Error("value " + std::to_string(v) + " out of range " + std::to_string(spec_.min) +
                     "-" + std::to_string(shown_max));
      }
      return v;
    }
    std::string upper(text);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int i = 0; i < spec_.name_count; ++i) {
      if (upper == spec_.names[i]) return spec_.min + i;
    }
    return Error("\"" + std::string(text) + "\" is not a number" +
                 (spec_.name_count ? " or a name" : ""));
  }

  StatusOr<uint64_t> ParseItem(std::string_view item, bool* any) {
    std::string_view range = item;
    std::string_view step_text;
    const size_t slash = item.find('/');
    if (slash != std::string_view::npos) {
      range = item.substr(0, slash);
      step_text = item.substr(slash + 1);
      if (step_text.find('/') != std::string_view::npos) return Error("has more than one '/'");
    }
    int lo, hi;
    const int top = spec_.max == 7 ? 6 : spec_.max;  // `*` in day-of-week is 0-6
    if (range == "*" || range == "?") {
      lo = spec_.min;
      hi = top;
      *any = true;
    } else {
      const size_t dash = range.find('-');
      auto first = Value(range.substr(0, dash));
      if (!first.ok()) return first.status();
      lo = hi = *first;
      if (dash != std::string_view::npos) {
        auto last = Value(range.substr(dash + 1));
        if (!last.ok()) return last.status();
        hi = *last;
        if (hi < lo) {
          return Error("range " + std::string(range) + " runs backwards");
        }
      } else if (slash != std::string_view::npos) {
        hi = top;  // `a/n`: from a to the end, as robfig reads it
      }
    }
    int step = 1;
    if (slash != std::string_view::npos) {
      bool digits = !step_text.empty() && step_text.size() <= 4;
      for (char c : step_text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (!digits) return Error("step \"" + std::string(step_text) + "\" is not a number");
      step = std::stoi(std::string(step_text));
      if (step < 1) return Error("step 0 must be at least 1");
      if (step > 1) *any = false;
    }
    uint64_t bits = 0;
    for (int v = lo; v <= hi; v += step) bits |= uint64_t{1} << v;
    return bits;
  }

  std::string_view expression_;
  const FieldSpec& spec_;
  int position_;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitFields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool Has(uint64_t bits, unsigned v) { return (bits >> v) & 1; }

}  // namespace

StatusOr<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  const std::string original(text);
  auto bad = [&] { return Status::Invalid("invalid duration \"" + original + "\""); };
  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return bad();
  long double total = 0;
  while (!text.empty()) {
    size_t i = 0;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.'))
      ++i;
    const std::string number(text.substr(0, i));
    if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return bad();
    text.remove_prefix(i);
    size_t u = 0;
    while (u < text.size() && !std::isdigit(static_cast<unsigned char>(text[u])) && text[u] != '.')
      ++u;
    const std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    long double scale;
    if (unit == "ns") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      scale = 1e3L;
    } else if (unit == "ms") {
      scale = 1e6L;
    } else if (unit == "s") {
      scale = 1e9L;
    } else if (unit == "m") {
      scale = 60e9L;
    } else if (unit == "h") {
      scale = 3600e9L;
    } else {
      return bad();
    }
    total += std::strtold(number.c_str(), nullptr) * scale;
  }
  if (total > 9.2e18L) return bad();  // beyond Go's ~292 years
  const auto ns = std::chrono::nanoseconds(static_cast<int64_t>(total));
  return negative ? -ns : ns;
}

StatusOr<CronSchedule> ParseCron(std::string_view expression) {
  const std::string_view text = Trim(expression);
  CronSchedule out;
  out.expression_ = std::string(text);
  auto error = [&](const std::string& what) {
    return Status::Invalid("invalid cron expression \"" + std::string(text) + "\": " + what);
  };
  if (text.empty()) return error("empty");

  std::string_view fields_text = text;
  if (text.front() == '@') {
    if (text.rfind("@every", 0) == 0 &&
        (text.size() == 6 || std::isspace(static_cast<unsigned char>(text[6])))) {
      const std::string_view d = Trim(text.substr(6));
      auto delay = ParseGoDuration(d);
      if (!delay.ok()) return error(delay.status().message());
      // robfig rounds down to whole seconds with a floor of one second.
      out.every_ = std::max(seconds(1), std::chrono::duration_cast<seconds>(*delay));
      return out;
    }
    static const std::array<std::pair<std::string_view, std::string_view>, 7> kDescriptors = {{
        {"@yearly", "0 0 0 1 1 *"},
        {"@annually", "0 0 0 1 1 *"},
        {"@monthly", "0 0 0 1 * *"},
        {"@weekly", "0 0 0 * * 0"},
        {"@daily", "0 0 0 * * *"},
        {"@midnight", "0 0 0 * * *"},
        {"@hourly", "0 0 * * * *"},
    }};
    fields_text = {};
    for (const auto& [name, fields] : kDescriptors) {
      if (text == name) fields_text = fields;
    }
    if (fields_text.empty()) return error("unknown descriptor " + std::string(text));
  }

  const std::vector<std::string_view> fields = SplitFields(fields_text);
  if (fields.size() != 5 && fields.size() != 6) {
    return error(
        "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds "
        "first), got " +
        std::to_string(fields.size()));
  }
  const bool with_seconds = fields.size() == 6;
  const std::vector<const FieldSpec*> specs =
      with_seconds
          ? std::vector<const FieldSpec*>{&kSecond,     &kMinute, &kHour,
                                          &kDayOfMonth, &kMonth,  &kDayOfWeek}
          : std::vector<const FieldSpec*>{&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  std::vector<Field> parsed;
  for (size_t i = 0; i < fields.size(); ++i) {
    auto f = FieldParser(text, *specs[i], static_cast<int>(i) + 1).Parse(fields[i]);
    if (!f.ok()) return f.status();
    parsed.push_back(*f);
  }
  size_t i = 0;
  out.seconds_ = with_seconds ? parsed[i++].bits : 1;  // 5 fields: on the minute
  out.minutes_ = parsed[i++].bits;
  out.hours_ = parsed[i++].bits;
  out.dom_any_ = parsed[i].any;
  out.days_of_month_ = parsed[i++].bits;
  out.months_ = parsed[i++].bits;
  out.dow_any_ = parsed[i].any;
  out.days_of_week_ = parsed[i++].bits;
  return out;
}

CronSchedule::TimePoint CronSchedule::Next(TimePoint after) const {
  if (after >= TimePoint::max() - std::chrono::hours(24 * 366 * 6)) return TimePoint::max();
  sys_seconds t = std::chrono::floor<seconds>(after) + seconds(1);
  if (every_.count() > 0) return t - seconds(1) + every_;

  const auto limit =
      std::chrono::year_month_day(std::chrono::floor<days>(t)).year() + std::chrono::years(5);
  while (true) {
    const sys_days day = std::chrono::floor<days>(t);
    const std::chrono::year_month_day ymd(day);
    if (ymd.year() > limit) return TimePoint::max();
    if (!Has(months_, static_cast<unsigned>(ymd.month()))) {
      const auto first = ymd.year() / ymd.month() / 1;
      t = sys_days(first + std::chrono::months(1));
      continue;
    }
    const bool dom = Has(days_of_month_, static_cast<unsigned>(ymd.day()));
    const bool dow = Has(days_of_week_, std::chrono::weekday(day).c_encoding());
    const bool day_ok = (dom_any_ || dow_any_) ? (dom && dow) : (dom || dow);
    if (!day_ok) {
      t = day + days(1);
      continue;
    }
    const std::chrono::hh_mm_ss<seconds> hms(t - day);
    const auto h = static_cast<unsigned>(hms.hours().count());
    const auto m = static_cast<unsigned>(hms.minutes().count());
    const auto s = static_cast<unsigned>(hms.seconds().count());
    if (!Has(hours_, h)) {
      t = day + std::chrono::hours(h + 1);
      continue;
    }
    if (!Has(minutes_, m)) {
      t = day + std::chrono::hours(h) + std::chrono::minutes(m + 1);
      continue;
    }
    if (!Has(seconds_, s)) {
      t += seconds(1);
      continue;
    }
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(t.time_since_epoch()));
  }
}

}  // namespace skiff::pipelines

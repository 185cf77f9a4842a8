// Exact quantity arithmetic: digits are kept in a 128-bit mantissa with a decimal and a binary
// exponent, so "0.1", "100m" and "1e-1" are the same 100 milli-units with no floating point.
#include "scheduler/quantity.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace skiff::scheduler {

namespace {

using int128 = __int128;

Status Malformed(const std::string& text) {
  return Status::BadRequest(
      "quantities must match the regular expression "
      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': \"" +
      text + "\"");
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Decimal exponent of an SI suffix, or false if `s` is not one.
bool DecimalSuffix(const std::string& s, int* exp10) {
  static const struct {
    const char* s;
    int e;
  } kSuffixes[] = {{"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
                   {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  for (const auto& x : kSuffixes) {
    if (s == x.s) {
      *exp10 = x.e;
      return true;
    }
  }
  return false;
}

bool BinarySuffix(const std::string& s, int* exp2) {
  static const char* kSuffixes[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  for (int i = 0; i < 6; ++i) {
    if (s == kSuffixes[i]) {
      *exp2 = 10 * (i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

StatusOr<Quantity> ParseQuantity(const std::string& text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';

  // Up to 18 significant digits are kept exactly; more only matter below a milli-unit or beyond
  // int64 range, where rounding up (or refusing) is what upstream does too.
  constexpr int kMaxDigits = 18;
  int128 mantissa = 0;
  int significant = 0;
  int scale10 = 0;  // mantissa * 10^scale10 units
  bool dropped_nonzero = false;
  bool any_digit = false;
  for (; i < text.size() && IsDigit(text[i]); ++i) {
    any_digit = true;
    if (significant < kMaxDigits) {
      mantissa = mantissa * 10 + (text[i] - '0');
      if (mantissa != 0) ++significant;
    } else {
      ++scale10;
      dropped_nonzero |= text[i] != '0';
    }
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      any_digit = true;
      if (significant < kMaxDigits) {
        mantissa = mantissa * 10 + (text[i] - '0');
        if (mantissa != 0) ++significant;
        --scale10;
      } else {
        dropped_nonzero |= text[i] != '0';
      }
    }
  }
  if (!any_digit) return Malformed(text);

  const std::string suffix = text.substr(i);
  Quantity q;
  int exp10 = 0;
  int exp2 = 0;
  if (DecimalSuffix(suffix, &exp10)) {
    q.format = QuantityFormat::kDecimalSI;
  } else if (BinarySuffix(suffix, &exp2)) {
    q.format = QuantityFormat::kBinarySI;
  } else if (suffix.size() >= 2 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    size_t j = 1;
    bool exp_negative = false;
    if (suffix[j] == '+' || suffix[j] == '-') exp_negative = suffix[j++] == '-';
    if (j >= suffix.size()) return Malformed(text);
    int e = 0;
    for (; j < suffix.size(); ++j) {
      if (!IsDigit(suffix[j]) || e > 1000) return Malformed(text);
      e = e * 10 + (suffix[j] - '0');
    }
    exp10 = exp_negative ? -e : e;
    q.format = QuantityFormat::kDecimalExponent;
  } else {
    return Malformed(text);
  }

  // Value in milli-units = mantissa * 2^exp2 * 10^(scale10 + exp10 + 3), rounded up.
  int128 v = mantissa << exp2;  // mantissa < 10^18 < 2^60 and exp2 <= 60: fits in 127 bits
  int scale = scale10 + exp10 + 3;
  const int128 kLimit = static_cast<int128>(std::numeric_limits<int64_t>::max());
  auto too_large = [&] {
    return Status::BadRequest("quantity too large: \"" + text +
                              "\" (at most 9223372036854775 "
                              "units with milli precision)");
  };
  if (v != 0 && scale > 0) {
    for (; scale > 0; --scale) {
      v *= 10;
      if (v > kLimit) return too_large();
    }
  }
  bool remainder = dropped_nonzero;
  for (; scale < 0 && v != 0; ++scale) {
    remainder |= v % 10 != 0;
    v /= 10;
  }
  // Ceiling toward +infinity: the magnitude rounds up for positives only.
  if (remainder && !negative) v += 1;
  if (v > kLimit) return too_large();
  q.milli = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return q;
}

StatusOr<int64_t> ParseQuantityMilli(const std::string& text) {
  auto q = ParseQuantity(text);
  if (!q.ok()) return q.status();
  return q->milli;
}

StatusOr<Quantity> ParseQuantityJson(const Json& value) {
  if (value.is_string()) return ParseQuantity(value.get<std::string>());
  if (value.is_number_integer()) {
    const int64_t n = value.get<int64_t>();
    if (n > std::numeric_limits<int64_t>::max() / 1000 ||
        n < std::numeric_limits<int64_t>::min() / 1000) {
      return Status::BadRequest("quantity too large: " + value.dump());
    }
    return Quantity{n * 1000, QuantityFormat::kDecimalSI};
  }
  if (value.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", value.get<double>());
    auto q = ParseQuantity(buf);
    if (q.ok()) q->format = QuantityFormat::kDecimalSI;
    return q;
  }
  return Status::BadRequest("a quantity must be a string or a number, not " + value.dump());
}

std::string FormatQuantityMilli(int64_t milli, QuantityFormat format) {
  if (milli == 0) return "0";
  std::string sign = milli < 0 ? "-" : "";
  uint64_t a = milli < 0 ? 0 - static_cast<uint64_t>(milli) : static_cast<uint64_t>(milli);

  // Binary form only for whole numbers of at least 1Ki: smaller or fractional ones are shown in
  // decimal so nothing is rounded (upstream's rule).
  if (format == QuantityFormat::kBinarySI && a % 1000 == 0 && a / 1000 >= 1024) {
    uint64_t v = a / 1000;
    int e = 0;
    while (v % 1024 == 0 && e < 6) {
      v /= 1024;
      ++e;
    }
    static const char* kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    return sign + std::to_string(v) + kSuffixes[e];
  }
  uint64_t m = a;
  int e = -3;
  while (m % 1000 == 0 && e < 18) {
    m /= 1000;
    e += 3;
  }
  if (format == QuantityFormat::kDecimalExponent) {
    return sign + std::to_string(m) + (e == 0 ? "" : "e" + std::to_string(e));
  }
  const char* suffix = "";
  switch (e) {
    case -3:
      suffix = "m";
      break;
    case 3:
      suffix = "k";
      break;
    case 6:
      suffix = "M";
      break;
    case 9:
      suffix = "G";
      break;
    case 12:
      suffix = "T";
      break;
    case 15:
      suffix = "P";
      break;
    case 18:
      suffix = "E";
      break;
    default:
      break;
  }
  return sign + std::to_string(m) + suffix;
}

std::string FormatQuantity(const Quantity& q) { return FormatQuantityMilli(q.milli, q.format); }

}  // namespace skiff::scheduler

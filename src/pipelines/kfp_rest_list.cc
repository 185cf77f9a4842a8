// KFP's list semantics over rendered KFP objects: `filter` (a JSON-encoded Filter whose
// predicates are AND-ed), `sort_by` ("field [asc|desc]"), `page_size` and opaque page tokens.
// Lists are rebuilt from the API objects on every call, so a token is just the next offset.
#include <algorithm>
#include <chrono>
#include <optional>

#include "common/clock.h"
#include "common/encoding.h"
#include "pipelines/kfp_rest_internal.h"

namespace skiff::pipelines::kfp {
namespace {

constexpr int64_t kDefaultPageSize = 20;
constexpr int64_t kMaxPageSize = 200;

enum class Op { kEquals, kNotEquals, kGreater, kGreaterEq, kLess, kLessEq, kIn, kSubstring };

struct Predicate {
  std::string key;
  Op op = Op::kEquals;
  std::vector<Json> values;  // one, or the members for IN
};

StatusOr<Op> ParseOp(const Json& v) {
  static const std::pair<const char*, Op> kNames[] = {{"EQUALS", Op::kEquals},
                                                      {"NOT_EQUALS", Op::kNotEquals},
                                                      {"GREATER_THAN", Op::kGreater},
                                                      {"GREATER_THAN_EQUALS", Op::kGreaterEq},
                                                      {"LESS_THAN", Op::kLess},
                                                      {"LESS_THAN_EQUALS", Op::kLessEq},
                                                      {"IN", Op::kIn},
                                                      {"IS_SUBSTRING", Op::kSubstring}};
  // The proto enum's numbers (4 is unused).
  static const std::pair<int, Op> kNumbers[] = {
      {1, Op::kEquals}, {2, Op::kNotEquals}, {3, Op::kGreater}, {5, Op::kGreaterEq},
      {6, Op::kLess},   {7, Op::kLessEq},    {8, Op::kIn},      {9, Op::kSubstring}};
  if (v.is_string()) {
    for (const auto& [name, op] : kNames) {
      if (v.get<std::string>() == name) return op;
    }
  } else if (v.is_number_integer()) {
    for (const auto& [number, op] : kNumbers) {
      if (v.get<int64_t>() == number) return op;
    }
  }
  return Status::BadRequest("filter: unsupported predicate operation " + v.dump());
}

// Timestamps compare as seconds since the epoch, as KFP converts them.
std::optional<double> AsSeconds(const std::string& text) {
  std::chrono::system_clock::time_point t;
  if (!ParseRfc3339(text, &t)) return std::nullopt;
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

StatusOr<Json> TimestampValue(const Json& v) {
  if (v.is_string()) {
    if (auto s = AsSeconds(v.get<std::string>())) return Json(*s);
  } else if (v.is_object() && v.contains("seconds")) {
    const Json& s = v["seconds"];
    if (s.is_number()) return Json(s.get<double>());
    if (s.is_string()) {
      try {
        return Json(std::stod(s.get<std::string>()));
      } catch (...) {
      }
    }
  }
  return Status::BadRequest("filter: timestamp_value " + v.dump() + " is not an RFC 3339 time");
}

Json LongValue(const Json& v) {
  if (v.is_string()) {
    try {
      return Json(std::stod(v.get<std::string>()));
    } catch (...) {
    }
  }
  return v;
}

StatusOr<std::vector<Predicate>> ParseFilter(const std::string& text) {
  std::vector<Predicate> out;
  if (text.empty()) return out;
  auto parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::BadRequest("filter must be a JSON-encoded Filter: " + text);
  }
  const Json* predicates = Field(*parsed, "predicates");
  if (!predicates) return out;
  if (!predicates->is_array()) return Status::BadRequest("filter: predicates must be a list");
  for (const Json& p : *predicates) {
    Predicate pred;
    pred.key = p.is_object() ? StringField(p, "key") : "";
    if (pred.key.empty()) return Status::BadRequest("filter: every predicate needs a key");
    const Json* op = Field(p, "op");
    if (!op) op = Field(p, "operation");
    if (!op) return Status::BadRequest("filter: predicate on " + pred.key + " has no operation");
    auto parsed_op = ParseOp(*op);
    if (!parsed_op.ok()) return parsed_op.status();
    pred.op = *parsed_op;
    if (const Json* v = Field(p, "string_value")) {
      pred.values.push_back(*v);
    } else if (const Json* v = Field(p, "int_value")) {
      pred.values.push_back(LongValue(*v));
    } else if (const Json* v = Field(p, "long_value")) {
      pred.values.push_back(LongValue(*v));
    } else if (const Json* v = Field(p, "timestamp_value")) {
      auto t = TimestampValue(*v);
      if (!t.ok()) return t.status();
      pred.values.push_back(*t);
    } else {
      for (const char* list : {"string_values", "int_values", "long_values"}) {
        const Json* l = Field(p, list);
        if (!l) continue;
        const Json* values = l->is_object() ? Field(*l, "values") : nullptr;
        if (!values || !values->is_array()) {
          return Status::BadRequest("filter: " + std::string(list) + " needs a values list");
        }
        for (const Json& v : *values) pred.values.push_back(LongValue(v));
      }
      if (pred.op != Op::kIn) {
        return Status::BadRequest("filter: predicate on " + pred.key + " has no value");
      }
    }
    if (pred.op == Op::kIn && !Field(p, "string_values") && !Field(p, "int_values") &&
        !Field(p, "long_values")) {
      return Status::BadRequest("filter: IN on " + pred.key + " needs string_values, " +
                                "int_values or long_values");
    }
    if (pred.op == Op::kSubstring && !pred.values[0].is_string()) {
      return Status::BadRequest("filter: IS_SUBSTRING on " + pred.key + " needs a string_value");
    }
    out.push_back(std::move(pred));
  }
  return out;
}

// A rendered object's field; KFP's old `name` key means display_name where there is no name.
Json FieldValue(const Json& item, const std::string& key) {
  auto it = item.find(key);
  if (it != item.end() && !it->is_null()) return *it;
  if (key == "name") {
    it = item.find("display_name");
    if (it != item.end()) return *it;
  }
  return "";
}

// -1 / 0 / 1; values of different types compare as numbers when both read as one (timestamps
// as seconds), else as text.
int CompareValues(const Json& a, const Json& b) {
  auto number = [](const Json& v) -> std::optional<double> {
    if (v.is_number()) return v.get<double>();
    if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      if (auto t = AsSeconds(s)) return t;
      char* end = nullptr;
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size()) return d;
    }
    return std::nullopt;
  };
  if (a.is_number() || b.is_number()) {
    auto x = number(a), y = number(b);
    if (x && y) return *x < *y ? -1 : (*x > *y ? 1 : 0);
  }
  std::string x = a.is_string() ? a.get<std::string>() : a.dump();
  std::string y = b.is_string() ? b.get<std::string>() : b.dump();
  return x.compare(y) < 0 ? -1 : (x == y ? 0 : 1);
}

bool ValueEquals(const std::string& key, const Json& field, const Json& value) {
  if (CompareValues(field, value) == 0) return true;
  // Object names are derived from what the user called the object.
  return key == "name" && field.is_string() && value.is_string() &&
         ToObjectName(value.get<std::string>()) == field.get<std::string>();
}

bool Matches(const Json& item, const Predicate& p) {
  Json field = FieldValue(item, p.key);
  switch (p.op) {
    case Op::kEquals:
      return ValueEquals(p.key, field, p.values[0]);
    case Op::kNotEquals:
      return !ValueEquals(p.key, field, p.values[0]);
    case Op::kGreater:
      return CompareValues(field, p.values[0]) > 0;
    case Op::kGreaterEq:
      return CompareValues(field, p.values[0]) >= 0;
    case Op::kLess:
      return CompareValues(field, p.values[0]) < 0;
    case Op::kLessEq:
      return CompareValues(field, p.values[0]) <= 0;
    case Op::kIn:
      return std::any_of(p.values.begin(), p.values.end(),
                         [&](const Json& v) { return ValueEquals(p.key, field, v); });
    case Op::kSubstring:
      return field.is_string() &&
             field.get<std::string>().find(p.values[0].get<std::string>()) != std::string::npos;
  }
  return false;
}

StatusOr<int64_t> QueryInt(const http::Request& req, const char* name, int64_t fallback) {
  std::string v = req.Query(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (end != v.c_str() + v.size() || n < 0) {
    return Status::BadRequest(std::string(name) + " must be a non-negative integer, got " + v);
  }
  return static_cast<int64_t>(n);
}

}  // namespace

StatusOr<Json> ListResponse(const http::Request& request, std::vector<Json> rendered,
                            const std::string& items_key) {
  auto predicates = ParseFilter(request.Query("filter"));
  if (!predicates.ok()) return predicates.status();
  std::vector<Json> kept;
  for (Json& item : rendered) {
    if (std::all_of(predicates->begin(), predicates->end(),
                    [&](const Predicate& p) { return Matches(item, p); })) {
      kept.push_back(std::move(item));
    }
  }

  std::string sort_by = request.Query("sort_by");
  std::vector<std::string> words;
  for (size_t i = 0; i < sort_by.size();) {
    size_t j = sort_by.find_first_of(" \t", i);
    if (j == std::string::npos) j = sort_by.size();
    if (j > i) words.push_back(sort_by.substr(i, j - i));
    i = j + 1;
  }
  if (words.size() > 2 || (words.size() == 2 && !EqualsIgnoreCase(words[1], "asc") &&
                           !EqualsIgnoreCase(words[1], "desc"))) {
    return Status::BadRequest(
        "sort_by must be \"<field>\", \"<field> asc\" or \"<field> desc\", got " + sort_by);
  }
  if (!words.empty()) {
    const std::string field = words[0];
    const bool desc = words.size() == 2 && EqualsIgnoreCase(words[1], "desc");
    // Stable: ties keep the callers' oldest-first order.
    std::stable_sort(kept.begin(), kept.end(), [&](const Json& a, const Json& b) {
      int c = CompareValues(FieldValue(a, field), FieldValue(b, field));
      return desc ? c > 0 : c < 0;
    });
  }

  auto page_size = QueryInt(request, "page_size", 0);
  if (!page_size.ok()) return page_size.status();
  int64_t size = *page_size == 0 ? kDefaultPageSize : std::min(*page_size, kMaxPageSize);
  size_t offset = 0;
  if (std::string token = request.Query("page_token"); !token.empty()) {
    auto decoded = Base64Decode(token);
    char* end = nullptr;
    unsigned long long n = decoded ? std::strtoull(decoded->c_str(), &end, 10) : 0;
    if (!decoded || decoded->empty() || end != decoded->c_str() + decoded->size()) {
      return Status::BadRequest("invalid page_token " + token);
    }
    offset = static_cast<size_t>(n);
  }
  Json page = Json::array();
  for (size_t i = offset; i < kept.size() && page.size() < static_cast<size_t>(size); ++i) {
    page.push_back(std::move(kept[i]));
  }
  size_t next = offset + page.size();
  return Json{{items_key, std::move(page)},
              {"total_size", kept.size()},
              {"next_page_token", next < kept.size() ? Base64Encode(std::to_string(next)) : ""}};
}

}  // namespace skiff::pipelines::kfp

// Structural schema semantics, following what the apiextensions-apiserver does to custom resources:
// prune unknown fields, drop non-nullable nulls, apply defaults, then validate with the messages
// kube-openapi produces (so errors read the same as on a real cluster).
#include "api/schema.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

namespace skiff::api {
namespace {

constexpr char kInvalid[] = "FieldValueInvalid";
constexpr char kTypeInvalid[] = "FieldValueTypeInvalid";
constexpr char kRequired[] = "FieldValueRequired";
constexpr char kNotSupported[] = "FieldValueNotSupported";
constexpr char kTooLong[] = "FieldValueTooLong";
constexpr char kTooMany[] = "FieldValueTooMany";
constexpr char kDuplicate[] = "FieldValueDuplicate";
constexpr char kForbidden[] = "FieldValueForbidden";

// ObjectMeta fields; metadata of embedded resources is pruned to these, as upstream coerces it.
const std::set<std::string>& ObjectMetaFields() {
  static const std::set<std::string> kFields = {"name",
                                                "generateName",
                                                "namespace",
                                                "selfLink",
                                                "uid",
                                                "resourceVersion",
                                                "generation",
                                                "creationTimestamp",
                                                "deletionTimestamp",
                                                "deletionGracePeriodSeconds",
                                                "labels",
                                                "annotations",
                                                "ownerReferences",
                                                "finalizers",
                                                "managedFields"};
  return kFields;
}

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}
std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

bool Flag(const Json& schema, const char* key) {
  auto it = schema.find(key);
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}

const Json* Member(const Json& schema, const char* key) {
  if (!schema.is_object()) return nullptr;
  auto it = schema.find(key);
  return it == schema.end() ? nullptr : &*it;
}

// The JSON type name kube-openapi reports for a value ("must be of type integer: \"string\"").
std::string TypeName(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool IsIntegral(const Json& v) {
  if (v.is_number_integer()) return true;
  // YAML "1.0" and JSON 1.0 decode as floats; Kubernetes accepts a whole float as an integer.
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

bool MatchesType(const std::string& type, const Json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_boolean();
  if (type == "integer") return IsIntegral(v);
  if (type == "number") return v.is_number();
  return true;  // unknown types are a schema problem, reported by CheckStructural
}

// Renders a bad value the way field.Error does: strings quoted, scalars plain, others as JSON.
std::string RenderValue(const Json& v) {
  if (v.is_null()) return "\"null\"";
  if (v.is_string()) return Json(v.get<std::string>()).dump();
  return v.dump();
}

// Numbers in messages print like Go's %v: no trailing ".0" for whole values.
std::string RenderNumber(const Json& v) {
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<int64_t>(d));
    }
    std::ostringstream out;
    out << d;
    return out.str();
  }
  return v.dump();
}

double AsDouble(const Json& v) { return v.get<double>(); }

// Compiled `pattern`s are cached: validation runs on every write and std::regex is slow to build.
// Returns nullptr for a pattern std::regex cannot compile (e.g. RE2-only syntax); such patterns
// are skipped rather than failing every object.
std::shared_ptr<const std::regex> CompiledPattern(const std::string& pattern) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const std::regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const std::regex> re;
  try {
    re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    re = nullptr;
  }
  if (cache.size() > 4096) cache.clear();
  cache.emplace(pattern, re);
  return re;
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool ValidFormat(const std::string& format, const Json& v) {
  if (format == "int32") {
    if (!v.is_number()) return true;
    double d = AsDouble(v);
    return d >= -2147483648.0 && d <= 2147483647.0;
  }
  if (!v.is_string()) return true;
  const std::string& s = v.get_ref<const std::string&>();
  static const std::regex kDateTime(
      R"(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2}))");
  static const std::regex kDate(R"(\d{4}-\d{2}-\d{2})");
  static const std::regex kByte(R"(([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)");
  static const std::regex kUuid(
      R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
  if (format == "date-time" || format == "datetime") return std::regex_match(s, kDateTime);
  if (format == "date") return std::regex_match(s, kDate);
  if (format == "byte") return std::regex_match(s, kByte);
  if (format == "uuid") return std::regex_match(s, kUuid);
  return true;  // other formats are not checked, as for most of them upstream
}

class Applier {
 public:
  Applier(UnknownFields unknown, SchemaResult* result) : unknown_(unknown), result_(result) {}

  // Drops fields the schema does not know. `root` keeps apiVersion/kind/metadata untouched.
  void Prune(const Json& schema, Json& value, const std::string& path, bool root) {
    if (!schema.is_object()) return;
    if (value.is_object()) {
      PruneObject(schema, value, path, root);
    } else if (value.is_array()) {
      const Json* items = Member(schema, "items");
      if (items == nullptr || !items->is_object()) return;
      for (size_t i = 0; i < value.size(); ++i) Prune(*items, value[i], Index(path, i), false);
    }
  }

  // Validates `value`, appending causes to `out`.
  void Validate(const Json& schema, const Json& value, const std::string& path, bool root,
                std::vector<StatusCause>& out) const {
    if (!schema.is_object()) return;
    if (value.is_null()) {
      if (Flag(schema, "nullable")) return;
      const Json* type = Member(schema, "type");
      if (type != nullptr && type->is_string()) {
        out.push_back({kTypeInvalid,
                       "Invalid value: \"null\": " + path + " in body must be of type " +
                           type->get<std::string>() + ": \"null\"",
                       path});
        return;
      }
    }
    if (Flag(schema, "x-kubernetes-int-or-string")) {
      if (!IsIntegral(value) && !value.is_string()) {
        out.push_back({kTypeInvalid,
                       "Invalid value: \"" + TypeName(value) + "\": " + path +
                           " in body must be of type integer,string: \"" + TypeName(value) + "\"",
                       path});
        return;
      }
    } else if (const Json* type = Member(schema, "type"); type != nullptr && type->is_string()) {
      if (!MatchesType(type->get<std::string>(), value)) {
        std::string actual = TypeName(value);
        out.push_back({kTypeInvalid,
                       "Invalid value: \"" + actual + "\": " + path + " in body must be of type " +
                           type->get<std::string>() + ": \"" + actual + "\"",
                       path});
        return;  // the keyword checks below assume the declared type
      }
    }

    if (const Json* e = Member(schema, "enum"); e != nullptr && e->is_array()) {
      if (std::find(e->begin(), e->end(), value) == e->end()) {
        std::string supported;
        for (const Json& allowed : *e) {
          if (!supported.empty()) supported += ", ";
          supported += allowed.is_string() ? Json(allowed.get<std::string>()).dump()
                                           : Json(allowed.dump()).dump();
        }
        out.push_back({kNotSupported,
                       "Unsupported value: " + RenderValue(value) +
                           (supported.empty() ? "" : ": supported values: " + supported),
                       path});
      }
    }
    if (const Json* f = Member(schema, "format"); f != nullptr && f->is_string()) {
      if (!ValidFormat(f->get<std::string>(), value)) {
        out.push_back({kTypeInvalid,
                       "Invalid value: " + RenderValue(value) + ": " + path +
                           " in body must be of type " + f->get<std::string>() + ": " +
                           RenderValue(value),
                       path});
      }
    }

    if (value.is_string()) ValidateString(schema, value, path, out);
    if (value.is_number()) ValidateNumber(schema, value, path, out);
    if (value.is_array()) ValidateArray(schema, value, path, out);
    if (value.is_object()) ValidateObject(schema, value, path, root, out);
    ValidateJunctors(schema, value, path, out);
  }

  void RecordUnknown(const std::string& path) {
    result_->unknown_fields.push_back(path);
    std::string message = "unknown field \"" + path + "\"";
    if (unknown_ == UnknownFields::kWarn) result_->warnings.push_back(message);
    if (unknown_ == UnknownFields::kStrict) {
      result_->causes.push_back({kInvalid, message, path});
    }
  }

 private:
  void PruneObject(const Json& schema, Json& value, const std::string& path, bool root) {
    const Json* props = Member(schema, "properties");
    const Json* additional = Member(schema, "additionalProperties");
    bool preserve = Flag(schema, "x-kubernetes-preserve-unknown-fields");
    bool embedded = Flag(schema, "x-kubernetes-embedded-resource");
    std::vector<std::string> drop;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& key = it.key();
      std::string child = Child(path, key);
      if (root && key == "metadata") continue;  // the caller owns top-level metadata
      if (props != nullptr && props->is_object()) {
        auto p = props->find(key);
        if (p != props->end()) {
          if (embedded && key == "metadata" && !Member(*p, "properties")) {
            PruneMetadata(it.value(), child);
          } else {
            Prune(*p, it.value(), child, false);
          }
          continue;
        }
      }
      if ((root || embedded) && (key == "apiVersion" || key == "kind")) continue;
      if (embedded && key == "metadata") {
        PruneMetadata(it.value(), child);
        continue;
      }
      if (additional != nullptr) {
        if (additional->is_object()) {
          Prune(*additional, it.value(), child, false);
          continue;
        }
        if (additional->is_boolean() && additional->get<bool>()) continue;
      }
      if (preserve) continue;
      drop.push_back(key);
    }
    for (const std::string& key : drop) {
      RecordUnknown(Child(path, key));
      value.erase(key);
    }
    // Upstream (PruneNonNullableNullsWithoutDefaults): a null for a non-nullable property without
    // a default is dropped instead of failing validation, so `foo: null` in YAML means "unset".
    if (props != nullptr && props->is_object()) {
      for (auto p = props->begin(); p != props->end(); ++p) {
        auto v = value.find(p.key());
        if (v != value.end() && v->is_null() && !Flag(*p, "nullable") && !Member(*p, "default")) {
          value.erase(v);
        }
      }
    }
  }

  void PruneMetadata(Json& metadata, const std::string& path) {
    if (!metadata.is_object()) return;
    std::vector<std::string> drop;
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
      if (!ObjectMetaFields().count(it.key())) drop.push_back(it.key());
    }
    for (const std::string& key : drop) {
      RecordUnknown(Child(path, key));
      metadata.erase(key);
    }
  }

  void ValidateString(const Json& schema, const Json& value, const std::string& path,
                      std::vector<StatusCause>& out) const {
    const std::string& s = value.get_ref<const std::string&>();
    size_t length = Utf8Length(s);
    if (const Json* m = Member(schema, "maxLength"); m != nullptr && m->is_number()) {
      if (static_cast<double>(length) > AsDouble(*m)) {
        out.push_back({kTooLong, "Too long: may not be longer than " + RenderNumber(*m), path});
      }
    }
    if (const Json* m = Member(schema, "minLength"); m != nullptr && m->is_number()) {
      if (static_cast<double>(length) < AsDouble(*m)) {
        out.push_back({kInvalid,
                       "Invalid value: " + RenderValue(value) + ": " + path +
                           " in body should be at least " + RenderNumber(*m) + " chars long",
                       path});
      }
    }
    if (const Json* p = Member(schema, "pattern"); p != nullptr && p->is_string()) {
      auto re = CompiledPattern(p->get<std::string>());
      // Upstream patterns are unanchored searches (Go regexp MatchString).
      if (re != nullptr && !std::regex_search(s, *re)) {
        out.push_back({kInvalid,
                       "Invalid value: " + RenderValue(value) + ": " + path +
                           " in body should match '" + p->get<std::string>() + "'",
                       path});
      }
    }
  }

  void ValidateNumber(const Json& schema, const Json& value, const std::string& path,
                      std::vector<StatusCause>& out) const {
    double d = AsDouble(value);
    auto fail = [&](const std::string& what) {
      out.push_back(
          {kInvalid,
           "Invalid value: " + RenderValue(value) + ": " + path + " in body should be " + what,
           path});
    };
    if (const Json* m = Member(schema, "maximum"); m != nullptr && m->is_number()) {
      bool exclusive = Flag(schema, "exclusiveMaximum");
      if (exclusive ? d >= AsDouble(*m) : d > AsDouble(*m)) {
        fail(exclusive ? "less than " + RenderNumber(*m)
                       : "less than or equal to " + RenderNumber(*m));
      }
    }
    if (const Json* m = Member(schema, "minimum"); m != nullptr && m->is_number()) {
      bool exclusive = Flag(schema, "exclusiveMinimum");
      if (exclusive ? d <= AsDouble(*m) : d < AsDouble(*m)) {
        fail(exclusive ? "greater than " + RenderNumber(*m)
                       : "greater than or equal to " + RenderNumber(*m));
      }
    }
    if (const Json* m = Member(schema, "multipleOf"); m != nullptr && m->is_number()) {
      double q = AsDouble(*m);
      if (q > 0) {
        double r = std::fmod(d, q);
        if (std::fabs(r) > 1e-9 && std::fabs(r - q) > 1e-9)
          fail("a multiple of " + RenderNumber(*m));
      }
    }
  }

  void ValidateArray(const Json& schema, const Json& value, const std::string& path,
                     std::vector<StatusCause>& out) const {
    if (const Json* m = Member(schema, "maxItems"); m != nullptr && m->is_number()) {
      if (static_cast<double>(value.size()) > AsDouble(*m)) {
        out.push_back({kTooMany,
                       "Too many: " + std::to_string(value.size()) + ": must have at most " +
                           RenderNumber(*m) + (AsDouble(*m) == 1 ? " item" : " items"),
                       path});
      }
    }
    if (const Json* m = Member(schema, "minItems"); m != nullptr && m->is_number()) {
      if (static_cast<double>(value.size()) < AsDouble(*m)) {
        out.push_back({kInvalid,
                       "Invalid value: " + std::to_string(value.size()) + ": " + path +
                           " in body should have at least " + RenderNumber(*m) + " items",
                       path});
      }
    }
    if (Flag(schema, "uniqueItems")) {
      for (size_t i = 1; i < value.size(); ++i) {
        if (std::find(value.begin(), value.begin() + i, value[i]) != value.begin() + i) {
          out.push_back({kInvalid,
                         "Invalid value: " + RenderValue(value) + ": " + path +
                             " in body shouldn't contain duplicates",
                         path});
          break;
        }
      }
    }
    const Json* list_type = Member(schema, "x-kubernetes-list-type");
    if (list_type != nullptr && *list_type == "set") {
      for (size_t i = 1; i < value.size(); ++i) {
        if (std::find(value.begin(), value.begin() + i, value[i]) != value.begin() + i) {
          out.push_back({kDuplicate, "Duplicate value: " + RenderValue(value[i]), Index(path, i)});
        }
      }
    } else if (list_type != nullptr && *list_type == "map") {
      ValidateListMap(schema, value, path, out);
    }
    if (const Json* items = Member(schema, "items"); items != nullptr && items->is_object()) {
      for (size_t i = 0; i < value.size(); ++i) {
        Validate(*items, value[i], Index(path, i), false, out);
      }
    }
  }

  // A map-list is keyed by x-kubernetes-list-map-keys; two items with the same key tuple are
  // duplicates (absent keys compare by their defaults, which defaulting has already filled in).
  void ValidateListMap(const Json& schema, const Json& value, const std::string& path,
                       std::vector<StatusCause>& out) const {
    const Json* keys = Member(schema, "x-kubernetes-list-map-keys");
    if (keys == nullptr || !keys->is_array()) return;
    std::vector<Json> seen;
    for (size_t i = 0; i < value.size(); ++i) {
      if (!value[i].is_object()) continue;
      Json key = Json::object();
      for (const Json& k : *keys) {
        if (!k.is_string()) continue;
        auto v = value[i].find(k.get<std::string>());
        if (v != value[i].end()) key[k.get<std::string>()] = *v;
      }
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        out.push_back({kDuplicate, "Duplicate value: " + key.dump(), Index(path, i)});
      } else {
        seen.push_back(std::move(key));
      }
    }
  }

  void ValidateObject(const Json& schema, const Json& value, const std::string& path, bool root,
                      std::vector<StatusCause>& out) const {
    if (const Json* req = Member(schema, "required"); req != nullptr && req->is_array()) {
      for (const Json& name : *req) {
        if (!name.is_string()) continue;
        const std::string& key = name.get_ref<const std::string&>();
        if (root && key == "metadata") continue;
        if (!value.contains(key)) out.push_back({kRequired, "Required value", Child(path, key)});
      }
    }
    if (const Json* m = Member(schema, "maxProperties"); m != nullptr && m->is_number()) {
      if (static_cast<double>(value.size()) > AsDouble(*m)) {
        out.push_back({kTooMany,
                       "Too many: " + std::to_string(value.size()) + ": must have at most " +
                           RenderNumber(*m) + (AsDouble(*m) == 1 ? " item" : " items"),
                       path});
      }
    }
    if (const Json* m = Member(schema, "minProperties"); m != nullptr && m->is_number()) {
      if (static_cast<double>(value.size()) < AsDouble(*m)) {
        out.push_back({kInvalid,
                       "Invalid value: " + std::to_string(value.size()) + ": " + path +
                           " in body should have at least " + RenderNumber(*m) + " properties",
                       path});
      }
    }
    if (Flag(schema, "x-kubernetes-embedded-resource")) {
      for (const char* key : {"apiVersion", "kind"}) {
        auto v = value.find(key);
        if (v == value.end() || (v->is_string() && v->get_ref<const std::string&>().empty())) {
          out.push_back({kRequired, "Required value: must not be empty", Child(path, key)});
        }
      }
      auto md = value.find("metadata");
      if (md != value.end() && !md->is_object() && !md->is_null()) {
        out.push_back({kTypeInvalid,
                       "Invalid value: \"" + TypeName(*md) + "\": " + Child(path, "metadata") +
                           " in body must be of type object: \"" + TypeName(*md) + "\"",
                       Child(path, "metadata")});
      }
    }
    const Json* props = Member(schema, "properties");
    const Json* additional = Member(schema, "additionalProperties");
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& key = it.key();
      std::string child = Child(path, key);
      if (root && key == "metadata") {
        if (!it->is_object()) {
          out.push_back({kTypeInvalid,
                         "Invalid value: \"" + TypeName(*it) +
                             "\": metadata in body must be of "
                             "type object: \"" +
                             TypeName(*it) + "\"",
                         "metadata"});
        }
        continue;
      }
      if (props != nullptr && props->is_object()) {
        auto p = props->find(key);
        if (p != props->end()) {
          Validate(*p, *it, child, false, out);
          continue;
        }
      }
      if (additional != nullptr && additional->is_object())
        Validate(*additional, *it, child, false, out);
    }
  }

  // allOf/anyOf/oneOf/not are value validations only: they never prune or default.
  void ValidateJunctors(const Json& schema, const Json& value, const std::string& path,
                        std::vector<StatusCause>& out) const {
    std::string quoted = Json(path).dump();
    if (const Json* all = Member(schema, "allOf"); all != nullptr && all->is_array()) {
      for (const Json& sub : *all) Validate(sub, value, path, false, out);
    }
    auto passes = [&](const Json& sub) {
      std::vector<StatusCause> scratch;
      Validate(sub, value, path, false, scratch);
      return scratch.empty();
    };
    auto fail = [&](const std::string& message) {
      out.push_back({kInvalid, "Invalid value: " + RenderValue(value) + ": " + message, path});
    };
    if (const Json* any = Member(schema, "anyOf"); any != nullptr && any->is_array()) {
      if (!any->empty() && std::none_of(any->begin(), any->end(), passes)) {
        fail(quoted + " must validate at least one schema (anyOf)");
      }
    }
    if (const Json* one = Member(schema, "oneOf"); one != nullptr && one->is_array()) {
      auto valid = std::count_if(one->begin(), one->end(), passes);
      if (!one->empty() && valid != 1) {
        fail(quoted + " must validate one and only one schema (oneOf). " +
             (valid == 0 ? std::string("Found none valid")
                         : "Found " + std::to_string(valid) + " valid alternatives"));
      }
    }
    if (const Json* n = Member(schema, "not"); n != nullptr && n->is_object()) {
      if (passes(*n)) fail(quoted + " must not validate the schema (not)");
    }
  }

  UnknownFields unknown_;
  SchemaResult* result_;
};

bool HasDefault(const Json& schema) {
  const Json* d = Member(schema, "default");
  return d != nullptr && !d->is_null();
}

// `root`: the whole object, whose metadata belongs to the caller (as for pruning).
void Default(const Json& schema, Json& value, bool root = false) {
  if (!schema.is_object()) return;
  if (value.is_object()) {
    const Json* props = Member(schema, "properties");
    if (props != nullptr && props->is_object()) {
      for (auto p = props->begin(); p != props->end(); ++p) {
        if (!HasDefault(*p) || (root && p.key() == "metadata")) continue;
        auto v = value.find(p.key());
        if (v == value.end()) {
          value[p.key()] = (*p)["default"];
        } else if (v->is_null() && !Flag(*p, "nullable")) {
          *v = (*p)["default"];
        }
      }
    }
    const Json* additional = Member(schema, "additionalProperties");
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (root && it.key() == "metadata") continue;
      if (props != nullptr && props->is_object()) {
        auto p = props->find(it.key());
        if (p != props->end()) {
          Default(*p, it.value());
          continue;
        }
      }
      if (additional != nullptr && additional->is_object()) {
        if (it->is_null() && HasDefault(*additional) && !Flag(*additional, "nullable")) {
          it.value() = (*additional)["default"];
        }
        Default(*additional, it.value());
      }
    }
  } else if (value.is_array()) {
    const Json* items = Member(schema, "items");
    if (items == nullptr || !items->is_object()) return;
    for (Json& item : value) {
      if (item.is_null() && HasDefault(*items) && !Flag(*items, "nullable")) {
        item = (*items)["default"];
      }
      Default(*items, item);
    }
  }
}

// ---- CheckStructural ----

class StructuralChecker {
 public:
  explicit StructuralChecker(std::vector<StatusCause>* out) : out_(out) {}

  // `in_junctor`: inside allOf/anyOf/oneOf/not, where only value validations are allowed.
  void Check(const Json& s, const std::string& path, bool root, bool in_junctor) {
    if (!s.is_object()) {
      Add(kInvalid, "Invalid value: " + RenderValue(s) + ": must be a schema object", path);
      return;
    }
    for (const char* key : {"$ref", "$schema", "definitions", "dependencies", "id",
                            "patternProperties", "additionalItems"}) {
      if (s.contains(key)) {
        Add(kForbidden, std::string("Forbidden: ") + key + " is not supported", Child(path, key));
      }
    }
    if (Flag(s, "uniqueItems")) {
      Add(kForbidden,
          "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes "
          "quadratic",
          Child(path, "uniqueItems"));
    }
    if (auto it = s.find("x-kubernetes-preserve-unknown-fields");
        it != s.end() && !(it->is_boolean() && it->get<bool>())) {
      Add(kInvalid, "Invalid value: " + RenderValue(*it) + ": must be true or undefined",
          Child(path, "x-kubernetes-preserve-unknown-fields"));
    }
    std::string type =
        s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
    static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                                 "integer", "number", "boolean"};
    if (s.contains("type") && !kTypes.count(type)) {
      Add(kNotSupported,
          "Unsupported value: " + RenderValue(s["type"]) +
              ": supported values: \"array\", \"boolean\", \"integer\", \"number\", \"object\", "
              "\"string\"",
          Child(path, "type"));
    }
    bool int_or_string = Flag(s, "x-kubernetes-int-or-string");
    bool preserve = Flag(s, "x-kubernetes-preserve-unknown-fields");
    if (in_junctor) {
      for (const char* key :
           {"type", "default", "nullable", "additionalProperties",
            "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource"}) {
        if (s.contains(key)) {
          Add(kForbidden, "Forbidden: must be empty to be structural", Child(path, key));
        }
      }
    } else if (type.empty() && !int_or_string && !preserve) {
      Add(kRequired,
          "Required value: must not be empty for specified " +
              std::string(root ? "object" : "fields"),
          Child(path, "type"));
    }
    if (root && type != "object" && !type.empty()) {
      Add(kInvalid, "Invalid value: " + RenderValue(s["type"]) + ": must be object at the root",
          Child(path, "type"));
    }
    if (int_or_string && !type.empty()) {
      Add(kInvalid,
          "Invalid value: " + RenderValue(s["type"]) +
              ": must be empty if x-kubernetes-int-or-string is true",
          Child(path, "type"));
    }
    if (Flag(s, "x-kubernetes-embedded-resource") && type != "object") {
      Add(kInvalid,
          "Invalid value: " + RenderValue(type) +
              ": must be object if x-kubernetes-embedded-resource is true",
          Child(path, "type"));
    }
    if (s.contains("properties") && s.contains("additionalProperties") &&
        !(s["additionalProperties"].is_boolean() && !s["additionalProperties"].get<bool>())) {
      Add(kForbidden, "Forbidden: additionalProperties and properties are mutual exclusive",
          Child(path, "additionalProperties"));
    }
    if (auto lt = s.find("x-kubernetes-list-type"); lt != s.end()) {
      if (*lt == "map" && !s.contains("x-kubernetes-list-map-keys")) {
        Add(kRequired, "Required value: must not be empty if x-kubernetes-list-type is map",
            Child(path, "x-kubernetes-list-map-keys"));
      }
      if (type != "array" && !in_junctor) {
        Add(kInvalid,
            "Invalid value: " + RenderValue(type) +
                ": must be array if "
                "x-kubernetes-list-type is specified",
            Child(path, "type"));
      }
    }
    if (root) {
      // Upstream: only name and generateName of metadata may be constrained at the root.
      if (const Json* md = Member(s, "properties"); md != nullptr && md->contains("metadata")) {
        const Json& m = (*md)["metadata"];
        if (const Json* mp = Member(m, "properties"); mp != nullptr && mp->is_object()) {
          for (auto it = mp->begin(); it != mp->end(); ++it) {
            if (it.key() != "name" && it.key() != "generateName") {
              Add(kForbidden, "Forbidden: must not be specified",
                  Child(path, "properties[metadata].properties[" + it.key() + "]"));
            }
          }
        }
      }
    }

    if (auto it = s.find("properties"); it != s.end()) {
      if (!it->is_object()) {
        Add(kInvalid, "Invalid value: " + RenderValue(*it) + ": must be an object",
            Child(path, "properties"));
      } else {
        for (auto p = it->begin(); p != it->end(); ++p) {
          Check(*p, Child(path, "properties[" + p.key() + "]"), false, in_junctor);
        }
      }
    }
    if (auto it = s.find("items"); it != s.end()) {
      if (it->is_array()) {
        Add(kForbidden, "Forbidden: items must be a schema object and not an array",
            Child(path, "items"));
      } else {
        Check(*it, Child(path, "items"), false, in_junctor);
      }
    } else if (type == "array" && !in_junctor) {
      Add(kRequired, "Required value: must be specified", Child(path, "items"));
    }
    if (auto it = s.find("additionalProperties"); it != s.end() && it->is_object()) {
      Check(*it, Child(path, "additionalProperties"), false, in_junctor);
    }
    for (const char* junctor : {"allOf", "anyOf", "oneOf"}) {
      if (auto it = s.find(junctor); it != s.end() && it->is_array()) {
        for (size_t i = 0; i < it->size(); ++i) {
          Check((*it)[i], Index(Child(path, junctor), i), false, true);
        }
      }
    }
    if (auto it = s.find("not"); it != s.end()) Check(*it, Child(path, "not"), false, true);
  }

 private:
  void Add(const char* type, std::string message, std::string field) {
    out_->push_back({type, std::move(message), std::move(field)});
  }
  std::vector<StatusCause>* out_;
};

}  // namespace

SchemaResult ApplySchema(const Json& schema, Json& object, UnknownFields unknown) {
  SchemaResult result;
  Applier applier(unknown, &result);
  applier.Prune(schema, object, "", /*root=*/true);
  Default(schema, object, /*root=*/true);
  applier.Validate(schema, object, "", /*root=*/true, result.causes);
  return result;
}

void ApplyDefaults(const Json& schema, Json& object) { Default(schema, object, /*root=*/true); }

Status InvalidStatus(const std::string& group_kind, const std::string& name,
                     std::vector<StatusCause> causes) {
  // Like utilerrors.NewAggregate: identical errors are reported once.
  std::vector<std::string> rendered;
  std::vector<StatusCause> unique;
  for (StatusCause& c : causes) {
    std::string line = c.field.empty() ? c.message : c.field + ": " + c.message;
    if (std::find(rendered.begin(), rendered.end(), line) != rendered.end()) continue;
    rendered.push_back(std::move(line));
    unique.push_back(std::move(c));
  }
  std::string message = group_kind + " " + Json(name).dump() + " is invalid: ";
  if (rendered.size() == 1) {
    message += rendered[0];
  } else {
    message += "[";
    for (size_t i = 0; i < rendered.size(); ++i) {
      if (i > 0) message += ", ";
      message += rendered[i];
    }
    message += "]";
  }
  size_t dot = group_kind.find('.');
  std::string kind = group_kind.substr(0, dot);
  std::string group = dot == std::string::npos ? "" : group_kind.substr(dot + 1);
  Status status = Status::Invalid(std::move(message));
  status.WithDetails(name, group, kind);
  for (StatusCause& c : unique) status.AddCause(std::move(c));
  return status;
}

Status StrictDecodingStatus(const std::string& kind, const std::string& version,
                            const std::vector<std::string>& unknown_fields) {
  std::string message = kind + " in version " + Json(version).dump() + " cannot be handled as a " +
                        kind + ": strict decoding error: ";
  for (size_t i = 0; i < unknown_fields.size(); ++i) {
    if (i > 0) message += ", ";
    message += "unknown field " + Json(unknown_fields[i]).dump();
  }
  return Status::BadRequest(std::move(message));
}

std::vector<StatusCause> CheckStructural(const Json& schema, const std::string& path) {
  std::vector<StatusCause> causes;
  StructuralChecker(&causes).Check(schema, path, /*root=*/true, /*in_junctor=*/false);
  return causes;
}

// ---- $ref resolution for the built-in definitions ----

namespace {

class RefResolver {
 public:
  explicit RefResolver(const Json& definitions) : defs_(definitions) {}

  // Expands `node` in place: only nodes holding a $ref are rebuilt, the rest is untouched, which
  // matters because the built-in schemas inline to megabytes.
  Status Resolve(Json& node) {
    if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) {
        segments_.push_back("[" + std::to_string(i) + "]");
        Status s = Resolve(node[i]);
        segments_.pop_back();
        SKIFF_RETURN_IF_ERROR(s);
      }
      return Status::Ok();
    }
    if (!node.is_object()) return Status::Ok();
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string& key = it.key();
      // Literal values can contain anything, including a "$ref" key; they are not schemas.
      if (key == "$ref" || key == "default" || key == "enum" || key == "example") continue;
      segments_.push_back(key);
      Status s = key == "properties" ? ResolveMap(it.value()) : Resolve(it.value());
      segments_.pop_back();
      SKIFF_RETURN_IF_ERROR(s);
    }
    auto ref = node.find("$ref");
    if (ref == node.end()) return Status::Ok();
    segments_.push_back("$ref");
    auto def = Definition(*ref);
    segments_.pop_back();
    if (!def.ok()) return def.status();
    Json merged = **def;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it.key() != "$ref") merged[it.key()] = std::move(it.value());  // siblings override
    }
    node = std::move(merged);
    return Status::Ok();
  }

  std::string Path() const {
    std::string out;
    for (const std::string& s : segments_) {
      if (!out.empty() && s[0] != '[') out += ".";
      out += s;
    }
    return out;
  }

 private:
  // A `properties` map: its keys are field names (a field may be called "default"), its values
  // schemas.
  Status ResolveMap(Json& map) {
    if (!map.is_object()) return Resolve(map);
    for (auto it = map.begin(); it != map.end(); ++it) {
      segments_.push_back(it.key());
      Status s = Resolve(it.value());
      segments_.pop_back();
      SKIFF_RETURN_IF_ERROR(s);
    }
    return Status::Ok();
  }

  StatusOr<const Json*> Definition(const Json& ref) {
    static const std::string kPrefix = "#/definitions/";
    if (!ref.is_string() || ref.get_ref<const std::string&>().rfind(kPrefix, 0) != 0) {
      return Status::Invalid(Path() + ": $ref must be a string \"#/definitions/<Name>\", got " +
                             ref.dump());
    }
    std::string name = ref.get<std::string>().substr(kPrefix.size());
    if (auto done = resolved_.find(name); done != resolved_.end()) return &done->second;
    if (std::find(stack_.begin(), stack_.end(), name) != stack_.end()) {
      std::string cycle;
      for (auto it = std::find(stack_.begin(), stack_.end(), name); it != stack_.end(); ++it) {
        cycle += *it + " -> ";
      }
      return Status::Invalid(Path() + ": $ref cycle: " + cycle + name);
    }
    if (!defs_.is_object() || !defs_.contains(name)) {
      return Status::Invalid(Path() + ": unknown definition " + Json(name).dump());
    }
    Json def = defs_[name];
    stack_.push_back(name);
    std::vector<std::string> saved = std::move(segments_);
    segments_ = {"definitions", name};
    Status s = Resolve(def);
    segments_ = std::move(saved);
    stack_.pop_back();
    SKIFF_RETURN_IF_ERROR(s);
    return &resolved_.emplace(name, std::move(def)).first->second;
  }

  const Json& defs_;
  std::vector<std::string> segments_;     // path of the node being resolved, for error messages
  std::vector<std::string> stack_;        // definitions being expanded, to detect cycles
  std::map<std::string, Json> resolved_;  // definitions are expanded once, then copied
};

}  // namespace

StatusOr<Json> ResolveRefs(const Json& schema, const Json& definitions) {
  Json out = schema;
  SKIFF_RETURN_IF_ERROR(RefResolver(definitions).Resolve(out));
  return out;
}

}  // namespace skiff::api

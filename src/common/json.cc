#include "common/json.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <regex>
#include <sstream>

namespace skiff {

StatusOr<Json> ParseJson(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    return Status::BadRequest(std::string("invalid JSON: ") + e.what());
  }
}

namespace {

bool IsNullScalar(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Types a plain (unquoted) YAML scalar by the YAML 1.2 core schema.
Json PlainScalar(const std::string& s) {
  if (IsNullScalar(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  try {
    if (std::regex_match(s, kInt)) {
      if (s[0] == '-') return static_cast<int64_t>(std::stoll(s));
      unsigned long long v = std::stoull(s[0] == '+' ? s.substr(1) : s);
      if (v <= static_cast<unsigned long long>(INT64_MAX)) return static_cast<int64_t>(v);
      return static_cast<uint64_t>(v);
    }
    if (std::regex_match(s, kOct)) return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 8));
    if (std::regex_match(s, kHex))
      return static_cast<int64_t>(std::stoll(s.substr(2), nullptr, 16));
    if (std::regex_match(s, kFloat)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf") return INFINITY;
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -INFINITY;
  return s;
}

StatusOr<Json> FromYamlNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags plain scalars "?" and quoted or explicitly tagged ones "!" / "tag:...".
      const std::string& tag = node.Tag();
      if (tag == "?") return PlainScalar(node.Scalar());
      if (tag == "tag:yaml.org,2002:int" || tag == "!!int") return PlainScalar(node.Scalar());
      if (tag == "tag:yaml.org,2002:bool") return PlainScalar(node.Scalar());
      return Json(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      for (const auto& item : node) {
        auto v = FromYamlNode(item);
        if (!v.ok()) return v;
        out.push_back(std::move(v).value());
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Status::BadRequest("invalid YAML: mapping keys must be scalars (line " +
                                    std::to_string(kv.first.Mark().line + 1) + ")");
        }
        auto v = FromYamlNode(kv.second);
        if (!v.ok()) return v;
        out[kv.first.Scalar()] = std::move(v).value();
      }
      return out;
    }
  }
  return Json(nullptr);
}

}  // namespace

StatusOr<Json> ParseYaml(std::string_view text) {
  try {
    YAML::Node node = YAML::Load(std::string(text));
    return FromYamlNode(node);
  } catch (const YAML::Exception& e) {
    return Status::BadRequest("invalid YAML: line " + std::to_string(e.mark.line + 1) +
                              ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text) {
  std::vector<Json> docs;
  try {
    for (const YAML::Node& node : YAML::LoadAll(std::string(text))) {
      auto v = FromYamlNode(node);
      if (!v.ok()) return v.status();
      if (v->is_null()) continue;
      docs.push_back(std::move(v).value());
    }
  } catch (const YAML::Exception& e) {
    return Status::BadRequest("invalid YAML: line " + std::to_string(e.mark.line + 1) +
                              ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return docs;
}

namespace {

// True when a string must be quoted to read back as the same string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  Json typed = PlainScalar(s);
  if (!typed.is_string()) return true;
  if (s == ".inf" || s == "-.inf" || s == ".nan" || s == "yes" || s == "no" || s == "on" ||
      s == "off" || s == "y" || s == "n" || s == "Yes" || s == "No" || s == "Y" || s == "N")
    return true;
  const char first = s.front();
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(first) != std::string_view::npos) {
    // "-foo" is fine as plain but "- foo" or "-" is not; quote them all for simplicity.
    return true;
  }
  if (s.front() == ' ' || s.back() == ' ') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return true;
  if (s.back() == ':') return true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return true;
    if (c == '\t') return true;
  }
  return false;
}

void EmitScalar(const Json& v, std::ostream& out) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (NeedsQuotes(s)) {
      out << Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
    } else {
      out << s;
    }
  } else if (v.is_null()) {
    out << "null";
  } else {
    out << v.dump();
  }
}

bool IsMultiline(const Json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.find('\n') == std::string::npos) return false;
  // Block scalars cannot faithfully carry trailing spaces on lines or control characters.
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c < 0x20 && c != '\n') return false;
    if (c == ' ' && (i + 1 == s.size() || s[i + 1] == '\n')) return false;
  }
  return s.front() != ' ' && s.front() != '\n';
}

void EmitBlockString(const std::string& s, int indent, std::ostream& out) {
  // Choose the chomping indicator that preserves the trailing newlines exactly.
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
  out << (trailing == 0 ? "|-" : trailing == 1 ? "|" : "|+");
  std::string pad(indent, ' ');
  std::string body = s.substr(0, s.size() - trailing);
  size_t start = 0;
  while (true) {
    size_t nl = body.find('\n', start);
    std::string line = body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    out << "\n";
    if (!line.empty()) out << pad << line;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  for (size_t i = 1; i < trailing; ++i) out << "\n";
}

void Emit(const Json& v, int indent, std::ostream& out);

void EmitValueAfterKey(const Json& v, int indent, std::ostream& out) {
  if (v.is_object() && !v.empty()) {
    out << "\n";
    Emit(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out << "\n";
    Emit(v, indent, out);  // kubectl style: list items at the key's indentation
  } else if (v.is_object()) {
    out << " {}\n";
  } else if (v.is_array()) {
    out << " []\n";
  } else if (IsMultiline(v)) {
    out << " ";
    EmitBlockString(v.get_ref<const std::string&>(), indent + 2, out);
    out << "\n";
  } else {
    out << " ";
    EmitScalar(v, out);
    out << "\n";
  }
}

void EmitKey(const std::string& key, std::ostream& out) {
  if (NeedsQuotes(key)) {
    out << Json(key).dump();
  } else {
    out << key;
  }
  out << ":";
}

void Emit(const Json& v, int indent, std::ostream& out) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      out << pad;
      EmitKey(it.key(), out);
      EmitValueAfterKey(it.value(), indent, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      out << pad << "-";
      if (item.is_object() && !item.empty()) {
        // First key on the dash line, the rest indented under it.
        bool first = true;
        for (auto it = item.begin(); it != item.end(); ++it) {
          out << (first ? " " : std::string(indent + 2, ' '));
          first = false;
          EmitKey(it.key(), out);
          EmitValueAfterKey(it.value(), indent + 2, out);
        }
      } else if (item.is_array() && !item.empty()) {
        out << "\n";
        Emit(item, indent + 2, out);
      } else if (item.is_object()) {
        out << " {}\n";
      } else if (item.is_array()) {
        out << " []\n";
      } else if (IsMultiline(item)) {
        out << " ";
        EmitBlockString(item.get_ref<const std::string&>(), indent + 2, out);
        out << "\n";
      } else {
        out << " ";
        EmitScalar(item, out);
        out << "\n";
      }
    }
  } else {
    out << pad;
    EmitScalar(v, out);
    out << "\n";
  }
}

}  // namespace

std::string ToYaml(const Json& value) {
  std::ostringstream out;
  if (value.is_object() && value.empty()) return "{}\n";
  if (value.is_array() && value.empty()) return "[]\n";
  Emit(value, 0, out);
  return out.str();
}

const Json* FindPath(const Json& root, std::string_view dotted_path) {
  const Json* cur = &root;
  size_t start = 0;
  while (start <= dotted_path.size()) {
    size_t dot = dotted_path.find('.', start);
    std::string part(dotted_path.substr(
        start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (!part.empty()) {
      if (!cur->is_object()) return nullptr;
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return cur;
}

std::string StringAt(const Json& root, std::string_view dotted_path) {
  const Json* v = FindPath(root, dotted_path);
  return v && v->is_string() ? v->get<std::string>() : "";
}

std::optional<int64_t> IntAt(const Json& root, std::string_view dotted_path) {
  const Json* v = FindPath(root, dotted_path);
  if (v && v->is_number_integer()) return v->get<int64_t>();
  return std::nullopt;
}

}  // namespace skiff

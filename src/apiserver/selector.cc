#include "apiserver/selector.h"

#include <cctype>

namespace skiff::apiserver {

namespace {

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTopLevel(const std::string& text) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

bool ValidLabelKey(const std::string& key) {
  if (key.empty() || key.size() > 316) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/'))
      return false;
  }
  return true;
}

std::string LabelValue(const Json& labels, const std::string& key, bool* present) {
  *present = false;
  if (!labels.is_object()) return "";
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return "";
  *present = true;
  return it->get<std::string>();
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(const std::string& text) {
  LabelSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    if (part.empty())
      return Status::BadRequest("unable to parse requirement: empty requirement in \"" + text +
                                "\"");
    Requirement req;
    size_t pos;
    if (part[0] == '!') {
      req.key = Trim(part.substr(1));
      req.op = Op::kDoesNotExist;
    } else if ((pos = part.find(" notin ")) != std::string::npos ||
               (pos = part.find(" in ")) != std::string::npos) {
      bool notin = part.compare(pos, 7, " notin ") == 0;
      req.key = Trim(part.substr(0, pos));
      req.op = notin ? Op::kNotIn : Op::kIn;
      std::string rest = Trim(part.substr(pos + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        return Status::BadRequest("unable to parse requirement: found '" + rest +
                                  "', expected: '(' and ')' around the values");
      }
      std::string inner = rest.substr(1, rest.size() - 2);
      size_t start = 0;
      while (true) {
        size_t comma = inner.find(',', start);
        req.values.push_back(Trim(
            inner.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else if ((pos = part.find("!=")) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kNotEquals;
      req.values.push_back(Trim(part.substr(pos + 2)));
    } else if ((pos = part.find("==")) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kEquals;
      req.values.push_back(Trim(part.substr(pos + 2)));
    } else if ((pos = part.find('=')) != std::string::npos) {
      req.key = Trim(part.substr(0, pos));
      req.op = Op::kEquals;
      req.values.push_back(Trim(part.substr(pos + 1)));
    } else {
      req.key = part;
      req.op = Op::kExists;
    }
    if (!ValidLabelKey(req.key)) {
      return Status::BadRequest("unable to parse requirement: invalid label key \"" + req.key +
                                "\"");
    }
    sel.requirements_.push_back(std::move(req));
  }
  return sel;
}

StatusOr<LabelSelector> LabelSelector::FromJson(const Json& selector) {
  LabelSelector sel;
  if (!selector.is_object()) return sel;
  if (auto it = selector.find("matchLabels"); it != selector.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      sel.requirements_.push_back(
          {k, Op::kEquals, {v.is_string() ? v.get<std::string>() : v.dump()}});
    }
  }
  if (auto it = selector.find("matchExpressions"); it != selector.end() && it->is_array()) {
    for (const Json& e : *it) {
      Requirement req;
      req.key = e.value("key", "");
      std::string op = e.value("operator", "");
      if (op == "In")
        req.op = Op::kIn;
      else if (op == "NotIn")
        req.op = Op::kNotIn;
      else if (op == "Exists")
        req.op = Op::kExists;
      else if (op == "DoesNotExist")
        req.op = Op::kDoesNotExist;
      else
        return Status::BadRequest("\"" + op + "\" is not a valid label selector operator");
      if (auto vs = e.find("values"); vs != e.end() && vs->is_array()) {
        for (const Json& v : *vs)
          req.values.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      }
      sel.requirements_.push_back(std::move(req));
    }
  }
  return sel;
}

bool LabelSelector::Matches(const Json& labels) const {
  for (const Requirement& r : requirements_) {
    bool present;
    std::string value = LabelValue(labels, r.key, &present);
    switch (r.op) {
      case Op::kEquals:
        if (!present || value != r.values[0]) return false;
        break;
      case Op::kNotEquals:
        if (present && value == r.values[0]) return false;
        break;
      case Op::kIn: {
        if (!present) return false;
        bool found = false;
        for (const auto& v : r.values) found = found || v == value;
        if (!found) return false;
        break;
      }
      case Op::kNotIn:
        if (present) {
          for (const auto& v : r.values) {
            if (v == value) return false;
          }
        }
        break;
      case Op::kExists:
        if (!present) return false;
        break;
      case Op::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

StatusOr<FieldSelector> FieldSelector::Parse(const std::string& text) {
  FieldSelector sel;
  if (Trim(text).empty()) return sel;
  for (const std::string& raw : SplitTopLevel(text)) {
    std::string part = Trim(raw);
    Term t;
    size_t pos;
    if ((pos = part.find("!=")) != std::string::npos) {
      t.path = Trim(part.substr(0, pos));
      t.negate = true;
      t.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find("==")) != std::string::npos) {
      t.path = Trim(part.substr(0, pos));
      t.negate = false;
      t.value = Trim(part.substr(pos + 2));
    } else if ((pos = part.find('=')) != std::string::npos) {
      t.path = Trim(part.substr(0, pos));
      t.negate = false;
      t.value = Trim(part.substr(pos + 1));
    } else {
      return Status::BadRequest("invalid field selector: \"" + part +
                                "\": expected an operator (=, ==, !=)");
    }
    if (t.path.empty())
      return Status::BadRequest("invalid field selector: empty field in \"" + part + "\"");
    sel.terms_.push_back(std::move(t));
  }
  return sel;
}

bool FieldSelector::Matches(const Json& object) const {
  for (const Term& t : terms_) {
    const Json* v = FindPath(object, t.path);
    std::string actual;
    if (v != nullptr && !v->is_null()) actual = v->is_string() ? v->get<std::string>() : v->dump();
    if ((actual == t.value) == t.negate) return false;
  }
  return true;
}

std::string FieldSelector::PinnedName() const {
  for (const Term& t : terms_) {
    if (t.path == "metadata.name" && !t.negate) return t.value;
  }
  return "";
}

}  // namespace skiff::apiserver

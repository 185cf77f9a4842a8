#include "apiserver/jsonpath.h"

namespace skiff::apiserver {

namespace {

std::string Unquote(std::string s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

std::string TrimSpaces(const std::string& s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Applies one bracket expression (without the brackets) to every current node.
std::vector<const Json*> Bracket(const std::vector<const Json*>& in, const std::string& expr) {
  std::vector<const Json*> out;
  std::string e = TrimSpaces(expr);
  if (!e.empty() && (e.front() == '\'' || e.front() == '"')) {
    std::string key = Unquote(e);
    for (const Json* n : in) {
      if (n->is_object() && n->contains(key)) out.push_back(&(*n)[key]);
    }
    return out;
  }
  if (e == "*") {
    for (const Json* n : in) {
      if (n->is_array() || n->is_object()) {
        for (const Json& c : *n) out.push_back(&c);
      }
    }
    return out;
  }
  if (e.rfind("?(", 0) == 0 && e.back() == ')') {
    // Filter: @.path==value or @.path!=value or @.path (exists).
    std::string cond = e.substr(2, e.size() - 3);
    std::string op = cond.find("==") != std::string::npos   ? "=="
                     : cond.find("!=") != std::string::npos ? "!="
                                                            : "";
    std::string lhs = op.empty() ? cond : cond.substr(0, cond.find(op));
    std::string rhs = op.empty() ? "" : Unquote(TrimSpaces(cond.substr(cond.find(op) + 2)));
    lhs = TrimSpaces(lhs);
    if (lhs.rfind("@", 0) == 0) lhs = lhs.substr(1);
    for (const Json* n : in) {
      if (!n->is_array()) continue;
      for (const Json& item : *n) {
        auto vals = EvalJsonPath(item, lhs);
        bool match;
        if (op.empty()) {
          match = !vals.empty();
        } else {
          std::string actual;
          if (!vals.empty())
            actual = vals[0].is_string() ? vals[0].get<std::string>() : vals[0].dump();
          match = (actual == rhs) == (op == "==");
        }
        if (match) out.push_back(&item);
      }
    }
    return out;
  }
  size_t colon = e.find(':');
  for (const Json* n : in) {
    if (!n->is_array()) continue;
    const long size = static_cast<long>(n->size());
    if (colon == std::string::npos) {
      long idx;
      try {
        idx = std::stol(e);
      } catch (...) {
        continue;
      }
      if (idx < 0) idx += size;
      if (idx >= 0 && idx < size) out.push_back(&(*n)[idx]);
    } else {
      std::string a = TrimSpaces(e.substr(0, colon));
      std::string b = TrimSpaces(e.substr(colon + 1));
      long start = 0, end = size;
      try {
        if (!a.empty()) start = std::stol(a);
        if (!b.empty()) end = std::stol(b);
      } catch (...) {
        continue;
      }
      if (start < 0) start += size;
      if (end < 0) end += size;
      start = std::max(0L, start);
      end = std::min(size, end);
      for (long i = start; i < end; ++i) out.push_back(&(*n)[i]);
    }
  }
  return out;
}

}  // namespace

std::vector<Json> EvalJsonPath(const Json& root, const std::string& path_in) {
  std::string path = TrimSpaces(path_in);
  if (path.size() >= 2 && path.front() == '{' && path.back() == '}') {
    path = path.substr(1, path.size() - 2);
  }
  if (!path.empty() && path[0] == '$') path = path.substr(1);
  std::vector<const Json*> cur = {&root};
  size_t i = 0;
  while (i < path.size() && !cur.empty()) {
    if (path[i] == '.') {
      ++i;
      size_t j = i;
      while (j < path.size() && path[j] != '.' && path[j] != '[') ++j;
      std::string field = path.substr(i, j - i);
      i = j;
      if (field.empty()) continue;
      std::vector<const Json*> next;
      for (const Json* n : cur) {
        if (field == "*" && (n->is_object() || n->is_array())) {
          for (const Json& c : *n) next.push_back(&c);
        } else if (n->is_object()) {
          auto it = n->find(field);
          if (it != n->end()) next.push_back(&*it);
        }
      }
      cur = std::move(next);
    } else if (path[i] == '[') {
      int depth = 0;
      size_t j = i;
      for (; j < path.size(); ++j) {
        if (path[j] == '[') ++depth;
        if (path[j] == ']' && --depth == 0) break;
      }
      cur = Bracket(cur, path.substr(i + 1, j - i - 1));
      i = j + 1;
    } else {
      // A leading bare field name ("spec.x").
      path = "." + path.substr(i);
      i = 0;
    }
  }
  std::vector<Json> out;
  out.reserve(cur.size());
  for (const Json* n : cur) out.push_back(*n);
  return out;
}

}  // namespace skiff::apiserver

// filterQuery: a recursive-descent parser (OR of ANDs of comparisons, parentheses) and an
// evaluator over REST JSON with SQL's NULL rule: a missing property matches nothing.
#include "registry/filter_query.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <variant>
#include <vector>

namespace skiff::registry {

namespace {

enum class Tok { kIdent, kString, kNumber, kOp, kLParen, kRParen, kComma, kEnd };

struct Token {
  Tok type = Tok::kEnd;
  std::string text;     // identifier (unquoted), string contents, number text or operator
  bool quoted = false;  // a backtick identifier: never a keyword
  size_t pos = 0;
};

StatusOr<std::vector<Token>> Lex(const std::string& q) {
  std::vector<Token> out;
  size_t i = 0;
  auto error = [&](const std::string& what) {
    return Status::BadRequest("invalid filterQuery at position " + std::to_string(i) + ": " + what);
  };
  while (i < q.size()) {
    const char c = q[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    if (c == '(' || c == ')' || c == ',') {
      t.type = c == '(' ? Tok::kLParen : c == ')' ? Tok::kRParen : Tok::kComma;
      ++i;
    } else if (c == '\'' || c == '"' || c == '`') {
      // Quotes double to escape themselves (SQL); a backslash escapes the next character.
      t.type = c == '`' ? Tok::kIdent : Tok::kString;
      t.quoted = c == '`';
      ++i;
      bool closed = false;
      while (i < q.size()) {
        if (q[i] == '\\' && i + 1 < q.size()) {
          t.text += q[i + 1];
          i += 2;
        } else if (q[i] == c && i + 1 < q.size() && q[i + 1] == c) {
          t.text += c;
          i += 2;
        } else if (q[i] == c) {
          ++i;
          closed = true;
          break;
        } else {
          t.text += q[i++];
        }
      }
      if (!closed) return error(std::string("unterminated ") + c + " quote");
      // `name`.string_value: the type suffix joins the quoted name.
      if (t.quoted && i < q.size() && q[i] == '.') {
        while (i < q.size() &&
               (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_' || q[i] == '.')) {
          t.text += q[i++];
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '.') && i + 1 < q.size() &&
                std::isdigit(static_cast<unsigned char>(q[i + 1])))) {
      t.type = Tok::kNumber;
      // Digits, a point, an exponent with its sign; AsNumber rejects anything else.
      t.text += q[i++];
      while (i < q.size() &&
             (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '.' ||
              ((q[i] == '-' || q[i] == '+') && (q[i - 1] == 'e' || q[i - 1] == 'E')))) {
        t.text += q[i++];
      }
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      t.type = Tok::kIdent;
      while (i < q.size() &&
             (std::isalnum(static_cast<unsigned char>(q[i])) || q[i] == '_' || q[i] == '.')) {
        t.text += q[i++];
      }
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      t.type = Tok::kOp;
      t.text = c;
      ++i;
      if (i < q.size() && (q[i] == '=' || (c == '<' && q[i] == '>'))) t.text += q[i++];
      if (t.text == "!") return error("expected != ");
    } else {
      return error(std::string("unexpected character '") + c + "'");
    }
    out.push_back(std::move(t));
  }
  Token end;
  end.pos = q.size();
  out.push_back(end);
  return out;
}

bool IsKeyword(const Token& t, const char* word) {
  if (t.type != Tok::kIdent || t.quoted || t.text.size() != std::char_traits<char>::length(word)) {
    return false;
  }
  for (size_t i = 0; i < t.text.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != word[i]) return false;
  }
  return true;
}

using Literal = std::variant<std::string, double, bool>;

std::optional<double> AsNumber(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// SQL LIKE: % any run, _ one character.
bool Like(const std::string& s, const std::string& p, size_t si = 0, size_t pi = 0) {
  while (pi < p.size()) {
    if (p[pi] == '%') {
      while (pi < p.size() && p[pi] == '%') ++pi;
      if (pi == p.size()) return true;
      for (size_t k = si; k <= s.size(); ++k) {
        if (Like(s, p, k, pi)) return true;
      }
      return false;
    }
    if (si == s.size() || (p[pi] != '_' && p[pi] != s[si])) return false;
    ++si;
    ++pi;
  }
  return si == s.size();
}

}  // namespace

struct FilterQuery::Node {
  enum class Type { kAnd, kOr, kCompare } type = Type::kCompare;
  std::unique_ptr<Node> left, right;
  // kCompare:
  std::string property;  // as written, customProperties. prefix included
  std::string op;        // = != < > <= >= LIKE ILIKE IN
  std::vector<Literal> values;
};

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  StatusOr<std::unique_ptr<FilterQuery::Node>> Parse() {
    auto e = Or();
    if (!e.ok()) return e;
    if (Peek().type != Tok::kEnd) return Error("unexpected '" + Peek().text + "'");
    return e;
  }

 private:
  using NodePtr = std::unique_ptr<FilterQuery::Node>;
  const Token& Peek() const { return t_[i_]; }
  const Token& Next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  Status Error(const std::string& what) const {
    return Status::BadRequest("invalid filterQuery at position " + std::to_string(Peek().pos) +
                              ": " + what);
  }

  StatusOr<NodePtr> Or() {
    auto left = And();
    if (!left.ok()) return left;
    NodePtr node = std::move(*left);
    while (IsKeyword(Peek(), "OR")) {
      Next();
      auto right = And();
      if (!right.ok()) return right;
      auto parent = std::make_unique<FilterQuery::Node>();
      parent->type = FilterQuery::Node::Type::kOr;
      parent->left = std::move(node);
      parent->right = std::move(*right);
      node = std::move(parent);
    }
    return node;
  }

  StatusOr<NodePtr> And() {
    auto left = Primary();
    if (!left.ok()) return left;
    NodePtr node = std::move(*left);
    while (IsKeyword(Peek(), "AND")) {
      Next();
      auto right = Primary();
      if (!right.ok()) return right;
      auto parent = std::make_unique<FilterQuery::Node>();
      parent->type = FilterQuery::Node::Type::kAnd;
      parent->left = std::move(node);
      parent->right = std::move(*right);
      node = std::move(parent);
    }
    return node;
  }

  StatusOr<Literal> Value() {
    const Token& t = Peek();
    if (t.type == Tok::kString) return Literal(Next().text);
    if (t.type == Tok::kNumber) {
      auto d = AsNumber(t.text);
      if (!d) return Error("bad number '" + t.text + "'");
      Next();
      return Literal(*d);
    }
    if (IsKeyword(t, "TRUE") || IsKeyword(t, "FALSE")) {
      const bool b = IsKeyword(t, "TRUE");
      Next();
      return Literal(b);
    }
    return Error("expected a string, number or boolean");
  }

  StatusOr<NodePtr> Primary() {
    if (Peek().type == Tok::kLParen) {
      Next();
      auto e = Or();
      if (!e.ok()) return e;
      if (Peek().type != Tok::kRParen) return Error("expected )");
      Next();
      return e;
    }
    if (Peek().type != Tok::kIdent) return Error("expected a property name");
    auto node = std::make_unique<FilterQuery::Node>();
    node->property = Next().text;
    const Token& op = Peek();
    if (op.type == Tok::kOp) {
      const std::string o = Next().text;
      node->op = o == "<>" ? "!=" : o;
      auto v = Value();
      if (!v.ok()) return v.status();
      node->values.push_back(std::move(*v));
    } else if (IsKeyword(op, "LIKE") || IsKeyword(op, "ILIKE")) {
      node->op = IsKeyword(op, "LIKE") ? "LIKE" : "ILIKE";
      Next();
      if (Peek().type != Tok::kString) return Error("LIKE needs a quoted pattern");
      node->values.push_back(Literal(Next().text));
    } else if (IsKeyword(op, "IN")) {
      node->op = "IN";
      Next();
      if (Peek().type != Tok::kLParen) return Error("IN needs a parenthesised list");
      Next();
      while (true) {
        auto v = Value();
        if (!v.ok()) return v.status();
        node->values.push_back(std::move(*v));
        if (Peek().type == Tok::kComma) {
          Next();
          continue;
        }
        if (Peek().type != Tok::kRParen) return Error("expected , or ) in the IN list");
        Next();
        break;
      }
    } else {
      return Error("expected an operator (=, !=, <, >, <=, >=, LIKE, ILIKE, IN) after " +
                   node->property);
    }
    return NodePtr(std::move(node));
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

// The value a property names in `entity`, or null when it has none.
Json Lookup(const Json& entity, std::string path) {
  static const char* kTyped[] = {"string_value", "double_value", "int_value", "bool_value"};
  const std::string kPrefix = "customProperties.";
  const bool custom_only = path.compare(0, kPrefix.size(), kPrefix) == 0;
  if (custom_only) path = path.substr(kPrefix.size());
  if (!custom_only && entity.contains(path) && path != "customProperties") return entity[path];
  std::string type;
  for (const char* t : kTyped) {
    const std::string suffix = std::string(".") + t;
    if (path.size() > suffix.size() &&
        path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0) {
      type = t;
      path = path.substr(0, path.size() - suffix.size());
      break;
    }
  }
  const Json* props = entity.contains("customProperties") ? &entity["customProperties"] : nullptr;
  if (!props || !props->is_object() || !props->contains(path)) return nullptr;
  const Json& v = (*props)[path];
  if (!v.is_object()) return type.empty() ? v : Json();
  if (!type.empty()) return v.contains(type) ? v[type] : Json();
  for (const char* t : kTyped) {
    if (v.contains(t)) return v[t];
  }
  return nullptr;
}

bool Compare(const Json& actual, const std::string& op, const Literal& want) {
  if (actual.is_null()) return false;
  auto order = [&](int cmp) {
    if (op == "=") return cmp == 0;
    if (op == "!=") return cmp != 0;
    if (op == "<") return cmp < 0;
    if (op == ">") return cmp > 0;
    if (op == "<=") return cmp <= 0;
    if (op == ">=") return cmp >= 0;
    return false;
  };
  if (const double* d = std::get_if<double>(&want)) {
    std::optional<double> a;
    if (actual.is_number()) a = actual.get<double>();
    if (actual.is_string()) a = AsNumber(actual.get<std::string>());
    if (!a) return false;
    return order(*a < *d ? -1 : *a > *d ? 1 : 0);
  }
  if (const bool* b = std::get_if<bool>(&want)) {
    std::optional<bool> a;
    if (actual.is_boolean()) a = actual.get<bool>();
    if (actual.is_string()) {
      const std::string s = Lower(actual.get<std::string>());
      if (s == "true" || s == "false") a = s == "true";
    }
    if (!a || (op != "=" && op != "!=")) return false;
    return order(*a == *b ? 0 : 1);
  }
  const std::string& s = std::get<std::string>(want);
  std::string a;
  if (actual.is_string()) {
    a = actual.get<std::string>();
  } else if (actual.is_boolean()) {
    a = actual.get<bool>() ? "true" : "false";
  } else if (actual.is_number()) {
    // A number compared with a quoted number: numerically.
    auto d = AsNumber(s);
    if (!d) return false;
    const double x = actual.get<double>();
    return order(x < *d ? -1 : x > *d ? 1 : 0);
  } else {
    return false;
  }
  if (op == "LIKE") return Like(a, s);
  if (op == "ILIKE") return Like(Lower(a), Lower(s));
  return order(a.compare(s));
}

bool Eval(const FilterQuery::Node& n, const Json& entity) {
  switch (n.type) {
    case FilterQuery::Node::Type::kAnd:
      return Eval(*n.left, entity) && Eval(*n.right, entity);
    case FilterQuery::Node::Type::kOr:
      return Eval(*n.left, entity) || Eval(*n.right, entity);
    case FilterQuery::Node::Type::kCompare:
      break;
  }
  const Json actual = Lookup(entity, n.property);
  if (n.op == "IN") {
    for (const Literal& v : n.values) {
      if (Compare(actual, "=", v)) return true;
    }
    return false;
  }
  return Compare(actual, n.op, n.values.front());
}

}  // namespace

FilterQuery::FilterQuery(std::unique_ptr<Node> root) : root_(std::move(root)) {}
FilterQuery::~FilterQuery() = default;
FilterQuery::FilterQuery(FilterQuery&&) noexcept = default;

StatusOr<FilterQuery> FilterQuery::Parse(const std::string& query) {
  auto tokens = Lex(query);
  if (!tokens.ok()) return tokens.status();
  if (tokens->size() == 1) return FilterQuery(nullptr);
  auto root = Parser(std::move(*tokens)).Parse();
  if (!root.ok()) return root.status();
  return FilterQuery(std::move(*root));
}

bool FilterQuery::Matches(const Json& entity) const { return !root_ || Eval(*root_, entity); }

}  // namespace skiff::registry

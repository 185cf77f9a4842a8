// A recursive-descent parser and tree-walking evaluator for the CEL subset in cel.h. Values are
// JSON: integers (signed or unsigned in nlohmann) are CEL ints, floats are doubles.
#include "pipelines/cel.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <variant>
#include <vector>

namespace skiff::pipelines {
namespace {

// ---- Lexer --------------------------------------------------------------------------------------

enum class Tok {
  kEnd,
  kIdent,
  kInt,
  kDouble,
  kString,
  kPunct,  // operators and brackets; the text says which
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;    // byte offset into the expression
  std::string text;  // identifier, operator, or the decoded string literal
  int64_t int_value = 0;
  double double_value = 0;
};

// Error raised while parsing or evaluating; converted into a Status by the public functions.
struct CelError {
  size_t pos;
  std::string message;
};

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::optional<CelError> Tokenize(std::vector<Token>& out) {
    while (true) {
      while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ >= text_.size()) {
        Token end;
        end.pos = pos_;
        out.push_back(std::move(end));
        return std::nullopt;
      }
      Token token;
      token.pos = pos_;
      char c = text_[pos_];
      char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
      if ((c == 'r' || c == 'R') && (next == '"' || next == '\'')) {
        ++pos_;
        if (auto error = String(token, /*raw=*/true)) return error;
      } else if ((c == 'b' || c == 'B') && (next == '"' || next == '\'')) {
        return CelError{pos_, "bytes literals are not supported"};
      } else if (IsIdentStart(c)) {
        size_t start = pos_;
        while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
        token.kind = Tok::kIdent;
        token.text = std::string(text_.substr(start, pos_ - start));
      } else if (IsDigit(c)) {
        if (auto error = Number(token)) return error;
      } else if (c == '"' || c == '\'') {
        if (auto error = String(token, /*raw=*/false)) return error;
      } else {
        static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "&&", "||"};
        token.kind = Tok::kPunct;
        for (std::string_view op : kTwo) {
          if (text_.substr(pos_, 2) == op) token.text = std::string(op);
        }
        if (token.text.empty()) {
          if (std::string_view("+-*/%!<>?:.,()[]{}").find(c) == std::string_view::npos) {
            return CelError{pos_, std::string("unexpected character '") + c + "'"};
          }
          token.text = std::string(1, c);
        }
        pos_ += token.text.size();
      }
      out.push_back(std::move(token));
    }
  }

 private:
  std::optional<CelError> Number(Token& token) {
    size_t start = pos_;
    if (text_.substr(pos_, 2) == "0x" || text_.substr(pos_, 2) == "0X") {
      pos_ += 2;
      size_t digits = pos_;
      while (pos_ < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      uint64_t value = 0;
      auto [end, ec] = std::from_chars(text_.data() + digits, text_.data() + pos_, value, 16);
      if (ec != std::errc() || digits == pos_) return CelError{start, "invalid hex literal"};
      return IntLiteral(token, start, value);
    }
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    bool is_double = false;
    if (pos_ + 1 < text_.size() && text_[pos_] == '.' && IsDigit(text_[pos_ + 1])) {
      is_double = true;
      ++pos_;
      while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t save = pos_++;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ < text_.size() && IsDigit(text_[pos_])) {
        is_double = true;
        while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
      } else {
        pos_ = save;
      }
    }
    if (is_double) {
      token.kind = Tok::kDouble;
      auto [end, ec] =
          std::from_chars(text_.data() + start, text_.data() + pos_, token.double_value);
      if (ec != std::errc()) return CelError{start, "invalid double literal"};
      return std::nullopt;
    }
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, value);
    if (ec != std::errc()) return CelError{start, "integer literal out of range"};
    return IntLiteral(token, start, value);
  }

  std::optional<CelError> IntLiteral(Token& token, size_t start, uint64_t value) {
    // Unsigned literals (5u) are accepted and treated as ints: JSON inputs do not keep the
    // distinction, so the evaluator has a single integer type.
    if (pos_ < text_.size() && (text_[pos_] == 'u' || text_[pos_] == 'U')) ++pos_;
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return CelError{start, "integer literal out of range"};
    }
    token.kind = Tok::kInt;
    token.int_value = static_cast<int64_t>(value);
    return std::nullopt;
  }

  std::optional<CelError> String(Token& token, bool raw) {
    size_t start = token.pos;
    char quote = text_[pos_];
    bool triple = text_.substr(pos_, 3) == std::string(3, quote);
    std::string_view close = triple ? text_.substr(pos_, 3) : text_.substr(pos_, 1);
    pos_ += close.size();
    token.kind = Tok::kString;
    while (true) {
      if (pos_ >= text_.size()) return CelError{start, "unterminated string literal"};
      if (text_.substr(pos_, close.size()) == close) {
        pos_ += close.size();
        return std::nullopt;
      }
      char c = text_[pos_];
      if (!triple && (c == '\n' || c == '\r')) {
        return CelError{start, "newline in string literal"};
      }
      if (c != '\\' || raw) {
        token.text += c;
        ++pos_;
        continue;
      }
      if (auto error = Escape(token.text)) return error;
    }
  }

  std::optional<CelError> Escape(std::string& out) {
    size_t at = pos_++;
    if (pos_ >= text_.size()) return CelError{at, "unterminated escape sequence"};
    char c = text_[pos_++];
    static constexpr std::string_view kFrom = "abfnrtv\\'\"`?";
    static constexpr std::string_view kTo = "\a\b\f\n\r\t\v\\'\"`?";
    if (size_t i = kFrom.find(c); i != std::string_view::npos) {
      out += kTo[i];
      return std::nullopt;
    }
    int digits = 0, base = 16;
    if (c == 'x' || c == 'X') {
      digits = 2;
    } else if (c == 'u') {
      digits = 4;
    } else if (c == 'U') {
      digits = 8;
    } else if (c >= '0' && c <= '3') {
      --pos_;  // \ooo: three octal digits, the first of which is c
      digits = 3;
      base = 8;
    } else {
      return CelError{at, std::string("invalid escape sequence \\") + c};
    }
    if (pos_ + digits > text_.size()) return CelError{at, "truncated escape sequence"};
    uint32_t value = 0;
    auto [end, ec] =
        std::from_chars(text_.data() + pos_, text_.data() + pos_ + digits, value, base);
    if (ec != std::errc() || end != text_.data() + pos_ + digits) {
      return CelError{at, "invalid escape sequence"};
    }
    pos_ += digits;
    if (c == 'x' || c == 'X' || base == 8) {
      out += static_cast<char>(value);  // a byte, as CEL's octal and hex escapes are
    } else {
      if (value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
        return CelError{at, "invalid code point in escape sequence"};
      }
      AppendUtf8(out, value);
    }
    return std::nullopt;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// ---- Syntax tree --------------------------------------------------------------------------------

struct Node {
  enum class Kind {
    kLiteral,  // literal
    kIdent,    // name
    kList,     // args
    kMap,      // args: key, value, key, value, ...
    kSelect,   // target.name
    kIndex,    // target[args[0]]
    kCall,     // name(args) or target.name(args)
    kUnary,    // name: "!" or "-"; args[0]
    kBinary,   // name: operator; args[0], args[1]
    kTernary,  // args: condition, then, else
  };
  Kind kind;
  size_t pos;
  Json literal;
  std::string name;
  std::unique_ptr<Node> target;
  std::vector<std::unique_ptr<Node>> args;
};

using NodePtr = std::unique_ptr<Node>;

NodePtr MakeNode(Node::Kind kind, size_t pos) {
  auto node = std::make_unique<Node>();
  node->kind = kind;
  node->pos = pos;
  return node;
}

// Parse errors are collected once (the first one wins) and parsing unwinds via nullptr.
class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  NodePtr ParseAll() {
    NodePtr node = Expr();
    if (node && Peek().kind != Tok::kEnd) Fail(Peek().pos, "unexpected '" + Describe(Peek()) + "'");
    return error_ ? nullptr : std::move(node);
  }
  const std::optional<CelError>& error() const { return error_; }

 private:
  static constexpr int kMaxDepth = 200;

  const Token& Peek() const { return tokens_[index_]; }
  const Token& Next() { return tokens_[index_ < tokens_.size() - 1 ? index_++ : index_]; }
  bool IsPunct(std::string_view text) const {
    return Peek().kind == Tok::kPunct && Peek().text == text;
  }
  bool Accept(std::string_view text) {
    if (!IsPunct(text)) return false;
    ++index_;
    return true;
  }
  bool Expect(std::string_view text) {
    if (Accept(text)) return true;
    Fail(Peek().pos, "expected '" + std::string(text) + "' but found '" + Describe(Peek()) + "'");
    return false;
  }
  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case Tok::kEnd:
        return "end of expression";
      case Tok::kString:
        return "string literal";
      case Tok::kInt:
        return std::to_string(token.int_value);
      case Tok::kDouble:
        return "number";
      default:
        return token.text;
    }
  }
  NodePtr Fail(size_t pos, std::string message) {
    if (!error_) error_ = CelError{pos, std::move(message)};
    return nullptr;
  }

  NodePtr Expr() {
    if (++depth_ > kMaxDepth) return Fail(Peek().pos, "expression nests too deeply");
    NodePtr condition = Or();
    if (condition && IsPunct("?")) {
      auto node = MakeNode(Node::Kind::kTernary, Next().pos);
      NodePtr then = Or();
      if (!then || !Expect(":")) return nullptr;
      NodePtr otherwise = Expr();
      if (!otherwise) return nullptr;
      node->args.push_back(std::move(condition));
      node->args.push_back(std::move(then));
      node->args.push_back(std::move(otherwise));
      condition = std::move(node);
    }
    --depth_;
    return condition;
  }

  NodePtr Binary(NodePtr left, const Token& op, NodePtr right) {
    if (!left || !right) return nullptr;
    auto node = MakeNode(Node::Kind::kBinary, op.pos);
    node->name = op.text;
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    return node;
  }

  NodePtr Or() {
    NodePtr left = And();
    while (left && IsPunct("||")) {
      const Token& op = Next();
      left = Binary(std::move(left), op, And());
    }
    return left;
  }

  NodePtr And() {
    NodePtr left = Relation();
    while (left && IsPunct("&&")) {
      const Token& op = Next();
      left = Binary(std::move(left), op, Relation());
    }
    return left;
  }

  NodePtr Relation() {
    NodePtr left = Addition();
    while (left) {
      bool is_in = Peek().kind == Tok::kIdent && Peek().text == "in";
      if (!is_in && !IsPunct("==") && !IsPunct("!=") && !IsPunct("<") && !IsPunct("<=") &&
          !IsPunct(">") && !IsPunct(">=")) {
        break;
      }
      const Token& op = Next();
      left = Binary(std::move(left), op, Addition());
    }
    return left;
  }

  NodePtr Addition() {
    NodePtr left = Multiplication();
    while (left && (IsPunct("+") || IsPunct("-"))) {
      const Token& op = Next();
      left = Binary(std::move(left), op, Multiplication());
    }
    return left;
  }

  NodePtr Multiplication() {
    NodePtr left = Unary();
    while (left && (IsPunct("*") || IsPunct("/") || IsPunct("%"))) {
      const Token& op = Next();
      left = Binary(std::move(left), op, Unary());
    }
    return left;
  }

  NodePtr Unary() {
    if (IsPunct("!") || IsPunct("-")) {
      const Token& op = Next();
      if (++depth_ > kMaxDepth) return Fail(op.pos, "expression nests too deeply");
      NodePtr operand = Unary();
      --depth_;
      if (!operand) return nullptr;
      auto node = MakeNode(Node::Kind::kUnary, op.pos);
      node->name = op.text;
      node->args.push_back(std::move(operand));
      return node;
    }
    return Member();
  }

  NodePtr Member() {
    NodePtr node = Primary();
    while (node) {
      if (IsPunct(".")) {
        Next();
        if (Peek().kind != Tok::kIdent) {
          return Fail(Peek().pos, "expected a field name after '.'");
        }
        const Token& field = Next();
        if (IsPunct("(")) {
          auto call = MakeNode(Node::Kind::kCall, field.pos);
          call->name = field.text;
          call->target = std::move(node);
          if (!Arguments(")", call->args)) return nullptr;
          node = std::move(call);
        } else {
          auto select = MakeNode(Node::Kind::kSelect, field.pos);
          select->name = field.text;
          select->target = std::move(node);
          node = std::move(select);
        }
      } else if (IsPunct("[")) {
        auto index = MakeNode(Node::Kind::kIndex, Next().pos);
        NodePtr key = Expr();
        if (!key || !Expect("]")) return nullptr;
        index->target = std::move(node);
        index->args.push_back(std::move(key));
        node = std::move(index);
      } else {
        break;
      }
    }
    return node;
  }

  // Parses `a, b, c` up to `close` (already past the opening bracket); a trailing comma is fine.
  bool Arguments(std::string_view close, std::vector<NodePtr>& out) {
    Next();  // the opening bracket
    if (Accept(close)) return true;
    while (true) {
      NodePtr arg = Expr();
      if (!arg) return false;
      out.push_back(std::move(arg));
      if (Accept(close)) return true;
      if (!Expect(",")) return false;
      if (Accept(close)) return true;
    }
  }

  NodePtr Primary() {
    const Token& token = Peek();
    switch (token.kind) {
      case Tok::kInt: {
        auto node = MakeNode(Node::Kind::kLiteral, Next().pos);
        node->literal = token.int_value;
        return node;
      }
      case Tok::kDouble: {
        auto node = MakeNode(Node::Kind::kLiteral, Next().pos);
        node->literal = token.double_value;
        return node;
      }
      case Tok::kString: {
        auto node = MakeNode(Node::Kind::kLiteral, Next().pos);
        node->literal = token.text;
        return node;
      }
      case Tok::kIdent: {
        Next();
        if (token.text == "true" || token.text == "false") {
          auto node = MakeNode(Node::Kind::kLiteral, token.pos);
          node->literal = token.text == "true";
          return node;
        }
        if (token.text == "null") {
          auto node = MakeNode(Node::Kind::kLiteral, token.pos);
          node->literal = nullptr;
          return node;
        }
        if (token.text == "in") return Fail(token.pos, "unexpected 'in'");
        if (IsPunct("(")) {
          auto call = MakeNode(Node::Kind::kCall, token.pos);
          call->name = token.text;
          if (!Arguments(")", call->args)) return nullptr;
          return call;
        }
        auto node = MakeNode(Node::Kind::kIdent, token.pos);
        node->name = token.text;
        return node;
      }
      case Tok::kPunct:
        if (token.text == "(") {
          Next();
          NodePtr inner = Expr();
          if (!inner || !Expect(")")) return nullptr;
          return inner;
        }
        if (token.text == "[") {
          auto list = MakeNode(Node::Kind::kList, token.pos);
          if (!Arguments("]", list->args)) return nullptr;
          return list;
        }
        if (token.text == "{") {
          auto map = MakeNode(Node::Kind::kMap, Next().pos);
          if (Accept("}")) return map;
          while (true) {
            NodePtr key = Expr();
            if (!key || !Expect(":")) return nullptr;
            NodePtr value = Expr();
            if (!value) return nullptr;
            map->args.push_back(std::move(key));
            map->args.push_back(std::move(value));
            if (Accept("}")) return map;
            if (!Expect(",")) return nullptr;
            if (Accept("}")) return map;
          }
        }
        return Fail(token.pos, "unexpected '" + token.text + "'");
      case Tok::kEnd:
        return Fail(token.pos, "unexpected end of expression");
    }
    return Fail(token.pos, "unexpected token");
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
  std::optional<CelError> error_;
};

// ---- Evaluation ---------------------------------------------------------------------------------

std::string TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null_type";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::number_float:
      return "double";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "map";
    default:
      return "unknown";
  }
}

bool IsInt(const Json& v) { return v.is_number_integer(); }
bool IsNumber(const Json& v) { return v.is_number(); }
double AsDouble(const Json& v) { return v.get<double>(); }

std::string Dump(const Json& v) { return v.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Shortest round-trip form, as CEL's string(double) prints.
std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), d);
  return std::string(buffer, end);
}

size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

using Result = std::variant<Json, CelError>;

bool Failed(const Result& r) { return std::holds_alternative<CelError>(r); }

class Evaluator {
 public:
  explicit Evaluator(const Json& bindings) : bindings_(bindings) {}

  Result Eval(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kLiteral:
        return node.literal;
      case Node::Kind::kIdent:
        return Ident(node);
      case Node::Kind::kList: {
        Json list = Json::array();
        for (const NodePtr& arg : node.args) {
          Result item = Eval(*arg);
          if (Failed(item)) return item;
          list.push_back(std::move(std::get<Json>(item)));
        }
        return list;
      }
      case Node::Kind::kMap: {
        Json map = Json::object();
        for (size_t i = 0; i + 1 < node.args.size(); i += 2) {
          Result key = Eval(*node.args[i]);
          if (Failed(key)) return key;
          const Json& k = std::get<Json>(key);
          if (!k.is_string()) {
            return CelError{node.args[i]->pos, "map keys must be strings, got " + TypeName(k)};
          }
          Result value = Eval(*node.args[i + 1]);
          if (Failed(value)) return value;
          map[k.get<std::string>()] = std::move(std::get<Json>(value));
        }
        return map;
      }
      case Node::Kind::kSelect: {
        Result target = Eval(*node.target);
        if (Failed(target)) return target;
        return Field(std::get<Json>(target), node.name, node.pos);
      }
      case Node::Kind::kIndex:
        return Index(node);
      case Node::Kind::kCall:
        return Call(node);
      case Node::Kind::kUnary:
        return Unary(node);
      case Node::Kind::kBinary:
        return Binary(node);
      case Node::Kind::kTernary: {
        Result condition = Eval(*node.args[0]);
        if (Failed(condition)) return condition;
        const Json& c = std::get<Json>(condition);
        if (!c.is_boolean()) {
          return CelError{node.pos, "ternary condition must be bool, got " + TypeName(c)};
        }
        return Eval(*node.args[c.get<bool>() ? 1 : 2]);
      }
    }
    return CelError{node.pos, "unsupported expression"};
  }

 private:
  // A top-level name is a key of the bindings; `inputs` names the bindings themselves (the
  // ExecutorInput.inputs that KFP's conditions start from).
  Result Ident(const Node& node) {
    if (bindings_.is_object()) {
      auto it = bindings_.find(node.name);
      if (it != bindings_.end()) return *it;
    }
    if (node.name == "inputs") return bindings_;
    return CelError{node.pos, "undeclared reference to '" + node.name + "'"};
  }

  static Result Field(const Json& target, const std::string& name, size_t pos) {
    if (!target.is_object()) {
      return CelError{pos, "cannot select field '" + name + "' from " + TypeName(target)};
    }
    auto it = target.find(name);
    if (it == target.end()) return CelError{pos, "no such key: '" + name + "'"};
    return *it;
  }

  Result Index(const Node& node) {
    Result target = Eval(*node.target);
    if (Failed(target)) return target;
    Result key = Eval(*node.args[0]);
    if (Failed(key)) return key;
    const Json& t = std::get<Json>(target);
    const Json& k = std::get<Json>(key);
    if (t.is_object()) {
      if (!k.is_string()) {
        return CelError{node.pos, "map index must be a string, got " + TypeName(k)};
      }
      return Field(t, k.get<std::string>(), node.pos);
    }
    if (t.is_array()) {
      int64_t i;
      if (IsInt(k)) {
        i = k.get<int64_t>();
      } else if (k.is_number_float() && std::trunc(k.get<double>()) == k.get<double>()) {
        i = static_cast<int64_t>(k.get<double>());
      } else {
        return CelError{node.pos, "list index must be an int, got " + TypeName(k)};
      }
      if (i < 0 || static_cast<size_t>(i) >= t.size()) {
        return CelError{node.pos, "index " + std::to_string(i) + " out of range (size " +
                                      std::to_string(t.size()) + ")"};
      }
      return t[static_cast<size_t>(i)];
    }
    return CelError{node.pos, "cannot index " + TypeName(t)};
  }

  Result Unary(const Node& node) {
    Result operand = Eval(*node.args[0]);
    if (Failed(operand)) return operand;
    const Json& v = std::get<Json>(operand);
    if (node.name == "!") {
      if (!v.is_boolean()) return CelError{node.pos, "no such overload: !" + TypeName(v)};
      return !v.get<bool>();
    }
    if (IsInt(v)) {
      int64_t i = v.get<int64_t>();
      if (i == std::numeric_limits<int64_t>::min()) return CelError{node.pos, "int overflow"};
      return -i;
    }
    if (v.is_number_float()) return -v.get<double>();
    return CelError{node.pos, "no such overload: -" + TypeName(v)};
  }

  // && and || are commutative in CEL: an error on one side is absorbed when the other side
  // alone decides the result. The right side is only evaluated when the left does not decide.
  Result Logical(const Node& node, bool is_and) {
    Result left = Eval(*node.args[0]);
    if (!Failed(left)) {
      const Json& l = std::get<Json>(left);
      if (!l.is_boolean()) {
        return CelError{node.pos, "no such overload: " + TypeName(l) + " " + node.name + " ..."};
      }
      if (l.get<bool>() != is_and) return l;  // false && ..., true || ...
    }
    Result right = Eval(*node.args[1]);
    if (!Failed(right)) {
      const Json& r = std::get<Json>(right);
      if (!r.is_boolean()) {
        return CelError{node.pos, "no such overload: ... " + node.name + " " + TypeName(r)};
      }
      if (r.get<bool>() != is_and) return r;
      if (!Failed(left)) return r;
    }
    return Failed(left) ? left : right;
  }

  static bool Equal(const Json& a, const Json& b) {
    // Numbers compare by value across int and double: KFP hands parameters to CEL as
    // protobuf Values, whose numbers are all doubles, while conditions compare to int literals.
    if (IsNumber(a) && IsNumber(b)) {
      if (IsInt(a) && IsInt(b)) return a.get<int64_t>() == b.get<int64_t>();
      return AsDouble(a) == AsDouble(b);
    }
    if (a.type() != b.type()) return false;
    if (a.is_array()) {
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!Equal(a[i], b[i])) return false;
      }
      return true;
    }
    if (a.is_object()) {
      if (a.size() != b.size()) return false;
      for (auto it = a.begin(); it != a.end(); ++it) {
        auto other = b.find(it.key());
        if (other == b.end() || !Equal(it.value(), *other)) return false;
      }
      return true;
    }
    return a == b;
  }

  // Returns <0, 0, >0, or nullopt when the types have no ordering.
  static std::optional<int> Compare(const Json& a, const Json& b) {
    if (IsNumber(a) && IsNumber(b)) {
      if (IsInt(a) && IsInt(b)) {
        int64_t x = a.get<int64_t>(), y = b.get<int64_t>();
        return x < y ? -1 : x > y ? 1 : 0;
      }
      double x = AsDouble(a), y = AsDouble(b);
      if (std::isnan(x) || std::isnan(y)) return std::nullopt;
      return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
      int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_boolean() && b.is_boolean()) return int(a.get<bool>()) - int(b.get<bool>());
    return std::nullopt;
  }

  Result Binary(const Node& node) {
    const std::string& op = node.name;
    if (op == "&&") return Logical(node, true);
    if (op == "||") return Logical(node, false);
    Result left = Eval(*node.args[0]);
    if (Failed(left)) return left;
    Result right = Eval(*node.args[1]);
    if (Failed(right)) return right;
    const Json& a = std::get<Json>(left);
    const Json& b = std::get<Json>(right);
    auto no_overload = [&] {
      return CelError{node.pos, "no such overload: " + TypeName(a) + " " + op + " " + TypeName(b)};
    };
    if (op == "==") return Equal(a, b);
    if (op == "!=") return !Equal(a, b);
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      auto c = Compare(a, b);
      if (!c) {
        if (IsNumber(a) && IsNumber(b)) return false;  // NaN orders with nothing
        return no_overload();
      }
      if (op == "<") return *c < 0;
      if (op == "<=") return *c <= 0;
      if (op == ">") return *c > 0;
      return *c >= 0;
    }
    if (op == "in") {
      if (b.is_array()) {
        for (const Json& item : b) {
          if (Equal(a, item)) return true;
        }
        return false;
      }
      if (b.is_object()) {
        if (!a.is_string()) return no_overload();
        return b.contains(a.get<std::string>());
      }
      return no_overload();
    }
    if (op == "+") {
      if (a.is_string() && b.is_string()) {
        return a.get_ref<const std::string&>() + b.get_ref<const std::string&>();
      }
      if (a.is_array() && b.is_array()) {
        Json joined = a;
        for (const Json& item : b) joined.push_back(item);
        return joined;
      }
    }
    if (!IsNumber(a) || !IsNumber(b)) return no_overload();
    if (IsInt(a) && IsInt(b)) {
      int64_t x = a.get<int64_t>(), y = b.get<int64_t>(), r = 0;
      bool overflow = false;
      if (op == "+") {
        overflow = __builtin_add_overflow(x, y, &r);
      } else if (op == "-") {
        overflow = __builtin_sub_overflow(x, y, &r);
      } else if (op == "*") {
        overflow = __builtin_mul_overflow(x, y, &r);
      } else {
        if (y == 0) return CelError{node.pos, op == "/" ? "division by zero" : "modulus by zero"};
        if (x == std::numeric_limits<int64_t>::min() && y == -1) {
          overflow = op == "/";
          r = 0;
        } else {
          r = op == "/" ? x / y : x % y;
        }
      }
      if (overflow) return CelError{node.pos, "int overflow"};
      return r;
    }
    // Mixed int/double arithmetic is promoted to double (strict CEL has no such overload; KFP's
    // numbers are doubles anyway, so this only ever widens what a compiled condition accepts).
    double x = AsDouble(a), y = AsDouble(b);
    if (op == "+") return x + y;
    if (op == "-") return x - y;
    if (op == "*") return x * y;
    if (op == "/") return x / y;
    return no_overload();  // % is int-only
  }

  Result Call(const Node& node) {
    const std::string& fn = node.name;
    // has() is a macro: its argument is a field selection that is tested, not evaluated.
    if (fn == "has" && !node.target) {
      if (node.args.size() != 1 ||
          (node.args[0]->kind != Node::Kind::kSelect && node.args[0]->kind != Node::Kind::kIndex)) {
        return CelError{node.pos, "has() takes one field selection, e.g. has(a.b)"};
      }
      const Node& select = *node.args[0];
      Result target = Eval(*select.target);
      if (Failed(target)) return target;
      const Json& t = std::get<Json>(target);
      std::string key = select.name;
      if (select.kind == Node::Kind::kIndex) {
        Result k = Eval(*select.args[0]);
        if (Failed(k)) return k;
        if (!std::get<Json>(k).is_string()) return CelError{select.pos, "has() needs a string key"};
        key = std::get<Json>(k).get<std::string>();
      }
      if (!t.is_object()) {
        return CelError{select.pos, "has() cannot test a field of " + TypeName(t)};
      }
      return t.contains(key);
    }

    std::vector<Json> args;
    if (node.target) {
      Result receiver = Eval(*node.target);
      if (Failed(receiver)) return receiver;
      args.push_back(std::move(std::get<Json>(receiver)));
    }
    for (const NodePtr& arg : node.args) {
      Result value = Eval(*arg);
      if (Failed(value)) return value;
      args.push_back(std::move(std::get<Json>(value)));
    }
    auto signature = [&] {
      std::string s = fn + "(";
      for (size_t i = 0; i < args.size(); ++i) s += (i ? ", " : "") + TypeName(args[i]);
      return s + ")";
    };
    auto no_overload = [&] { return CelError{node.pos, "no such overload: " + signature()}; };

    if (args.size() == 1) {
      const Json& v = args[0];
      if (fn == "int") return ToInt(v, node.pos, signature());
      if (fn == "double") {
        if (IsNumber(v)) return AsDouble(v);
        if (v.is_string()) {
          const std::string& s = v.get_ref<const std::string&>();
          double d = 0;
          auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
          if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
            return CelError{node.pos, "cannot convert '" + s + "' to double"};
          }
          return d;
        }
        return no_overload();
      }
      if (fn == "string") {
        if (v.is_string()) return v;
        if (IsInt(v)) return std::to_string(v.get<int64_t>());
        if (v.is_number_float()) return FormatDouble(v.get<double>());
        if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
        return no_overload();
      }
      if (fn == "bool") {
        if (v.is_boolean()) return v;
        if (v.is_string()) {
          const std::string& s = v.get_ref<const std::string&>();
          if (s == "1" || s == "t" || s == "true" || s == "TRUE" || s == "True") return true;
          if (s == "0" || s == "f" || s == "false" || s == "FALSE" || s == "False") return false;
          return CelError{node.pos, "cannot convert '" + s + "' to bool"};
        }
        return no_overload();
      }
      if (fn == "size") {
        if (v.is_string()) return static_cast<int64_t>(Utf8Length(v.get<std::string>()));
        if (v.is_array() || v.is_object()) return static_cast<int64_t>(v.size());
        return no_overload();
      }
      if (fn == "parseJson") {
        if (!v.is_string()) return no_overload();
        Json parsed = Json::parse(v.get<std::string>(), nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded()) return CelError{node.pos, "parseJson: invalid JSON"};
        return parsed;
      }
      if (fn == "dyn") return v;
    }
    if (args.size() == 2 && node.target &&
        (fn == "contains" || fn == "startsWith" || fn == "endsWith" || fn == "matches")) {
      if (!args[0].is_string() || !args[1].is_string()) return no_overload();
      const std::string& s = args[0].get_ref<const std::string&>();
      const std::string& t = args[1].get_ref<const std::string&>();
      if (fn == "contains") return s.find(t) != std::string::npos;
      if (fn == "startsWith") return s.compare(0, t.size(), t) == 0 && s.size() >= t.size();
      if (fn == "endsWith") {
        return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
      }
      // CEL's matches() is a search: the pattern may match any substring.
      try {
        return std::regex_search(s, std::regex(t, std::regex::ECMAScript));
      } catch (const std::regex_error& e) {
        return CelError{node.pos, "invalid regular expression '" + t + "': " + e.what()};
      }
    }
    static constexpr std::string_view kKnown[] = {"int",        "double",    "string",  "bool",
                                                  "size",       "parseJson", "dyn",     "contains",
                                                  "startsWith", "endsWith",  "matches", "has"};
    for (std::string_view known : kKnown) {
      if (fn == known) return no_overload();
    }
    return CelError{node.pos, "undeclared reference to function '" + fn + "'"};
  }

  static Result ToInt(const Json& v, size_t pos, const std::string& signature) {
    if (IsInt(v)) {
      if (v.is_number_unsigned() &&
          v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return CelError{pos, "int overflow"};
      }
      return v.get<int64_t>();
    }
    if (v.is_number_float()) {
      double d = v.get<double>();
      // Bounds as doubles: 2^63 is exactly representable, so compare against it directly.
      if (std::isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
        return CelError{pos, "double " + FormatDouble(d) + " is out of int range"};
      }
      return static_cast<int64_t>(d);  // truncates toward zero, as CEL does
    }
    if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      const char* begin = s.data();
      const char* end = s.data() + s.size();
      if (begin != end && *begin == '+') ++begin;  // Go's ParseInt takes a leading sign
      int64_t i = 0;
      auto [stop, ec] = std::from_chars(begin, end, i);
      if (s.empty() || ec != std::errc() || stop != end || (begin != s.data() && *begin == '-')) {
        return CelError{pos, "cannot convert '" + s + "' to int"};
      }
      return i;
    }
    return CelError{pos, "no such overload: " + signature};
  }

  const Json& bindings_;
};

Status ToStatus(std::string_view expression, const CelError& error) {
  return Status::Invalid("CEL expression `" + std::string(expression) + "`: " + error.message +
                         " (at column " + std::to_string(error.pos + 1) + ")");
}

StatusOr<Json> Run(std::string_view expression, const Json& inputs, const Node** root_out,
                   NodePtr& storage) {
  std::vector<Token> tokens;
  if (auto error = Lexer(expression).Tokenize(tokens)) return ToStatus(expression, *error);
  Parser parser(std::move(tokens));
  storage = parser.ParseAll();
  if (!storage) return ToStatus(expression, *parser.error());
  *root_out = storage.get();
  Result result = Evaluator(inputs).Eval(*storage);
  if (Failed(result)) return ToStatus(expression, std::get<CelError>(result));
  return std::get<Json>(std::move(result));
}

}  // namespace

StatusOr<Json> EvaluateExpression(std::string_view expression, const Json& inputs) {
  const Node* root = nullptr;
  NodePtr storage;
  return Run(expression, inputs, &root, storage);
}

StatusOr<bool> EvaluateCondition(std::string_view expression, const Json& inputs) {
  const Node* root = nullptr;
  NodePtr storage;
  auto value = Run(expression, inputs, &root, storage);
  if (!value.ok()) return value.status();
  if (!value->is_boolean()) {
    return ToStatus(expression, CelError{root->pos, "condition evaluated to " + TypeName(*value) +
                                                        ", not bool"});
  }
  return value->get<bool>();
}

Json SelectorBindings(const Json& value) {
  Json bindings = Json::object();
  bindings["string_value"] = value.is_string() ? value : Json(Dump(value));
  if (value.is_number()) bindings["number_value"] = value;
  if (value.is_boolean()) bindings["bool_value"] = value;
  if (value.is_array()) bindings["list_value"] = value;
  if (value.is_object()) bindings["struct_value"] = value;
  if (value.is_null()) bindings["null_value"] = nullptr;
  return bindings;
}

}  // namespace skiff::pipelines

// V2 and V1 REST encoding and decoding; see codec.h.
#include "serving/codec.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace skiff::serving {
namespace {

namespace od = simdjson::ondemand;

static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING);

constexpr int kMaxDepth = 64;

// Parsers per thread, reused: their buffers grow to the largest document seen and stay. The
// header and the data arrays use separate parsers so a data array can be parsed while strings
// from the header are still in use.
od::parser& HeaderParser() {
  thread_local od::parser parser;
  return parser;
}
od::parser& DataParser() {
  thread_local od::parser parser;
  return parser;
}

Status Bad(std::string message) { return Status::BadRequest(std::move(message)); }

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string JsonError(simdjson::error_code e) {
  return std::string("malformed JSON: ") + simdjson::error_message(e);
}

// Writes the elements of a JSON array (nested or flat) into a tensor's byte layout, parsing each
// number straight into place.
class Filler {
 public:
  Filler(DataType type, int64_t expected, std::string_view tensor, std::string* out)
      : type_(type), size_(DataTypeSize(type)), expected_(expected), tensor_(tensor), out_(out) {
    if (size_ > 0) {
      out_->resize(static_cast<size_t>(expected) * size_);
      dst_ = out_->data();
    }
  }

  // Visits every element of `arr`, recursing into nested arrays. Returns false with error() set.
  bool VisitArray(od::array arr, int depth = 0) {
    if (depth > kMaxDepth) return Fail("data is nested too deeply");
    for (auto child : arr) {
      od::value v;
      if (auto e = child.get(v); e) return Fail(JsonError(e));
      if (!Visit(v, depth + 1)) return false;
    }
    return true;
  }

  // Visits one value: an array (recursively) or a scalar element.
  bool Visit(od::value& v, int depth = 0) {
    od::json_type t;
    if (auto e = v.type().get(t); e) return Fail(JsonError(e));
    if (t == od::json_type::array) {
      od::array inner;
      if (auto e = v.get_array().get(inner); e) return Fail(JsonError(e));
      return VisitArray(inner, depth);
    }
    if (count_ >= expected_) {
      return Fail("data has more elements than shape " + shape_text_ + " holds (" +
                  std::to_string(expected_) + ")");
    }
    if (!Put(v, t)) return false;
    ++count_;
    return true;
  }

  void set_shape_text(std::string s) { shape_text_ = std::move(s); }
  int64_t count() const { return count_; }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string why) {
    if (error_.empty()) error_ = "input " + Quote(tensor_) + ": " + why;
    return false;
  }

  bool TypeError(const char* want) {
    return Fail(std::string("element ") + std::to_string(count_) + " must be " + want + " for " +
                std::string(DataTypeName(type_)));
  }

  bool Range() {
    return Fail("element " + std::to_string(count_) + " is out of range for " +
                std::string(DataTypeName(type_)));
  }

  template <typename T>
  bool PutInt(od::value& v, od::json_type t) {
    if (t != od::json_type::number) return TypeError("an integer");
    od::number_type nt;
    if (v.get_number_type().get(nt)) return TypeError("an integer");
    T out;
    if (nt == od::number_type::signed_integer) {
      int64_t x;
      if (v.get_int64().get(x)) return TypeError("an integer");
      if constexpr (std::is_unsigned_v<T>) {
        if (x < 0 || static_cast<uint64_t>(x) > std::numeric_limits<T>::max()) return Range();
      } else {
        if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return Range();
      }
      out = static_cast<T>(x);
    } else if (nt == od::number_type::unsigned_integer) {
      uint64_t x;
      if (v.get_uint64().get(x)) return TypeError("an integer");
      if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Range();
      out = static_cast<T>(x);
    } else {
      return TypeError("an integer");
    }
    std::memcpy(dst_ + count_ * sizeof(T), &out, sizeof(T));
    return true;
  }

  bool Number(od::value& v, od::json_type t, double* d) {
    if (t != od::json_type::number || v.get_double().get(*d)) return TypeError("a number");
    return true;
  }

  bool Put(od::value& v, od::json_type t) {
    double d;
    switch (type_) {
      case DataType::kBool: {
        bool b;
        if (t != od::json_type::boolean || v.get_bool().get(b)) return TypeError("true or false");
        dst_[count_] = b ? 1 : 0;
        return true;
      }
      case DataType::kUint8:
        return PutInt<uint8_t>(v, t);
      case DataType::kUint16:
        return PutInt<uint16_t>(v, t);
      case DataType::kUint32:
        return PutInt<uint32_t>(v, t);
      case DataType::kUint64:
        return PutInt<uint64_t>(v, t);
      case DataType::kInt8:
        return PutInt<int8_t>(v, t);
      case DataType::kInt16:
        return PutInt<int16_t>(v, t);
      case DataType::kInt32:
        return PutInt<int32_t>(v, t);
      case DataType::kInt64:
        return PutInt<int64_t>(v, t);
      case DataType::kFp32: {
        if (!Number(v, t, &d)) return false;
        float f = static_cast<float>(d);
        std::memcpy(dst_ + count_ * 4, &f, 4);
        return true;
      }
      case DataType::kFp64: {
        if (!Number(v, t, &d)) return false;
        std::memcpy(dst_ + count_ * 8, &d, 8);
        return true;
      }
      case DataType::kFp16:
      case DataType::kBf16: {
        if (!Number(v, t, &d)) return false;
        float f = static_cast<float>(d);
        uint16_t h = type_ == DataType::kFp16 ? FloatToHalf(f) : FloatToBf16(f);
        std::memcpy(dst_ + count_ * 2, &h, 2);
        return true;
      }
      case DataType::kBytes: {
        std::string_view s;
        if (t != od::json_type::string || v.get_string().get(s)) return TypeError("a string");
        uint32_t len = static_cast<uint32_t>(s.size());
        out_->append(reinterpret_cast<const char*>(&len), 4);
        out_->append(s);
        return true;
      }
    }
    return TypeError("a value");
  }

  DataType type_;
  size_t size_;
  int64_t expected_;
  std::string_view tensor_;
  std::string* out_;
  char* dst_ = nullptr;
  int64_t count_ = 0;
  std::string error_;
  std::string shape_text_;
};

// The common case of a numeric tensor in JSON, without a tree: a strict scan of `text` (an array
// of numbers, possibly nested) into `dst`. Returns false at anything else (a string, a bad token,
// a count other than `expected`), and the caller re-parses with simdjson for a precise error.
// Numbers with at most 18 significant digits and a small exponent are exact in double (Clinger's
// fast path); others go through std::from_chars, which rounds correctly.
template <typename F>
bool ScanNumbers(std::string_view text, F* dst, int64_t expected) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = text.data();
  const char* end = p + text.size();
  auto skip_ws = [&] {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  };
  auto digit = [&](const char* q) { return q < end && *q >= '0' && *q <= '9'; };
  int depth = 0;
  int64_t n = 0;
  bool expect_value = true;  // after '[' or ','; false after a value or ']'
  bool after_open = false;   // ']' may follow '[' directly
  while (true) {
    skip_ws();
    if (p == end) return false;
    char c = *p;
    if (expect_value) {
      if (c == '[') {
        if (++depth > kMaxDepth) return false;
        ++p;
        after_open = true;
        continue;
      }
      if (c == ']' && after_open) {
        ++p;
        --depth;
        expect_value = false;
        after_open = false;
        if (depth == 0) break;
        continue;
      }
      if (depth == 0) return false;
      // A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
      const char* start = p;
      bool neg = c == '-';
      if (neg) ++p;
      if (!digit(p)) return false;
      uint64_t m = 0;
      int exp10 = 0;
      bool exact = true;
      if (*p == '0') {
        ++p;
      } else {
        while (digit(p)) {
          if (m < 100000000000000000ULL) {
            m = m * 10 + (*p - '0');
          } else {
            exact = false;
          }
          ++p;
        }
      }
      if (p < end && *p == '.') {
        ++p;
        if (!digit(p)) return false;
        while (digit(p)) {
          if (m < 100000000000000000ULL) {
            m = m * 10 + (*p - '0');
            --exp10;
          } else {
            exact = false;
          }
          ++p;
        }
      }
      if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (!digit(p)) return false;
        int e = 0;
        while (digit(p)) {
          if (e < 10000) e = e * 10 + (*p - '0');
          ++p;
        }
        exp10 += eneg ? -e : e;
      }
      if (n >= expected) return false;
      double v;
      if (exact && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        v = exp10 < 0 ? static_cast<double>(m) / kPow10[-exp10]
                      : static_cast<double>(m) * kPow10[exp10];
        if (neg) v = -v;
      } else {
        auto r = std::from_chars(start, p, v);
        if (r.ec != std::errc() || r.ptr != p) return false;  // out of range: let simdjson say
      }
      dst[n++] = static_cast<F>(v);
      expect_value = false;
      after_open = false;
      continue;
    }
    if (c == ',') {
      ++p;
      expect_value = true;
      continue;
    }
    if (c == ']') {
      ++p;
      if (--depth == 0) break;
      continue;
    }
    return false;
  }
  skip_ws();
  return p == end && n == expected;
}

// Tries ScanNumbers for the floating-point datatypes; true when `t->data` is filled.
bool FastFill(std::string_view text, Tensor* t, int64_t count) {
  switch (t->datatype) {
    case DataType::kFp32:
      t->data.resize(count * 4);
      return ScanNumbers(text, reinterpret_cast<float*>(t->data.data()), count);
    case DataType::kFp64:
      t->data.resize(count * 8);
      return ScanNumbers(text, reinterpret_cast<double*>(t->data.data()), count);
    case DataType::kFp16:
    case DataType::kBf16: {
      std::vector<float> tmp(count);
      if (!ScanNumbers(text, tmp.data(), count)) return false;
      t->data.resize(count * 2);
      for (int64_t i = 0; i < count; ++i) {
        uint16_t h = t->datatype == DataType::kFp16 ? FloatToHalf(tmp[i]) : FloatToBf16(tmp[i]);
        std::memcpy(t->data.data() + 2 * i, &h, 2);
      }
      return true;
    }
    default:
      return false;
  }
}

// Parses `text` (a JSON array inside a buffer readable up to `readable_end`) into `t`.
Status FillFromJson(std::string_view text, const char* readable_end, Tensor* t, int64_t count) {
  if (FastFill(text, t, count)) return Status::Ok();
  od::document doc;
  size_t capacity = static_cast<size_t>(readable_end - text.data());
  if (auto e = DataParser().iterate(text.data(), text.size(), capacity).get(doc); e) {
    return Bad("input " + Quote(t->name) + ": " + JsonError(e));
  }
  od::array arr;
  if (doc.get_array().get(arr)) return Bad("input " + Quote(t->name) + ": data must be an array");
  if (t->datatype == DataType::kBytes) t->data.clear();
  Filler f(t->datatype, count, t->name, &t->data);
  f.set_shape_text(ShapeString(t->shape));
  if (!f.VisitArray(arr)) return Bad(f.error());
  if (f.count() != count) {
    return Bad("input " + Quote(t->name) + ": shape " + ShapeString(t->shape) + " needs " +
               std::to_string(count) + " elements, data has " + std::to_string(f.count()));
  }
  return Status::Ok();
}

StatusOr<std::vector<int64_t>> ParseShape(od::value v, std::string_view tensor) {
  od::array arr;
  if (v.get_array().get(arr)) return Bad("input " + Quote(tensor) + ": shape must be an array");
  std::vector<int64_t> shape;
  for (auto d : arr) {
    int64_t x;
    if (d.get_int64().get(x) || x < 0) {
      return Bad("input " + Quote(tensor) + ": shape must hold non-negative integers");
    }
    shape.push_back(x);
  }
  return shape;
}

// Iterates a "parameters" object, calling fn(key, value) for each entry.
template <typename Fn>
Status ForEachParameter(od::value v, const std::string& where, Fn fn) {
  od::object params;
  if (v.get_object().get(params)) return Bad(where + "\"parameters\" must be an object");
  for (auto field : params) {
    std::string_view key;
    od::value value;
    if (auto e = field.unescaped_key().get(key); e) return Bad(JsonError(e));
    std::string k(key);
    if (auto e = field.value().get(value); e) return Bad(JsonError(e));
    SKIFF_RETURN_IF_ERROR(fn(k, value));
  }
  return Status::Ok();
}

// One input as read from the header: the tensor and where its data comes from.
struct InputSource {
  int64_t binary_size = -1;  // >= 0: binary_data_size
  std::string_view json;     // the raw "data" array otherwise
};

Status ParseInputObject(od::value in, Tensor* t, InputSource* src) {
  od::object obj;
  if (in.get_object().get(obj)) return Bad("each input must be an object");
  bool have_name = false, have_shape = false, have_type = false;
  std::vector<int64_t> shape;
  Status shape_error;
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return Bad(JsonError(e));
    od::value v;
    if (auto e = field.value().get(v); e) return Bad(JsonError(e));
    if (key == "name") {
      std::string_view name;
      if (v.get_string().get(name)) return Bad("an input's \"name\" must be a string");
      t->name = std::string(name);
      have_name = true;
    } else if (key == "shape") {
      // Reported after the name is known.
      auto s = ParseShape(v, "?");
      if (s.ok()) {
        t->shape = std::move(*s);
      } else {
        shape_error = s.status();
      }
      have_shape = true;
    } else if (key == "datatype") {
      std::string_view dt;
      if (v.get_string().get(dt)) return Bad("an input's \"datatype\" must be a string");
      auto type = ParseDataType(dt);
      if (!type) {
        return Bad("input " + Quote(t->name) + ": unknown datatype \"" + std::string(dt) + "\"");
      }
      t->datatype = *type;
      have_type = true;
    } else if (key == "parameters") {
      SKIFF_RETURN_IF_ERROR(ForEachParameter(v, "input: ", [&](const std::string& k, od::value p) {
        if (k != "binary_data_size") return Status::Ok();
        int64_t size;
        if (p.get_int64().get(size) || size < 0) {
          return Bad("binary_data_size must be a non-negative integer");
        }
        src->binary_size = size;
        return Status::Ok();
      }));
    } else if (key == "data") {
      od::array arr;
      if (v.get_array().get(arr)) return Bad("an input's \"data\" must be an array");
      if (auto e = arr.raw_json().get(src->json); e) return Bad(JsonError(e));
    }
  }
  if (!have_name) return Bad("an input has no \"name\"");
  if (!have_shape) return Bad("input " + Quote(t->name) + " has no \"shape\"");
  if (!shape_error.ok()) {
    return Bad("input " + Quote(t->name) + ": shape must be an array of non-negative integers");
  }
  if (!have_type) return Bad("input " + Quote(t->name) + " has no \"datatype\"");
  if (src->binary_size < 0 && src->json.empty()) {
    return Bad("input " + Quote(t->name) + " has neither \"data\" nor binary_data_size");
  }
  if (src->binary_size >= 0 && !src->json.empty()) {
    return Bad("input " + Quote(t->name) + " has both \"data\" and binary_data_size");
  }
  return Status::Ok();
}

Status ParseJsonHeader(std::string_view json, const char* readable_end, V2Request* out,
                       std::vector<InputSource>* sources) {
  od::document doc;
  size_t capacity = static_cast<size_t>(readable_end - json.data());
  if (auto e = HeaderParser().iterate(json.data(), json.size(), capacity).get(doc); e) {
    return Bad("the inference request is not JSON: " + std::string(simdjson::error_message(e)));
  }
  od::object root;
  if (auto e = doc.get_object().get(root); e) {
    return Bad("the inference request must be a JSON object (" +
               std::string(simdjson::error_message(e)) + ")");
  }
  bool have_inputs = false;
  for (auto field : root) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e) return Bad(JsonError(e));
    od::value value;
    if (auto e = field.value().get(value); e) return Bad(JsonError(e));
    if (key == "id") {
      std::string_view id;
      if (value.get_string().get(id)) return Bad("\"id\" must be a string");
      out->id = std::string(id);
    } else if (key == "parameters") {
      SKIFF_RETURN_IF_ERROR(ForEachParameter(value, "", [&](const std::string& k, od::value p) {
        if (k != "binary_data_output") return Status::Ok();
        bool b;
        if (p.get_bool().get(b)) return Bad("binary_data_output must be true or false");
        out->binary_data_output = b;
        return Status::Ok();
      }));
    } else if (key == "inputs") {
      od::array inputs;
      if (value.get_array().get(inputs)) return Bad("\"inputs\" must be an array");
      have_inputs = true;
      for (auto in : inputs) {
        od::value v;
        if (auto e = in.get(v); e) return Bad(JsonError(e));
        Tensor t;
        InputSource src;
        SKIFF_RETURN_IF_ERROR(ParseInputObject(v, &t, &src));
        out->inputs.push_back(std::move(t));
        sources->push_back(src);
      }
    } else if (key == "outputs") {
      od::array outputs;
      if (value.get_array().get(outputs)) return Bad("\"outputs\" must be an array");
      for (auto o : outputs) {
        od::object obj;
        if (o.get_object().get(obj)) return Bad("each output must be an object");
        RequestedOutput r;
        bool have_name = false;
        for (auto field2 : obj) {
          std::string_view k;
          od::value v;
          if (auto e = field2.unescaped_key().get(k); e) return Bad(JsonError(e));
          if (auto e = field2.value().get(v); e) return Bad(JsonError(e));
          if (k == "name") {
            std::string_view name;
            if (v.get_string().get(name)) return Bad("an output's \"name\" must be a string");
            r.name = std::string(name);
            have_name = true;
          } else if (k == "parameters") {
            SKIFF_RETURN_IF_ERROR(
                ForEachParameter(v, "output: ", [&](const std::string& pk, od::value p) {
                  if (pk != "binary_data") return Status::Ok();
                  bool b;
                  if (p.get_bool().get(b)) return Bad("binary_data must be true or false");
                  r.binary = b;
                  return Status::Ok();
                }));
          }
        }
        if (!have_name) return Bad("each output needs a \"name\"");
        out->outputs.push_back(std::move(r));
      }
    }
  }
  // Everything after the root object must be whitespace.
  const char* end = nullptr;
  if (doc.current_location().get(end) == simdjson::SUCCESS) {
    return Bad("the inference request has content after its JSON object");
  }
  if (!have_inputs || out->inputs.empty()) return Bad("the inference request has no \"inputs\"");
  return Status::Ok();
}

// Shortest round-trip text for floats; JSON has no NaN or infinities, so these are written the
// way Python's json module reads and writes them.
template <typename F>
void AppendFloat(std::string* out, F v) {
  if (std::isnan(v)) {
    *out += "NaN";
  } else if (std::isinf(v)) {
    *out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr - buf);
  }
}

template <typename I>
void AppendInt(std::string* out, I v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr - buf);
}

// Writes the elements of a tensor one after another as JSON values.
class ElementWriter {
 public:
  explicit ElementWriter(const Tensor& t) : t_(t), p_(t.data.data()) {}
  void Next(std::string* out) {
    switch (t_.datatype) {
      case DataType::kBool:
        *out += *p_ ? "true" : "false";
        p_ += 1;
        return;
      case DataType::kUint8:
        AppendInt(out, Load<uint8_t>());
        return;
      case DataType::kUint16:
        AppendInt(out, Load<uint16_t>());
        return;
      case DataType::kUint32:
        AppendInt(out, Load<uint32_t>());
        return;
      case DataType::kUint64:
        AppendInt(out, Load<uint64_t>());
        return;
      case DataType::kInt8:
        AppendInt(out, Load<int8_t>());
        return;
      case DataType::kInt16:
        AppendInt(out, Load<int16_t>());
        return;
      case DataType::kInt32:
        AppendInt(out, Load<int32_t>());
        return;
      case DataType::kInt64:
        AppendInt(out, Load<int64_t>());
        return;
      case DataType::kFp16:
        AppendFloat(out, HalfToFloat(Load<uint16_t>()));
        return;
      case DataType::kBf16:
        AppendFloat(out, Bf16ToFloat(Load<uint16_t>()));
        return;
      case DataType::kFp32:
        AppendFloat(out, Load<float>());
        return;
      case DataType::kFp64:
        AppendFloat(out, Load<double>());
        return;
      case DataType::kBytes: {
        uint32_t len = Load<uint32_t>();
        AppendJsonString(out, std::string_view(p_, len));
        p_ += len;
        return;
      }
    }
  }
  // Writes the next elements nested as dims[d...].
  void Nested(std::string* out, const std::vector<int64_t>& dims, size_t d) {
    if (d == dims.size()) return Next(out);
    *out += '[';
    for (int64_t i = 0; i < dims[d]; ++i) {
      if (i) *out += ',';
      Nested(out, dims, d + 1);
    }
    *out += ']';
  }

 private:
  template <typename T>
  T Load() {
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  const Tensor& t_;
  const char* p_;
};

void AppendShape(std::string* out, const std::vector<int64_t>& shape) {
  *out += '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) *out += ',';
    AppendInt(out, shape[i]);
  }
  *out += ']';
}

// Byte size the binary extension requires for `t`'s shape and datatype (BYTES: -1, checked by
// walking the lengths instead).
int64_t ExpectedBytes(const Tensor& t) {
  int64_t n = ElementCount(t.shape);
  if (n < 0 || t.datatype == DataType::kBytes) return -1;
  return n * static_cast<int64_t>(DataTypeSize(t.datatype));
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  *out += '"';
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        *out += buf;
      }
    }
  }
  out->append(s.data() + start, s.size() - start);
  *out += '"';
}

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(&out, message);
  out += '}';
  return out;
}

Status ParseV2Request(std::string_view body, std::optional<size_t> json_length, V2Request* out) {
  size_t json_len = json_length.value_or(body.size());
  if (json_len > body.size()) {
    return Bad("Inference-Header-Content-Length " + std::to_string(json_len) +
               " exceeds the body (" + std::to_string(body.size()) + " bytes)");
  }
  const char* readable_end = body.data() + body.size() + kJsonPadding;
  std::vector<InputSource> sources;
  SKIFF_RETURN_IF_ERROR(ParseJsonHeader(body.substr(0, json_len), readable_end, out, &sources));
  std::string_view binary = body.substr(json_len);
  for (size_t i = 0; i < out->inputs.size(); ++i) {
    Tensor& t = out->inputs[i];
    int64_t count = ElementCount(t.shape);
    if (count < 0) return Bad("input " + Quote(t.name) + ": shape is too large");
    const InputSource& src = sources[i];
    if (src.binary_size < 0) {
      SKIFF_RETURN_IF_ERROR(FillFromJson(src.json, readable_end, &t, count));
      continue;
    }
    int64_t size = src.binary_size;
    if (static_cast<size_t>(size) > binary.size()) {
      return Bad("input " + Quote(t.name) + ": binary_data_size " + std::to_string(size) +
                 " runs past the end of the body");
    }
    t.data.assign(binary.data(), size);
    binary.remove_prefix(size);
    int64_t expected = ExpectedBytes(t);
    if (t.datatype == DataType::kBytes) {
      int64_t n = CountBytesElements(t.data);
      if (n != count) {
        return Bad("input " + Quote(t.name) + ": binary BYTES data holds " +
                   (n < 0 ? std::string("malformed lengths") : std::to_string(n) + " elements") +
                   ", shape " + ShapeString(t.shape) + " needs " + std::to_string(count));
      }
    } else if (expected != size) {
      return Bad("input " + Quote(t.name) + ": binary_data_size is " + std::to_string(size) +
                 " bytes, shape " + ShapeString(t.shape) + " of " +
                 std::string(DataTypeName(t.datatype)) + " needs " + std::to_string(expected));
    }
  }
  if (!binary.empty()) {
    return Bad(std::to_string(binary.size()) +
               " bytes of binary data after the last input's binary_data_size");
  }
  return Status::Ok();
}

Status ParseRawBinaryRequest(std::string_view body, const ModelMetadata& meta, V2Request* out) {
  if (meta.inputs.size() != 1) {
    return Bad(
        "a raw binary request (Inference-Header-Content-Length: 0) needs a model with one "
        "input; " +
        meta.name + " has " + std::to_string(meta.inputs.size()));
  }
  const TensorSpec& spec = meta.inputs[0];
  Tensor t;
  t.name = spec.name;
  t.datatype = spec.datatype;
  t.shape = spec.shape;
  if (meta.batchable && !t.shape.empty()) t.shape[0] = 1;
  t.data.assign(body.data(), body.size());
  if (spec.datatype == DataType::kBytes) {
    if (t.shape != std::vector<int64_t>{1}) {
      return Bad("a raw binary BYTES request needs the input shape [1]");
    }
    t.data.clear();
    uint32_t len = static_cast<uint32_t>(body.size());
    t.data.append(reinterpret_cast<const char*>(&len), 4);
    t.data.append(body);
  } else {
    int variable = 0;
    int64_t known = static_cast<int64_t>(DataTypeSize(spec.datatype));
    for (int64_t d : t.shape) {
      if (d < 0) {
        ++variable;
      } else {
        known *= d;
      }
    }
    if (variable > 1) {
      return Bad("a raw binary request needs an input with at most one variable dimension");
    }
    int64_t size = static_cast<int64_t>(body.size());
    if (known == 0 || size % known != 0 || (variable == 0 && size != known)) {
      return Bad("raw binary input of " + std::to_string(size) + " bytes does not fit shape " +
                 ShapeString(spec.shape) + " of " + std::string(DataTypeName(spec.datatype)));
    }
    for (auto& d : t.shape) {
      if (d < 0) d = size / known;
    }
  }
  out->inputs.push_back(std::move(t));
  out->binary_data_output = true;
  return Status::Ok();
}

Status BindInputs(const ModelMetadata& meta, std::vector<Tensor>&& given,
                  std::vector<Tensor>* ordered, int64_t* rows) {
  ordered->clear();
  ordered->resize(meta.inputs.size());
  std::vector<bool> seen(meta.inputs.size(), false);
  for (Tensor& t : given) {
    size_t i = 0;
    while (i < meta.inputs.size() && meta.inputs[i].name != t.name) ++i;
    if (i == meta.inputs.size()) {
      std::string names;
      for (const auto& s : meta.inputs) names += (names.empty() ? "" : ", ") + Quote(s.name);
      return Bad("unexpected inference input " + Quote(t.name) + " for model " + Quote(meta.name) +
                 " (inputs: " + names + ")");
    }
    if (seen[i]) return Bad("input " + Quote(t.name) + " is given twice");
    seen[i] = true;
    const TensorSpec& spec = meta.inputs[i];
    if (t.datatype != spec.datatype) {
      return Bad("input " + Quote(t.name) + ": datatype " + std::string(DataTypeName(t.datatype)) +
                 " does not match the model's " + std::string(DataTypeName(spec.datatype)));
    }
    bool ok = t.shape.size() == spec.shape.size();
    for (size_t d = 0; ok && d < spec.shape.size(); ++d) {
      ok = spec.shape[d] < 0 || spec.shape[d] == t.shape[d];
    }
    if (!ok) {
      return Bad("input " + Quote(t.name) + ": shape " + ShapeString(t.shape) +
                 " does not match the model's " + ShapeString(spec.shape));
    }
    (*ordered)[i] = std::move(t);
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) return Bad("missing inference input " + Quote(meta.inputs[i].name));
  }
  *rows = 1;
  if (meta.batchable) {
    *rows = (*ordered)[0].shape[0];
    for (const auto& t : *ordered) {
      if (t.shape[0] != *rows) {
        return Bad("inputs disagree on the batch size (dimension 0): " + std::to_string(*rows) +
                   " vs " + std::to_string(t.shape[0]));
      }
    }
    if (*rows == 0) return Bad("the batch size (dimension 0) must be at least 1");
  }
  return Status::Ok();
}

Status CheckRequestedOutputs(const ModelMetadata& meta, const std::vector<RequestedOutput>& out) {
  for (const auto& r : out) {
    bool found = false;
    for (const auto& s : meta.outputs) found = found || s.name == r.name;
    if (!found) {
      return Bad("unknown output " + Quote(r.name) + " requested from model " + Quote(meta.name));
    }
  }
  return Status::Ok();
}

void EncodeV2Response(const ModelMetadata& meta, const std::optional<std::string>& id,
                      const std::vector<Tensor>& outputs,
                      const std::vector<RequestedOutput>& requested, bool binary_default,
                      EncodedResponse* out) {
  std::string& j = out->body;
  j.reserve(256);
  j += "{\"model_name\":";
  AppendJsonString(&j, meta.name);
  j += ",\"model_version\":";
  AppendJsonString(&j, meta.version);
  if (id) {
    j += ",\"id\":";
    AppendJsonString(&j, *id);
  }
  j += ",\"outputs\":[";
  std::vector<const Tensor*> binary;
  auto emit = [&](const Tensor& t, bool as_binary) {
    if (j.back() != '[') j += ',';
    j += "{\"name\":";
    AppendJsonString(&j, t.name);
    j += ",\"datatype\":\"";
    j += DataTypeName(t.datatype);
    j += "\",\"shape\":";
    AppendShape(&j, t.shape);
    if (as_binary) {
      j += ",\"parameters\":{\"binary_data_size\":";
      AppendInt(&j, t.data.size());
      j += "}}";
      binary.push_back(&t);
      return;
    }
    j += ",\"data\":[";
    int64_t n = ElementCount(t.shape);
    ElementWriter w(t);
    for (int64_t i = 0; i < n; ++i) {
      if (i) j += ',';
      w.Next(&j);
    }
    j += "]}";
  };
  if (requested.empty()) {
    for (const auto& t : outputs) emit(t, binary_default);
  } else {
    for (const auto& r : requested) {
      for (const auto& t : outputs) {
        if (t.name == r.name) emit(t, r.binary.value_or(binary_default));
      }
    }
  }
  j += "]}";
  out->binary = !binary.empty();
  out->json_length = j.size();
  for (const Tensor* t : binary) j += t->data;
}

namespace {

// Counts the scalar elements of the first element of `instances_json` (a JSON array).
StatusOr<int64_t> CountFirstInstance(std::string_view instances_json, const char* readable_end) {
  od::document doc;
  size_t capacity = static_cast<size_t>(readable_end - instances_json.data());
  if (auto e =
          DataParser().iterate(instances_json.data(), instances_json.size(), capacity).get(doc);
      e) {
    return Bad(JsonError(e));
  }
  od::array arr;
  if (doc.get_array().get(arr)) return Bad("\"instances\" must be an array");
  for (auto first : arr) {
    od::value v;
    if (auto e = first.get(v); e) return Bad(JsonError(e));
    od::json_type t;
    if (auto e = v.type().get(t); e) return Bad(JsonError(e));
    if (t != od::json_type::array) return 1;
    std::string_view raw;
    od::array inner;
    if (v.get_array().get(inner) || inner.raw_json().get(raw)) return Bad("malformed instance");
    // Scalars in `raw`: anything that is not structure; strings would not count right, but a
    // model input with a variable dimension and BYTES elements is refused before this.
    int64_t n = 0;
    bool in_token = false;
    for (char c : raw) {
      bool structural =
          c == '[' || c == ']' || c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (!structural && !in_token) ++n;
      in_token = !structural;
    }
    return n;
  }
  return Bad("\"instances\" is empty");
}

}  // namespace

Status ParseV1Request(std::string_view body, const ModelMetadata& meta, Tensor* input,
                      int64_t* rows) {
  if (meta.inputs.size() != 1) {
    return Bad("the V1 protocol serves models with one input; " + Quote(meta.name) + " has " +
               std::to_string(meta.inputs.size()) + " (use /v2/models/" + meta.name + "/infer)");
  }
  const TensorSpec& spec = meta.inputs[0];
  if (!meta.batchable) {
    return Bad("the V1 protocol needs a model whose inputs are batched along dimension 0");
  }
  const char* readable_end = body.data() + body.size() + kJsonPadding;
  od::document doc;
  if (auto e =
          HeaderParser().iterate(body.data(), body.size(), readable_end - body.data()).get(doc);
      e) {
    return Bad("the request is not JSON: " + std::string(simdjson::error_message(e)));
  }
  od::object root;
  if (doc.get_object().get(root)) return Bad("the V1 request must be a JSON object");
  std::string_view instances_json;
  for (auto field : root) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return Bad("malformed JSON");
    if (key != "instances") continue;
    od::array arr;
    if (v.get_array().get(arr)) return Bad("\"instances\" must be an array");
    if (auto e = arr.raw_json().get(instances_json); e) return Bad(JsonError(e));
  }
  const char* end = nullptr;
  if (doc.current_location().get(end) == simdjson::SUCCESS) {
    return Bad("the request has content after its JSON object");
  }
  if (instances_json.empty()) return Bad("the V1 request needs an \"instances\" array");
  std::vector<int64_t> inner(spec.shape.begin() + 1, spec.shape.end());
  int64_t known = 1;
  int variable = 0;
  for (int64_t d : inner) {
    if (d < 0) {
      ++variable;
    } else {
      known *= d;
    }
  }
  if (variable > 1 || (variable == 1 && spec.datatype == DataType::kBytes)) {
    return Bad(
        "the V1 protocol needs an input with at most one variable dimension besides the "
        "batch (and none for BYTES); " +
        Quote(meta.name) + " declares " + ShapeString(spec.shape));
  }
  int64_t per_row = known;
  if (variable == 1) {
    auto count = CountFirstInstance(instances_json, readable_end);
    if (!count.ok()) return count.status();
    if (known == 0 || *count % known != 0) {
      return Bad("instance 0 has " + std::to_string(*count) + " elements, not a multiple of " +
                 std::to_string(known) + " for shape " + ShapeString(spec.shape));
    }
    per_row = *count;
    for (auto& d : inner) {
      if (d < 0) d = *count / known;
    }
  }
  od::document data;
  if (auto e = DataParser()
                   .iterate(instances_json.data(), instances_json.size(),
                            readable_end - instances_json.data())
                   .get(data);
      e) {
    return Bad(JsonError(e));
  }
  od::array instances;
  if (data.get_array().get(instances)) return Bad("\"instances\" must be an array");
  int64_t n = 0;
  for (auto inst : instances) {
    od::value v;
    if (auto e = inst.get(v); e) return Bad(JsonError(e));
    (void)v;
    ++n;
  }
  if (n == 0) return Bad("\"instances\" is empty");
  // Second pass: fill, checking each instance's element count.
  if (auto e = DataParser()
                   .iterate(instances_json.data(), instances_json.size(),
                            readable_end - instances_json.data())
                   .get(data);
      e) {
    return Bad(JsonError(e));
  }
  if (data.get_array().get(instances)) return Bad("\"instances\" must be an array");
  input->name = spec.name;
  input->datatype = spec.datatype;
  input->shape = {n};
  input->shape.insert(input->shape.end(), inner.begin(), inner.end());
  Filler f(spec.datatype, per_row * n, spec.name, &input->data);
  f.set_shape_text(ShapeString(input->shape));
  int64_t i = 0;
  for (auto inst : instances) {
    od::value v;
    if (auto e = inst.get(v); e) return Bad(JsonError(e));
    if (!f.Visit(v)) return Bad(f.error());
    ++i;
    if (f.count() != per_row * i) {
      return Bad("instance " + std::to_string(i - 1) + " has " +
                 std::to_string(f.count() - per_row * (i - 1)) + " elements; the model's input " +
                 ShapeString(spec.shape) + " needs " + std::to_string(per_row) + " per instance");
    }
  }
  *rows = n;
  return Status::Ok();
}

std::string EncodeV1Response(const std::vector<Tensor>& outputs) {
  std::string j = "{\"predictions\":[";
  if (outputs.empty() || outputs[0].shape.empty()) return j + "]}";
  int64_t rows = outputs[0].shape[0];
  std::vector<ElementWriter> writers;
  for (const auto& t : outputs) writers.emplace_back(t);
  for (int64_t r = 0; r < rows; ++r) {
    if (r) j += ',';
    if (outputs.size() == 1) {
      std::vector<int64_t> inner(outputs[0].shape.begin() + 1, outputs[0].shape.end());
      writers[0].Nested(&j, inner, 0);
      continue;
    }
    j += '{';
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (o) j += ',';
      AppendJsonString(&j, outputs[o].name);
      j += ':';
      std::vector<int64_t> inner(outputs[o].shape.begin() + 1, outputs[o].shape.end());
      writers[o].Nested(&j, inner, 0);
    }
    j += '}';
  }
  return j + "]}";
}

}  // namespace skiff::serving

#include "apiserver/protobuf.h"

#include <cstring>
#include <ctime>
#include <map>
#include <sstream>

#include "common/encoding.h"
#include "common/log.h"

namespace skiff::apiserver {

// ---- wire format ----

bool ProtoReader::ReadVarint(uint64_t* out) {
  *out = 0;
  for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
    uint8_t b = static_cast<uint8_t>(data_[pos_++]);
    *out |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool ProtoReader::Next(ProtoField* field) {
  if (!ok_ || pos_ >= data_.size()) return false;
  uint64_t key;
  if (!ReadVarint(&key)) return Fail();
  field->number = static_cast<uint32_t>(key >> 3);
  field->wire_type = static_cast<uint32_t>(key & 7);
  field->value = 0;
  field->bytes = {};
  if (field->number == 0) return Fail();
  switch (field->wire_type) {
    case 0:
      return ReadVarint(&field->value) || Fail();
    case 2: {
      uint64_t len;
      if (!ReadVarint(&len) || len > data_.size() - pos_) return Fail();
      field->bytes = data_.substr(pos_, len);
      pos_ += len;
      return true;
    }
    case 1:
    case 5: {
      size_t width = field->wire_type == 1 ? 8 : 4;
      if (data_.size() - pos_ < width) return Fail();
      for (size_t i = 0; i < width; ++i) {
        field->value |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
      }
      pos_ += width;
      return true;
    }
    default:  // Groups (3, 4) are proto1-era and never used by Kubernetes.
      return Fail();
  }
}

StatusOr<ProtoEnvelope> ParseProtoEnvelope(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) {
    return Status::BadRequest("protobuf body lacks the Kubernetes \"k8s\\0\" envelope");
  }
  ProtoEnvelope env;
  ProtoReader r(body.substr(4));
  ProtoField f;
  while (r.Next(&f)) {
    if (f.wire_type != 2) continue;
    switch (f.number) {
      case 1: {  // runtime.TypeMeta
        ProtoReader tm(f.bytes);
        ProtoField t;
        while (tm.Next(&t)) {
          if (t.wire_type != 2) continue;
          if (t.number == 1) env.api_version = std::string(t.bytes);
          if (t.number == 2) env.kind = std::string(t.bytes);
        }
        if (!tm.ok()) return Status::BadRequest("malformed protobuf envelope type metadata");
        break;
      }
      case 2:
        env.raw = f.bytes;
        break;
      case 3:
        env.content_encoding = std::string(f.bytes);
        break;
      case 4:
        env.content_type = std::string(f.bytes);
        break;
    }
  }
  if (!r.ok()) return Status::BadRequest("malformed protobuf envelope");
  return env;
}

// ---- the message table, parsed ----

namespace {

enum class Type {
  kString,
  kInt32,
  kInt64,
  kBool,
  kBytes,
  kDouble,
  kTime,
  kQuantity,
  kIntOrString,
  kRawExtension,
  kFieldsV1,
  kMessage,
};

struct FieldDef {
  std::string json;  // Empty for an inlined embedded struct.
  Type type = Type::kString;
  std::string message;  // For kMessage.
  bool repeated = false;
  bool map = false;
  bool keep_zero = false;
};

struct MessageDef {
  std::string api_group;
  std::map<uint32_t, FieldDef> fields;
};

struct Table {
  std::map<std::string, MessageDef, std::less<>> messages;
  std::vector<std::string> problems;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

Type ParseType(std::string_view name, std::string* message) {
  static const std::map<std::string_view, Type> kTypes = {
      {"string", Type::kString},
      {"int32", Type::kInt32},
      {"int64", Type::kInt64},
      {"bool", Type::kBool},
      {"bytes", Type::kBytes},
      {"double", Type::kDouble},
      {"Time", Type::kTime},
      {"Quantity", Type::kQuantity},
      {"IntOrString", Type::kIntOrString},
      {"RawExtension", Type::kRawExtension},
      {"FieldsV1", Type::kFieldsV1},
  };
  auto it = kTypes.find(name);
  if (it != kTypes.end()) return it->second;
  *message = std::string(name);
  return Type::kMessage;
}

// Parses "NUMBER jsonName TYPE" (see ProtoMessageDef); appends to `problems` on bad syntax.
void ParseField(std::string_view owner, std::string_view text, MessageDef* def,
                std::vector<std::string>* problems) {
  std::istringstream in{std::string(text)};
  uint32_t number = 0;
  std::string json, type;
  if (!(in >> number >> json >> type) || number == 0) {
    problems->push_back(std::string(owner) + ": bad field \"" + std::string(text) + "\"");
    return;
  }
  FieldDef f;
  f.json = json == "-" ? "" : json;
  std::string_view t = type;
  if (!t.empty() && t.back() == '*') {
    f.keep_zero = true;
    t.remove_suffix(1);
  }
  if (t.substr(0, 2) == "[]") {
    f.repeated = true;
    t.remove_prefix(2);
  } else if (t.substr(0, 4) == "map<" && t.back() == '>') {
    f.map = true;
    t = t.substr(4, t.size() - 5);
  }
  f.type = ParseType(t, &f.message);
  if (!def->fields.emplace(number, std::move(f)).second) {
    problems->push_back(std::string(owner) + ": field " + std::to_string(number) + " twice");
  }
}

const Table& GetTable() {
  static const Table* table = [] {
    auto* t = new Table;
    for (const ProtoMessageDef& m : ProtoMessageTable()) {
      MessageDef def;
      def.api_group = std::string(m.api_group);
      std::string_view rest = m.fields;
      while (!rest.empty()) {
        size_t semi = rest.find(';');
        std::string_view one = Trim(rest.substr(0, semi));
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        if (!one.empty()) ParseField(m.name, one, &def, &t->problems);
      }
      if (!t->messages.emplace(std::string(m.name), std::move(def)).second) {
        t->problems.push_back(std::string(m.name) + " defined twice");
      }
    }
    for (const auto& [name, def] : t->messages) {
      for (const auto& [num, f] : def.fields) {
        if (f.type == Type::kMessage && !t->messages.count(f.message)) {
          t->problems.push_back(name + "." + std::to_string(num) + ": no message " + f.message);
        }
        if (f.json.empty() && (f.type != Type::kMessage || f.repeated || f.map)) {
          t->problems.push_back(name + "." + std::to_string(num) + ": only messages inline");
        }
      }
    }
    return t;
  }();
  return *table;
}

// ---- decoding ----

constexpr int kMaxDepth = 64;

Status Malformed(std::string_view message) {
  return Status::BadRequest("malformed protobuf body in " + std::string(message));
}

// RFC 3339 in UTC at second precision, as metav1.Time marshals to JSON.
std::string FormatTime(int64_t seconds) {
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool IsVarintType(Type t) { return t == Type::kInt32 || t == Type::kInt64 || t == Type::kBool; }

uint32_t WireTypeOf(Type t) {
  if (IsVarintType(t)) return 0;
  if (t == Type::kDouble) return 1;
  return 2;
}

StatusOr<Json> DecodeMessage(const MessageDef& def, std::string_view name, std::string_view raw,
                             int depth);

// The length-delimited field `number` of `raw` (the last one, as protobuf merges), or empty;
// `varint` receives the field's value when it is a varint instead.
std::string_view SubField(std::string_view raw, uint32_t number, uint64_t* varint = nullptr) {
  ProtoReader r(raw);
  ProtoField f;
  std::string_view out;
  while (r.Next(&f)) {
    if (f.number != number) continue;
    if (f.wire_type == 2) out = f.bytes;
    if (f.wire_type == 0 && varint) *varint = f.value;
  }
  return out;
}

// Decodes one value of `f`'s type from wire field `w`. Sets `*zero` when Go would see the zero
// value (omitted under omitempty).
StatusOr<Json> DecodeValue(const FieldDef& f, const ProtoField& w, int depth, bool* zero) {
  *zero = false;
  switch (f.type) {
    case Type::kString:
      *zero = w.bytes.empty();
      return Json(std::string(w.bytes));
    case Type::kBytes:
      *zero = w.bytes.empty();
      return Json(Base64Encode(w.bytes));
    case Type::kInt32: {
      int32_t v = static_cast<int32_t>(static_cast<uint32_t>(w.value));
      *zero = v == 0;
      return Json(v);
    }
    case Type::kInt64: {
      int64_t v = static_cast<int64_t>(w.value);
      *zero = v == 0;
      return Json(v);
    }
    case Type::kBool:
      *zero = w.value == 0;
      return Json(w.value != 0);
    case Type::kDouble: {
      double d;
      std::memcpy(&d, &w.value, sizeof d);
      *zero = d == 0;
      return Json(d);
    }
    case Type::kTime: {
      uint64_t seconds = 0, nanos = 0;
      ProtoReader r(w.bytes);
      ProtoField t;
      while (r.Next(&t)) {
        if (t.number == 1 && t.wire_type == 0) seconds = t.value;
        if (t.number == 2 && t.wire_type == 0) nanos = t.value;
      }
      if (!r.ok()) return Malformed("Time");
      // metav1.Time marshals at second precision, so nanos only matter for telling zero apart.
      // The zero time marshals as null (kubectl's JSON bodies carry `creationTimestamp: null`);
      // null rather than absent keeps protobuf- and JSON-created objects identical.
      if (seconds == 0 && nanos == 0) return Json(nullptr);
      return Json(FormatTime(static_cast<int64_t>(seconds)));
    }
    case Type::kQuantity: {
      // A zero resource.Quantity marshals as "0".
      std::string s(SubField(w.bytes, 1));
      return Json(s.empty() ? "0" : s);
    }
    case Type::kIntOrString: {
      uint64_t kind = 0, int_val = 0;
      SubField(w.bytes, 1, &kind);
      SubField(w.bytes, 2, &int_val);
      if (kind == 1) return Json(std::string(SubField(w.bytes, 3)));
      return Json(static_cast<int32_t>(static_cast<uint32_t>(int_val)));
    }
    case Type::kRawExtension:
    case Type::kFieldsV1: {
      std::string_view raw = SubField(w.bytes, 1);
      if (raw.empty()) {
        *zero = true;
        return Json(nullptr);
      }
      StatusOr<Json> j = ParseJson(raw);
      if (!j.ok())
        return Status::BadRequest("protobuf body holds an embedded object that is not JSON");
      return j;
    }
    case Type::kMessage: {
      const Table& table = GetTable();
      auto it = table.messages.find(f.message);
      if (it == table.messages.end()) return Json(nullptr);  // ProtoTableProblems reports it.
      // Go's encoding/json never omits a struct, empty or not; gogo-protobuf writes non-pointer
      // structs even when empty, pointer ones only when set. So presence decides.
      return DecodeMessage(it->second, f.message, w.bytes, depth + 1);
    }
  }
  return Json(nullptr);
}

// A map entry is a message {key = 1, value = 2}.
Status DecodeMapEntry(const FieldDef& f, std::string_view entry, int depth, Json* out) {
  std::string key;
  ProtoField value;
  value.number = 2;
  value.wire_type = WireTypeOf(f.type);
  ProtoReader r(entry);
  ProtoField e;
  while (r.Next(&e)) {
    if (e.number == 1 && e.wire_type == 2) key = std::string(e.bytes);
    if (e.number == 2) {
      if (e.wire_type != value.wire_type) return Malformed(f.json);
      value = e;
    }
  }
  if (!r.ok()) return Malformed(f.json);
  bool zero;
  StatusOr<Json> v = DecodeValue(f, value, depth, &zero);
  if (!v.ok()) return v.status();
  // Map values are kept even when empty: `data: {a: ""}` means something.
  if (!out->is_object()) *out = Json::object();
  (*out)[key] = std::move(*v);
  return Status::Ok();
}

StatusOr<Json> DecodeMessage(const MessageDef& def, std::string_view name, std::string_view raw,
                             int depth) {
  if (depth > kMaxDepth) return Status::BadRequest("protobuf body nests too deeply");
  Json out = Json::object();
  ProtoReader r(raw);
  ProtoField w;
  while (r.Next(&w)) {
    auto it = def.fields.find(w.number);
    if (it == def.fields.end()) {
      // Newer than the table, or not modelled (e.g. a status the server owns): dropped, as an
      // API server drops unknown JSON fields.
      SKIFF_LOG(Debug) << "protobuf: dropping field " << w.number << " of " << name;
      continue;
    }
    const FieldDef& f = it->second;
    if (f.map) {
      if (w.wire_type != 2) return Malformed(name);
      Status s = DecodeMapEntry(f, w.bytes, depth, &out[f.json]);
      if (!s.ok()) return s;
      continue;
    }
    if (f.repeated && w.wire_type == 2 && IsVarintType(f.type)) {
      // A packed repeated scalar: proto3 writers pack; gogo's proto2 output does not.
      Json& list = out[f.json];
      if (!list.is_array()) list = Json::array();
      ProtoReader packed(w.bytes);
      ProtoField e;  // Each element, as if it were an unpacked varint field.
      while (packed.NextPackedVarint(&e.value)) {
        bool zero;
        StatusOr<Json> j = DecodeValue(f, e, depth, &zero);
        if (!j.ok()) return j.status();
        list.push_back(std::move(*j));
      }
      if (!packed.ok()) return Malformed(name);
      continue;
    }
    if (w.wire_type != WireTypeOf(f.type)) {
      return Status::BadRequest("protobuf body: field " + std::to_string(w.number) + " of " +
                                std::string(name) + " has wire type " +
                                std::to_string(w.wire_type));
    }
    bool zero;
    StatusOr<Json> v = DecodeValue(f, w, depth, &zero);
    if (!v.ok()) return v.status();
    if (f.repeated) {
      Json& list = out[f.json];
      if (!list.is_array()) list = Json::array();
      list.push_back(std::move(*v));
    } else if (f.json.empty()) {
      // An embedded Go struct: its fields appear at this level in JSON.
      for (auto& [k, val] : v->items()) out[k] = std::move(val);
    } else if (zero && !f.keep_zero) {
      out.erase(f.json);
    } else {
      out[f.json] = std::move(*v);
    }
  }
  if (!r.ok()) return Malformed(name);
  return out;
}

}  // namespace

bool HasProtoMessage(std::string_view kind) {
  const Table& t = GetTable();
  auto it = t.messages.find(kind);
  return it != t.messages.end() && it->second.api_group != "-";
}

StatusOr<Json> DecodeProtobufBody(const api::ResourceInfo& res, std::string_view body) {
  const Table& t = GetTable();
  auto it = t.messages.find(res.kind);
  if (it == t.messages.end() || it->second.api_group != res.group) {
    return Status(Code::kUnsupportedMediaType,
                  "protobuf bodies are not supported for " + res.kind +
                      "; send JSON (kubectl: use a manifest with apply -f)");
  }
  StatusOr<ProtoEnvelope> env = ParseProtoEnvelope(body);
  if (!env.ok()) return env.status();
  if (env->kind != res.kind) {
    return Status::BadRequest("protobuf body holds " + (env->kind.empty() ? "nothing" : env->kind) +
                              ", expected " + res.kind);
  }
  if (!env->content_encoding.empty()) {
    return Status(Code::kUnsupportedMediaType,
                  "protobuf content encoding \"" + env->content_encoding + "\" is not supported");
  }
  StatusOr<Json> obj = DecodeMessage(it->second, res.kind, env->raw, 0);
  if (!obj.ok()) return obj.status();
  (*obj)["apiVersion"] = res.ApiVersion();
  (*obj)["kind"] = res.kind;
  return obj;
}

std::vector<std::string> ProtoTableProblems() { return GetTable().problems; }

}  // namespace skiff::apiserver

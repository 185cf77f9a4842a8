// Kubernetes protobuf request bodies. kubectl 1.32 sends built-in kinds (ConfigMap, Pod, Role, the
// review kinds, ...) as `application/vnd.kubernetes.protobuf`: the 4 magic bytes `k8s\0`, then a
// runtime.Unknown {typeMeta, raw, contentEncoding, contentType} whose `raw` is the object's
// message. skiff stores JSON, so the body is decoded into the object's JSON form, driven by a table
// of message definitions (proto_types.cc) rather than generated code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/resource.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::apiserver {

// One field of a protobuf message on the wire.
struct ProtoField {
  uint32_t number = 0;
  uint32_t wire_type = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
  uint64_t value = 0;      // The varint or the fixed32/fixed64 bits.
  std::string_view bytes;  // The payload of a length-delimited field.
};

// A protobuf wire-format reader over a buffer it does not own.
class ProtoReader {
 public:
  explicit ProtoReader(std::string_view data) : data_(data) {}

  // Reads the next field; false at the end or on malformed input (ok() tells which).
  bool Next(ProtoField* field);
  bool ok() const { return ok_; }

  // Reads one bare varint: the elements of a packed repeated field.
  bool NextPackedVarint(uint64_t* out) {
    if (!ok_ || pos_ >= data_.size()) return false;
    return ReadVarint(out) || Fail();
  }

 private:
  bool ReadVarint(uint64_t* out);
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// The `k8s\0` envelope's runtime.Unknown.
struct ProtoEnvelope {
  std::string api_version;
  std::string kind;
  std::string_view raw;  // Points into the body passed to ParseProtoEnvelope.
  std::string content_encoding;
  std::string content_type;
};

// Splits a `k8s\0`-prefixed body; 400 when the magic bytes or the envelope are malformed.
StatusOr<ProtoEnvelope> ParseProtoEnvelope(std::string_view body);

// True when proto_types.cc has a message definition for `kind` (e.g. "ConfigMap").
bool HasProtoMessage(std::string_view kind);

// Decodes a whole protobuf request body for `res` into the object's JSON form, as Go's
// encoding/json would write the Go struct: zero scalars of `omitempty` fields are left out,
// pointer fields keep explicit zeros, present structs are kept even when empty, unknown field
// numbers are skipped. Checks that the envelope holds `res.kind`; sets apiVersion and kind.
// 400 on malformed input; 415 for kinds without a definition.
StatusOr<Json> DecodeProtobufBody(const api::ResourceInfo& res, std::string_view body);

// The message table (proto_types.cc): one entry per message, its fields written as
// "NUMBER jsonName TYPE; ..." where TYPE is a scalar (string int32 int64 bool bytes double), a
// Kubernetes special type (Time Quantity IntOrString RawExtension FieldsV1) or a message name;
// `[]TYPE` is repeated and `map<TYPE>` a map with string keys. A trailing `*` keeps zero values
// (Go pointer fields and fields without omitempty); jsonName `-` inlines an embedded struct.
struct ProtoMessageDef {
  std::string_view name;
  std::string_view api_group;  // For top-level kinds: the group whose kind it is; else "-".
  std::string_view fields;
};
const std::vector<ProtoMessageDef>& ProtoMessageTable();

// What is wrong with the table (bad syntax, duplicates, fields naming undefined messages); empty
// when it is whole. For tests: a typo in proto_types.cc would otherwise silently drop a field.
std::vector<std::string> ProtoTableProblems();

}  // namespace skiff::apiserver

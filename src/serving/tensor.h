// Tensors as the data plane moves them: an Open Inference Protocol datatype, a shape and the
// elements as little-endian bytes in the binary tensor extension's layout, so binary requests and
// responses are copied, never converted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::serving {

enum class DataType : uint8_t {
  kBool,
  kUint8,
  kUint16,
  kUint32,
  kUint64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFp16,
  kFp32,
  kFp64,
  kBytes,
  kBf16,
};

// "FP32" -> kFp32; nullopt for names the protocol does not define (names are case-sensitive).
std::optional<DataType> ParseDataType(std::string_view name);
std::string_view DataTypeName(DataType type);
// Bytes per element; 0 for BYTES, whose elements are a 4-byte length and that many bytes.
size_t DataTypeSize(DataType type);

struct Tensor {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  // Row-major elements, no padding. BYTES: each element is a little-endian uint32 length followed
  // by the bytes.
  std::string data;
};

// Product of the dimensions; -1 if a dimension is negative or the product overflows int64.
int64_t ElementCount(const std::vector<int64_t>& shape);
// Number of BYTES elements in `data`; -1 if a length runs past the end.
int64_t CountBytesElements(std::string_view data);
// Byte offset of BYTES element `index`, or -1 (walks the lengths).
int64_t BytesElementOffset(std::string_view data, int64_t index);

// IEEE half and bfloat16 conversions (round to nearest even).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
uint16_t FloatToBf16(float f);
float Bf16ToFloat(uint16_t b);

// "[1,2,3]" for messages.
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace skiff::serving

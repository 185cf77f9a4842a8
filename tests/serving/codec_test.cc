// The V2/V1 wire format without a server: every datatype from JSON, nested and flat data, the
// binary tensor extension, the raw binary form, validation against a model, and the encoders.
#include "serving/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "common/json.h"

namespace skiff::serving {
namespace {

// A body with the padding the parsers may read past its end.
struct Body {
  explicit Body(std::string s) : storage(std::move(s)), size(storage.size()) {
    storage.append(kJsonPadding, 'x');
  }
  std::string_view view() const { return std::string_view(storage.data(), size); }
  std::string storage;
  size_t size;
};

Status Parse(const std::string& json, V2Request* out) {
  Body b(json);
  return ParseV2Request(b.view(), std::nullopt, out);
}

std::string Input(const std::string& datatype, const std::string& shape, const std::string& data) {
  return R"({"inputs":[{"name":"x","datatype":")" + datatype + R"(","shape":)" + shape +
         R"(,"data":)" + data + "}]}";
}

template <typename T>
std::vector<T> As(const Tensor& t) {
  std::vector<T> v(t.data.size() / sizeof(T));
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return v;
}

ModelMetadata Mnist() {
  ModelMetadata m;
  m.name = "mnist";
  m.platform = "pytorch_torchscript";
  m.batchable = true;
  m.inputs = {{"input", DataType::kFp32, {-1, 1, 28, 28}}};
  m.outputs = {{"output", DataType::kFp32, {-1, 10}}};
  return m;
}

TEST(DataType, NamesRoundTripAndSizes) {
  for (const char* name : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                           "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"}) {
    auto t = ParseDataType(name);
    ASSERT_TRUE(t) << name;
    EXPECT_EQ(DataTypeName(*t), name);
  }
  EXPECT_FALSE(ParseDataType("fp32"));  // names are case-sensitive
  EXPECT_EQ(DataTypeSize(DataType::kFp16), 2u);
  EXPECT_EQ(DataTypeSize(DataType::kUint64), 8u);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
}

TEST(DataType, HalfAndBfloat16Conversions) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f, 1234.0f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  // Halfway cases round to even: 1234.5 -> 1234, 1235.5 -> 1236 (spacing is 1 there).
  EXPECT_EQ(HalfToFloat(FloatToHalf(1234.5f)), 1234.0f);
  EXPECT_EQ(HalfToFloat(FloatToHalf(1235.5f)), 1236.0f);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(-3.0f)), -3.0f);
}

TEST(ParseV2, EveryDatatypeFromJson) {
  V2Request r;
  ASSERT_TRUE(Parse(Input("BOOL", "[3]", "[true,false,true]"), &r).ok());
  EXPECT_EQ(r.inputs[0].data, std::string("\1\0\1", 3));

  r = {};
  ASSERT_TRUE(Parse(Input("UINT8", "[2]", "[0,255]"), &r).ok());
  EXPECT_EQ(As<uint8_t>(r.inputs[0]), (std::vector<uint8_t>{0, 255}));
  r = {};
  ASSERT_TRUE(Parse(Input("UINT16", "[1]", "[65535]"), &r).ok());
  EXPECT_EQ(As<uint16_t>(r.inputs[0]), (std::vector<uint16_t>{65535}));
  r = {};
  ASSERT_TRUE(Parse(Input("UINT32", "[1]", "[4294967295]"), &r).ok());
  EXPECT_EQ(As<uint32_t>(r.inputs[0]), (std::vector<uint32_t>{4294967295u}));
  r = {};
  ASSERT_TRUE(Parse(Input("UINT64", "[1]", "[18446744073709551615]"), &r).ok());
  EXPECT_EQ(As<uint64_t>(r.inputs[0]), (std::vector<uint64_t>{18446744073709551615ull}));
  r = {};
  ASSERT_TRUE(Parse(Input("INT8", "[2]", "[-128,127]"), &r).ok());
  EXPECT_EQ(As<int8_t>(r.inputs[0]), (std::vector<int8_t>{-128, 127}));
  r = {};
  ASSERT_TRUE(Parse(Input("INT16", "[1]", "[-32768]"), &r).ok());
  EXPECT_EQ(As<int16_t>(r.inputs[0]), (std::vector<int16_t>{-32768}));
  r = {};
  ASSERT_TRUE(Parse(Input("INT32", "[2,2]", "[1,2,3,4]"), &r).ok());
  EXPECT_EQ(As<int32_t>(r.inputs[0]), (std::vector<int32_t>{1, 2, 3, 4}));
  r = {};
  ASSERT_TRUE(Parse(Input("INT64", "[1]", "[-9223372036854775808]"), &r).ok());
  EXPECT_EQ(As<int64_t>(r.inputs[0]), (std::vector<int64_t>{INT64_MIN}));
  r = {};
  ASSERT_TRUE(Parse(Input("FP16", "[2]", "[1.5,-2]"), &r).ok());
  EXPECT_EQ(As<uint16_t>(r.inputs[0]), (std::vector<uint16_t>{0x3e00, 0xc000}));
  r = {};
  ASSERT_TRUE(Parse(Input("BF16", "[1]", "[1]"), &r).ok());
  EXPECT_EQ(As<uint16_t>(r.inputs[0]), (std::vector<uint16_t>{0x3f80}));
  r = {};
  ASSERT_TRUE(Parse(Input("FP32", "[3]", "[0.1,-2e3,7]"), &r).ok());
  EXPECT_EQ(As<float>(r.inputs[0]), (std::vector<float>{0.1f, -2000.0f, 7.0f}));
  r = {};
  ASSERT_TRUE(Parse(Input("FP64", "[2]", "[0.1, 1.7976931348623157e308]"), &r).ok());
  EXPECT_EQ(As<double>(r.inputs[0]), (std::vector<double>{0.1, 1.7976931348623157e308}));
  r = {};
  ASSERT_TRUE(Parse(Input("BYTES", "[2]", R"(["ab","\u00e9\n"])"), &r).ok());
  EXPECT_EQ(r.inputs[0].data, std::string("\2\0\0\0ab\3\0\0\0\xc3\xa9\n", 13));
}

TEST(ParseV2, FloatsParseExactlyLikeStrtod) {
  // Long mantissas and big exponents leave the fast path; all must round as strtod does.
  std::vector<std::string> texts = {"0",
                                    "-0.0",
                                    "3.14159265358979323846",
                                    "1e-30",
                                    "2.5E+10",
                                    "123456789012345678901234",
                                    "4.9e-324",
                                    "0.30000000000000004",
                                    "-17.125"};
  std::string data = "[";
  for (size_t i = 0; i < texts.size(); ++i) data += (i ? "," : "") + texts[i];
  data += "]";
  V2Request r;
  ASSERT_TRUE(Parse(Input("FP64", "[" + std::to_string(texts.size()) + "]", data), &r).ok());
  auto v = As<double>(r.inputs[0]);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(v[i], std::strtod(texts[i].c_str(), nullptr));
}

TEST(ParseV2, NestedAndFlatDataAreTheSame) {
  V2Request flat, nested;
  ASSERT_TRUE(Parse(Input("FP32", "[2,3]", "[1,2,3,4,5,6]"), &flat).ok());
  ASSERT_TRUE(Parse(Input("FP32", "[2,3]", "[[1,2,3],[4,5,6]]"), &nested).ok());
  EXPECT_EQ(flat.inputs[0].data, nested.inputs[0].data);
}

TEST(ParseV2, IdParametersAndRequestedOutputs) {
  V2Request r;
  std::string json =
      R"({"id":"42","parameters":{"binary_data_output":true,"other":3},)"
      R"("inputs":[{"name":"a","shape":[1],"datatype":"INT32","data":[7],"parameters":{"x":"y"}}],)"
      R"("outputs":[{"name":"out","parameters":{"binary_data":false}},{"name":"b"}]})";
  ASSERT_TRUE(Parse(json, &r).ok());
  EXPECT_EQ(r.id, "42");
  EXPECT_TRUE(r.binary_data_output);
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.outputs[0].name, "out");
  EXPECT_EQ(r.outputs[0].binary, false);
  EXPECT_FALSE(r.outputs[1].binary.has_value());
}

TEST(ParseV2, MalformedRequestsAreBadRequests) {
  struct Case {
    std::string json, expect;
  };
  std::vector<Case> cases = {
      {"{bad", "JSON"},
      {"[1,2]", "JSON object"},
      {R"({"inputs":[]})", "no \"inputs\""},
      {R"({"id":5,"inputs":[]})", "\"id\" must be a string"},
      {Input("FP32", "[2]", "[1]"), "needs 2 elements, data has 1"},
      {Input("FP32", "[2]", "[1,2,3]"), "more elements"},
      {Input("FP32", "[2]", R"([1,"a"])"), "must be a number"},
      {Input("INT8", "[1]", "[128]"), "out of range"},
      {Input("UINT8", "[1]", "[-1]"), "out of range"},
      {Input("INT32", "[1]", "[1.5]"), "must be an integer"},
      {Input("BOOL", "[1]", "[1]"), "true or false"},
      {Input("FP99", "[1]", "[1]"), "unknown datatype"},
      {Input("FP32", "[-1]", "[1]"), "non-negative"},
      {Input("FP32", "[2]", "[1,]"), "JSON"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})", "neither"},
      {Input("FP32", "[1]", "[1]") + " trailing", "JSON"},
  };
  for (const auto& c : cases) {
    V2Request r;
    Status st = Parse(c.json, &r);
    EXPECT_EQ(st.code(), Code::kBadRequest) << c.json;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << c.json << " -> " << st.message();
  }
}

TEST(ParseV2, BinaryTensorExtension) {
  std::string header =
      R"({"inputs":[{"name":"a","shape":[2,2],"datatype":"UINT32","parameters":{"binary_data_size":16}},)"
      R"({"name":"b","shape":[3],"datatype":"BOOL","parameters":{"binary_data_size":3}},)"
      R"({"name":"c","shape":[1],"datatype":"FP32","data":[2.5]},)"
      R"({"name":"d","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}]})";
  uint32_t a[] = {1, 2, 3, 4};
  std::string bin(reinterpret_cast<const char*>(a), 16);
  bin += std::string("\1\0\1", 3);
  bin += std::string("\3\0\0\0abc\0\0\0\0", 11);
  Body body(header + bin);
  V2Request r;
  Status st = ParseV2Request(body.view(), header.size(), &r);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(r.inputs.size(), 4u);
  EXPECT_EQ(As<uint32_t>(r.inputs[0]), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.inputs[1].data, std::string("\1\0\1", 3));
  EXPECT_EQ(As<float>(r.inputs[2]), (std::vector<float>{2.5f}));
  EXPECT_EQ(CountBytesElements(r.inputs[3].data), 2);

  // Sizes that do not add up are refused.
  Body short_body(header + bin.substr(0, 20));
  EXPECT_EQ(ParseV2Request(short_body.view(), header.size(), &r).code(), Code::kBadRequest);
  Body long_body(header + bin + "zz");
  V2Request r2;
  EXPECT_NE(ParseV2Request(long_body.view(), header.size(), &r2).message().find("after the last"),
            std::string::npos);
  std::string wrong = R"({"inputs":[{"name":"a","shape":[2],"datatype":"FP32","parameters":)"
                      R"({"binary_data_size":4}}]})";
  Body wrong_body(wrong + "abcd");
  V2Request r3;
  EXPECT_NE(ParseV2Request(wrong_body.view(), wrong.size(), &r3).message().find("needs 8"),
            std::string::npos);
  Body too_long(header);
  V2Request r4;
  EXPECT_EQ(ParseV2Request(too_long.view(), header.size() + 1, &r4).code(), Code::kBadRequest);
}

TEST(ParseV2, RawBinaryRequestTakesTheModelsOnlyInput) {
  std::vector<float> x(784, 1.0f);
  Body body(std::string(reinterpret_cast<const char*>(x.data()), x.size() * 4));
  V2Request r;
  ASSERT_TRUE(ParseRawBinaryRequest(body.view(), Mnist(), &r).ok());
  EXPECT_EQ(r.inputs[0].shape, (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_TRUE(r.binary_data_output);
  Body odd(std::string(10, 'x'));
  V2Request r2;
  EXPECT_EQ(ParseRawBinaryRequest(odd.view(), Mnist(), &r2).code(), Code::kBadRequest);
}

TEST(BindInputs, ChecksNamesDatatypesAndShapes) {
  auto meta = Mnist();
  auto make = [](std::string name, DataType type, std::vector<int64_t> shape) {
    Tensor t;
    t.name = std::move(name);
    t.datatype = type;
    t.shape = std::move(shape);
    return t;
  };
  std::vector<Tensor> ordered;
  int64_t rows = 0;
  ASSERT_TRUE(
      BindInputs(meta, {make("input", DataType::kFp32, {3, 1, 28, 28})}, &ordered, &rows).ok());
  EXPECT_EQ(rows, 3);
  auto err = [&](std::vector<Tensor> given) {
    return BindInputs(meta, std::move(given), &ordered, &rows).message();
  };
  EXPECT_NE(err({make("input", DataType::kFp64, {1, 1, 28, 28})}).find("datatype FP64"),
            std::string::npos);
  EXPECT_NE(err({make("input", DataType::kFp32, {1, 784})}).find("does not match"),
            std::string::npos);
  EXPECT_NE(err({make("input", DataType::kFp32, {1, 1, 28, 27})}).find("does not match"),
            std::string::npos);
  EXPECT_NE(err({make("pixels", DataType::kFp32, {1, 1, 28, 28})}).find("unexpected"),
            std::string::npos);
  EXPECT_NE(err({}).find("missing"), std::string::npos);
  EXPECT_NE(err({make("input", DataType::kFp32, {0, 1, 28, 28})}).find("at least 1"),
            std::string::npos);
  EXPECT_FALSE(CheckRequestedOutputs(meta, {{"logits", std::nullopt}}).ok());
  EXPECT_TRUE(CheckRequestedOutputs(meta, {{"output", true}}).ok());
}

Tensor Output() {
  Tensor t;
  t.name = "output";
  t.datatype = DataType::kFp32;
  t.shape = {2, 2};
  float v[] = {0.5f, -1.0f, 3.25f, 1e-7f};
  t.data.assign(reinterpret_cast<const char*>(v), sizeof(v));
  return t;
}

TEST(EncodeV2, JsonResponseEchoesIdAndRoundTrips) {
  EncodedResponse enc;
  EncodeV2Response(Mnist(), std::string("abc"), {Output()}, {}, false, &enc);
  EXPECT_FALSE(enc.binary);
  auto j = Json::parse(enc.body);
  EXPECT_EQ(j["model_name"], "mnist");
  EXPECT_EQ(j["model_version"], "1");
  EXPECT_EQ(j["id"], "abc");
  EXPECT_EQ(j["outputs"][0]["shape"], Json::array({2, 2}));
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["data"][3].get<float>(), 1e-7f);  // shortest text, exact float
}

TEST(EncodeV2, BinaryOutputsFollowTheJsonHeader) {
  EncodedResponse enc;
  EncodeV2Response(Mnist(), std::nullopt, {Output()}, {{"output", true}}, false, &enc);
  ASSERT_TRUE(enc.binary);
  auto j = Json::parse(enc.body.substr(0, enc.json_length));
  EXPECT_FALSE(j.contains("id"));
  EXPECT_EQ(j["outputs"][0]["parameters"]["binary_data_size"], 16);
  EXPECT_FALSE(j["outputs"][0].contains("data"));
  EXPECT_EQ(enc.body.substr(enc.json_length), Output().data);
  // binary_data_output applies unless the output says otherwise.
  EncodedResponse json_anyway;
  EncodeV2Response(Mnist(), std::nullopt, {Output()}, {{"output", false}}, true, &json_anyway);
  EXPECT_FALSE(json_anyway.binary);
}

TEST(EncodeV2, EveryDatatypeToJson) {
  Tensor b;
  b.name = "b";
  b.datatype = DataType::kBytes;
  b.shape = {2};
  b.data = std::string("\2\0\0\0h\"\1\0\0\0\n", 11);
  Tensor h;
  h.name = "h";
  h.datatype = DataType::kFp16;
  h.shape = {1};
  uint16_t half = FloatToHalf(-1.5f);
  h.data.assign(reinterpret_cast<const char*>(&half), 2);
  Tensor t;
  t.name = "t";
  t.datatype = DataType::kBool;
  t.shape = {2};
  t.data = std::string("\1\0", 2);
  EncodedResponse enc;
  EncodeV2Response(Mnist(), std::nullopt, {b, h, t}, {}, false, &enc);
  auto j = Json::parse(enc.body);
  EXPECT_EQ(j["outputs"][0]["data"], Json::array({"h\"", "\n"}));
  EXPECT_EQ(j["outputs"][1]["data"][0], -1.5);
  EXPECT_EQ(j["outputs"][2]["data"], Json::array({true, false}));
}

TEST(V1, InstancesNestedOrFlat) {
  std::string flat(784 * 2, ' ');
  std::string row = "[";
  for (int i = 0; i < 784; ++i) row += (i ? "," : "") + std::to_string(i % 7);
  row += "]";
  std::string nested = "[[";
  for (int r = 0; r < 28; ++r) {
    nested += (r ? ",[" : "[");
    for (int c = 0; c < 28; ++c) nested += (c ? "," : "") + std::to_string((r * 28 + c) % 7);
    nested += "]";
  }
  nested += "]]";
  Body body(R"({"instances":[)" + row + "," + nested + "]}");
  Tensor input;
  int64_t rows = 0;
  Status st = ParseV1Request(body.view(), Mnist(), &input, &rows);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(rows, 2);
  EXPECT_EQ(input.shape, (std::vector<int64_t>{2, 1, 28, 28}));
  auto v = As<float>(input);
  EXPECT_TRUE(std::equal(v.begin(), v.begin() + 784, v.begin() + 784));

  Body short_row(R"({"instances":[[1,2,3]]})");
  EXPECT_NE(ParseV1Request(short_row.view(), Mnist(), &input, &rows).message().find("needs 784"),
            std::string::npos);
  Body none(R"({"inputs":[]})");
  EXPECT_EQ(ParseV1Request(none.view(), Mnist(), &input, &rows).code(), Code::kBadRequest);
}

TEST(V1, PredictionsOnePerRow) {
  EXPECT_EQ(Json::parse(EncodeV1Response({Output()})),
            Json::parse(R"({"predictions":[[0.5,-1.0],[3.25,1e-7]]})"));
  Tensor scalar;
  scalar.name = "p";
  scalar.datatype = DataType::kInt64;
  scalar.shape = {2};
  int64_t v[] = {4, -1};
  scalar.data.assign(reinterpret_cast<const char*>(v), sizeof(v));
  EXPECT_EQ(Json::parse(EncodeV1Response({scalar})), Json::parse(R"({"predictions":[4,-1]})"));
}

TEST(ErrorJson, EscapesTheMessage) {
  EXPECT_EQ(Json::parse(ErrorJson("a \"b\"\n\x01"))["error"], "a \"b\"\n\x01");
}

}  // namespace
}  // namespace skiff::serving

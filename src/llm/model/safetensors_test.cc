#include "llm/model/safetensors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace modelcar::llm {
namespace {

std::string File(const std::string& header, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header + std::string(data_bytes, '\x11');
}

Result<SafetensorsHeader> Parse(const std::string& f) {
  return ParseSafetensorsHeader(f, f.size(), "m.safetensors");
}

void ExpectError(const std::string& f, const std::string& needle) {
  auto r = Parse(f);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("m.safetensors"), std::string::npos);
}

TEST(SafetensorsTest, ParsesValidHeader) {
  std::string h =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[],"data_offsets":[12,16]}})";
  auto r = Parse(File(h, 16));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tensors.size(), 2u);
  EXPECT_EQ(r->tensors.at("a").dtype, DType::kBF16);
  EXPECT_EQ(r->tensors.at("a").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r->tensors.at("b").begin, 12u);
  EXPECT_EQ(r->metadata.at("format"), "pt");
  EXPECT_EQ(r->data_start, 8 + h.size());
}

TEST(SafetensorsTest, RejectsBadInput) {
  ExpectError("1234", "too short");
  std::string huge(8, '\0');
  huge[4] = 0x10;  // 2^36
  ExpectError(huge + "{}", "100 MB");
  std::string past(8, '\0');
  past[0] = 100;
  ExpectError(past + "{}", "past the end");
  ExpectError(File("{not json", 0), "not valid JSON");
  ExpectError(File("[1]", 0), "not a JSON object");
  ExpectError(File(R"({"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1), "unknown dtype");
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
              "\"w\" has an invalid shape");
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8),
              "\"w\" has 4 bytes");
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "begin > end");
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), "truncated");
  ExpectError(File(R"({"w":{"dtype":"F32","shape":[2]}})", 8), "data_offsets");
  ExpectError(File(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8), "no dtype");
  ExpectError(
      File(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          12),
      "overlap");
  ExpectError(
      File(R"({"w":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
           4),
      "\"w\"");
}

TEST(SafetensorsTest, ParsesIndex) {
  auto r = ParseSafetensorsIndex(
      R"({"metadata":{},"weight_map":{"a":"m-1.safetensors","b":"m-2.safetensors"}})", "i.json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("b"), "m-2.safetensors");
  EXPECT_FALSE(ParseSafetensorsIndex(R"({"weight_map":{"a":"../x"}})", "i.json").ok());
  EXPECT_FALSE(ParseSafetensorsIndex(R"({"weight_map":{"a":1}})", "i.json").ok());
  EXPECT_FALSE(ParseSafetensorsIndex(R"({})", "i.json").ok());
  EXPECT_FALSE(ParseSafetensorsIndex(R"(nope)", "i.json").ok());
}

TEST(DTypeTest, Conversions) {
  EXPECT_EQ(Bf16ToF32(F32ToBf16(1.5f)), 1.5f);
  EXPECT_EQ(Bf16ToF32(F32ToBf16(-3.0f)), -3.0f);
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(SafetensorsDTypeSize("I64"), 8);
  EXPECT_FALSE(SafetensorsDTypeSize("X").has_value());
}

}  // namespace
}  // namespace modelcar::llm

#include "base/json.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace modelcar {
namespace {

std::string Nested(int depth, char open, char close, std::string_view inner = "") {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open == '{' ? std::string("{\"a\":") : std::string(1, open);
  s += inner.empty() ? (open == '{' ? "1" : "") : std::string(inner);
  s.append(static_cast<size_t>(depth), close);
  return s;
}

TEST(ParseJsonLimitedTest, ParsesDocuments) {
  auto j = ParseJsonLimited(R"({"b": [1, 2.5, "x", null, true], "a": {"k": -3}})", "doc");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["b"][1], 2.5);
  EXPECT_EQ((*j)["a"]["k"], -3);
  EXPECT_EQ(j->dump(), R"({"a":{"k":-3},"b":[1,2.5,"x",null,true]})");

  auto o = ParseJsonLimited<nlohmann::ordered_json>(R"({"z": 1, "a": [{"y": 2, "b": 3}]})", "");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->dump(), R"({"z":1,"a":[{"y":2,"b":3}]})");  // insertion order kept

  auto dup = ParseJsonLimited(R"({"a": 1, "a": 2})", "");
  ASSERT_TRUE(dup.ok());
  EXPECT_EQ((*dup)["a"], 2);  // the last one wins, as json::parse
  EXPECT_TRUE(ParseJsonLimited("\"text\"", "").ok());
  EXPECT_TRUE(ParseJsonLimited(" 42 ", "").ok());
}

TEST(ParseJsonLimitedTest, SyntaxErrorsNameWhatAndWhere) {
  for (const char* bad : {"", "{", "{\"a\": }", "[1,]", "{} x", "nul", "// c\n{}"}) {
    auto j = ParseJsonLimited(bad, "request body");
    ASSERT_FALSE(j.ok()) << bad;
    EXPECT_EQ(j.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(j.status().message().rfind("request body: not valid JSON: ", 0), 0u)
        << j.status().message();
  }
  auto j = ParseJsonLimited("{\"a\": tru}", "");
  EXPECT_NE(j.status().message().find("column"), std::string::npos) << j.status().message();
}

// A manifest with one flipped bit ('c' ^ 0x80) or a control character: the message quotes the
// input near the error, escaped, never raw bytes (they reach terminals and logs).
TEST(ParseJsonLimitedTest, SyntaxErrorsQuoteOnlyPrintableAscii) {
  for (std::string bad :
       {std::string("{\"a\": \"ab\xe3\"}"), std::string("{\"a\": \"\x1b[31m\"}")}) {
    auto j = ParseJsonLimited(bad, "manifest");
    ASSERT_FALSE(j.ok());
    std::string m = j.status().message();
    for (unsigned char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << m;
  }
  auto j = ParseJsonLimited("{\"a\": \"ab\xe3\"}", "manifest");
  EXPECT_NE(j.status().message().find("last read: '\"ab\\xe3\"'"), std::string::npos)
      << j.status().message();
}

// The helper every module uses to quote untrusted bytes in messages (exceptions' what()).
TEST(PrintableAsciiTest, EscapesEverythingOutsidePrintableAscii) {
  EXPECT_EQ(PrintableAscii("plain text: 'x' ~"), "plain text: 'x' ~");
  EXPECT_EQ(PrintableAscii(std::string("a\nb\x1b[31m\xe3\x80\x7f\0z", 13)),
            "a\\x0ab\\x1b[31m\\xe3\\x80\\x7f\\x00z");
}

// The shape that crashed servers: 100,000 levels is rejected after reading ~129 bytes, and the
// partially built tree is freed without recursing.
TEST(ParseJsonLimitedTest, DeepNestingIsRejectedWithoutRecursion) {
  for (char open : {'[', '{'}) {
    char close = open == '[' ? ']' : '}';
    std::string deep = Nested(100000, open, close);
    auto j = ParseJsonLimited(deep, "body");
    ASSERT_FALSE(j.ok());
    EXPECT_EQ(j.status().message(), "body: JSON nested deeper than 128 levels");
    // Inside a valid prefix too (what a chat request looks like).
    std::string wrapped = R"({"model":"m","messages":[{"role":"user","x":)" + deep + "}]}";
    EXPECT_FALSE(ParseJsonLimited(wrapped, "").ok());
  }
}

TEST(ParseJsonLimitedTest, DepthLimitIsExactAndTheResultIsSafeToWalk) {
  auto ok = ParseJsonLimited(Nested(128, '[', ']', "0"), "");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  nlohmann::json copy = *ok;  // recursive copy, dump and compare: fine at the limit
  EXPECT_EQ(copy, *ok);
  EXPECT_EQ(copy.dump().size(), 2u * 128 + 1);
  EXPECT_FALSE(ParseJsonLimited(Nested(129, '[', ']', "0"), "").ok());
  JsonLimits shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(ParseJsonLimited(R"({"a":[1,2]})", "", shallow).ok());
  EXPECT_FALSE(ParseJsonLimited(R"({"a":[[1]]})", "", shallow).ok());
  // Brackets inside strings are text, not nesting.
  EXPECT_TRUE(ParseJsonLimited(R"({"a":"[[[[[[{{{{{\"]]]"})", "", shallow).ok());
}

TEST(ParseJsonLimitedTest, ValueAndByteLimits) {
  JsonLimits l;
  l.max_values = 4;  // the array and three numbers
  EXPECT_TRUE(ParseJsonLimited("[1,2,3]", "", l).ok());
  auto j = ParseJsonLimited("[1,2,3,4]", "tokens", l);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "tokens: JSON has more than 4 values");
  EXPECT_FALSE(ParseJsonLimited("[{},{},{},{}]", "", l).ok());  // containers count too

  l = JsonLimits();
  l.max_bytes = 8;
  EXPECT_TRUE(ParseJsonLimited("[1,2,3] ", "", l).ok());
  j = ParseJsonLimited("[1,2,3,4]", "", l);
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "JSON larger than 8 bytes");
}

// The memory estimate stops wide documents whose values are cheap to write and dear to hold
// (`{}` is 3 bytes of input and ~100 bytes parsed), whatever the value count; strings count their
// characters beyond the inline 15.
TEST(ParseJsonLimitedTest, MemoryLimit) {
  JsonLimits l;
  l.max_memory = 1 << 20;
  std::string objects = "[{}";
  for (int i = 0; i < 20000; ++i) objects += ",{}";
  objects += "]";
  auto j = ParseJsonLimited(objects, "body", l);  // 20,001 values, ~2 MB parsed
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "body: JSON would take more than 1048576 bytes of memory");
  std::string numbers = "[0";
  for (int i = 0; i < 20000; ++i) numbers += ",0";
  numbers += "]";
  EXPECT_TRUE(ParseJsonLimited(numbers, "", l).ok());  // 32 bytes a number: ~640 KB
  EXPECT_FALSE(ParseJsonLimited("\"" + std::string(2 << 20, 's') + "\"", "", l).ok());
  EXPECT_TRUE(ParseJsonLimited("\"" + std::string(900 << 10, 's') + "\"", "", l).ok());
  EXPECT_FALSE(ParseJsonLimited("{\"" + std::string(2 << 20, 'k') + "\":1}", "", l).ok());
  // The default (64 MiB) passes what real documents hold: 200,000 token ids, 150,000-entry maps.
  std::string ids = "[151643";
  for (int i = 0; i < 200000; ++i) ids += ",12345";
  ids += "]";
  EXPECT_TRUE(ParseJsonLimited(ids, "").ok());
  std::string bias = "{\"0\":1";
  for (int i = 1; i < 150000; ++i) bias += fmt::format(",\"{}\":-100", i);
  bias += "}";
  EXPECT_TRUE(ParseJsonLimited(bias, "").ok());
}

}  // namespace
}  // namespace modelcar

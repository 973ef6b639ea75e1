#include "serve/tool_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace modelcar::serve {
namespace {

TEST(HermesToolParser, PlainText) {
  auto p = ParseHermesToolCalls("just text");
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(*p.content, "just text");
}

TEST(HermesToolParser, OneCallWithContent) {
  auto p = ParseHermesToolCalls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>");
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "get_weather");
  EXPECT_EQ(nlohmann::json::parse(p.calls[0].arguments)["city"], "Paris");
  EXPECT_EQ(p.calls[0].id.rfind("chatcmpl-tool-", 0), 0u);
  EXPECT_EQ(*p.content, "Let me check.\n");
}

TEST(HermesToolParser, SeveralCallsAndUnterminatedLast) {
  auto p = ParseHermesToolCalls(
      "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n<tool_call>{\"name\": \"b\", "
      "\"arguments\": {\"x\": [1,2]}}");
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_FALSE(p.content.has_value());
  EXPECT_EQ(p.calls[1].name, "b");
  EXPECT_EQ(p.calls[1].arguments, "{\"x\":[1,2]}");
  EXPECT_NE(p.calls[0].id, p.calls[1].id);
}

TEST(HermesToolParser, InvalidJsonIsText) {
  std::string text = "x <tool_call>{\"name\": oops}</tool_call>";
  auto p = ParseHermesToolCalls(text);
  EXPECT_TRUE(p.calls.empty());
  EXPECT_EQ(*p.content, text);
  auto q = ParseHermesToolCalls("<tool_call>{\"arguments\": {}}</tool_call>");  // no name
  EXPECT_TRUE(q.calls.empty());
}

TEST(HermesStreamer, HoldsBackPartialTagAndParsesAtEnd) {
  HermesStreamer s;
  std::string out;
  for (std::string_view piece : {"Sure", ". <", "tool", "_call>{\"name\": \"f\", ",
                                 "\"arguments\": {\"a\": 1}}</tool_call>"}) {
    out += s.Append(piece);
  }
  EXPECT_EQ(out, "Sure. ");
  auto p = s.Finish();
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].name, "f");
  EXPECT_FALSE(p.content.has_value());
}

TEST(HermesStreamer, FalseAlarmIsReleased) {
  HermesStreamer s;
  std::string out = s.Append("a <to");
  EXPECT_EQ(out, "a ");
  out += s.Append("ad");
  EXPECT_EQ(out, "a <toad");
  EXPECT_FALSE(s.Finish().content.has_value());
  HermesStreamer t;
  EXPECT_EQ(t.Append("x<"), "x");
  EXPECT_EQ(*t.Finish().content, "<");
}

}  // namespace
}  // namespace modelcar::serve

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
  EXPECT_EQ(p.calls[1].arguments, "{\"x\": [1, 2]}") << "Python's json.dumps, as vLLM";
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

TEST(HermesToolParser, ArgumentsAsVllmDumpsThem) {
  // Keys in the model's order, ", " and ": ", non-ASCII kept; any JSON value; no arguments: text.
  auto p = ParseHermesToolCalls(
      "<tool_call>{\"name\": \"f\", \"arguments\": "
      "{\"z\":1,\"a\":{\"k\":\"é\"},\"l\":[true,null,1.5]}}"
      "</tool_call><tool_call>{\"name\": \"g\", \"arguments\": \"{}\"}</tool_call>");
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.calls[0].arguments, "{\"z\": 1, \"a\": {\"k\": \"é\"}, \"l\": [true, null, 1.5]}");
  EXPECT_EQ(p.calls[1].arguments, "\"{}\"");
  EXPECT_TRUE(ParseHermesToolCalls("<tool_call>{\"name\": \"f\"}</tool_call>").calls.empty());
}

TEST(VllmArguments, ReserializedOrKept) {
  EXPECT_EQ(VllmArguments("{\"b\":1,\"a\":[2,3]}"), "{\"b\": 1, \"a\": [2, 3]}");
  EXPECT_EQ(VllmArguments("{\"b\": 1, \"a\": [2"), "{\"b\": 1, \"a\": [2");
  // Floats as Python's repr (printed by python3's json.dumps(json.loads(...))), big ints exact.
  EXPECT_EQ(VllmArguments("{\"x\": [1e15, 1e16, 1e-5, 0.1, 2E2], \"n\": 18446744073709551615}"),
            "{\"x\": [1000000000000000.0, 1e+16, 1e-05, 0.1, 200.0], \"n\": 18446744073709551615}");
}

TEST(Llama3JsonToolParser, CallsWithParametersOrArguments) {
  auto p = ParseLlama3JsonToolCalls(
      "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; "
      "{\"name\": \"f\", \"arguments\": {\"s\": \"a}b{\\\"\"}}");
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_FALSE(p.content.has_value()) << "vLLM drops the text around the calls";
  EXPECT_EQ(p.calls[0].name, "get_weather");
  EXPECT_EQ(p.calls[0].arguments, "{\"city\": \"Paris\"}");
  EXPECT_EQ(p.calls[1].arguments, "{\"s\": \"a}b{\\\"\"}");
  EXPECT_EQ(p.calls[0].id.rfind("chatcmpl-tool-", 0), 0u);
  auto q = ParseLlama3JsonToolCalls("Sure: {\"name\": \"f\", \"parameters\": {}} done");
  ASSERT_EQ(q.calls.size(), 1u);
  EXPECT_EQ(q.calls[0].arguments, "{}");
}

TEST(Llama3JsonToolParser, AnythingElseIsText) {
  for (std::string_view text :
       {"no braces", "{\"name\": \"f\"}", "{\"parameters\": {}}",
        "{\"name\": \"f\", \"parameters\": {}} and {not json}",
        "{\"name\": \"f\", \"parameters\": {", "{\"name\": 3, \"arguments\": {}}"}) {
    auto p = ParseLlama3JsonToolCalls(text);
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content.value_or(""), text);
  }
}

TEST(ToolCallFormat, Names) {
  EXPECT_EQ(*ToolCallFormatNamed("hermes"), ToolCallFormat::kHermes);
  EXPECT_EQ(*ToolCallFormatNamed("llama3_json"), ToolCallFormat::kLlama3Json);
  Result<ToolCallFormat> bad = ToolCallFormatNamed("mistral");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--tool-call-parser mistral"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::serve

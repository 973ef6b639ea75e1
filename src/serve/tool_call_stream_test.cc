// The streaming tool-call parsers fed as a model writes: piece by piece (one byte at a time, and
// a few tokens' worth at a time), asserting the deltas a client sees.
#include "serve/tool_call_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "serve/partial_json.h"

namespace modelcar::serve {
namespace {

// What a client assembles from the deltas, and in which order things came.
struct Seen {
  std::string content;
  struct Call {
    std::string id, name, arguments;
    int argument_deltas = 0;
  };
  std::vector<Call> calls;
  bool content_after_call = false;
  bool arguments_before_name = false;

  void Add(const ToolCallStreamer::Delta& d) {
    if (!d.content.empty() && !calls.empty()) content_after_call = true;
    content += d.content;
    for (const ToolCallDelta& t : d.calls) {
      if (t.index >= static_cast<int>(calls.size())) calls.resize(t.index + 1);
      Call& c = calls[t.index];
      if (t.name) {
        EXPECT_TRUE(t.id.has_value());
        EXPECT_TRUE(c.name.empty()) << "one name delta per call";
        c.id = *t.id;
        c.name = *t.name;
      }
      if (t.arguments) {
        if (c.name.empty()) arguments_before_name = true;
        c.arguments += *t.arguments;
        ++c.argument_deltas;
      }
    }
  }
};

Seen Stream(ToolCallFormat format, std::string_view text, size_t step) {
  ToolCallStreamer s(format);
  Seen seen;
  for (size_t i = 0; i < text.size(); i += step) seen.Add(s.Append(text.substr(i, step)));
  seen.Add(s.Finish());
  return seen;
}

TEST(HermesToolCallStream, ContentThenNameThenArgumentFragments) {
  const std::string text =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":"
      "\"Paris\", \"days\": [1, 2]}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", "
      "\"arguments\": {}}\n</tool_call>";
  for (size_t step : {1, 3, 7}) {
    const Seen s = Stream(ToolCallFormat::kHermes, text, step);
    EXPECT_EQ(s.content, "Let me check.\n") << step;
    EXPECT_FALSE(s.content_after_call);
    EXPECT_FALSE(s.arguments_before_name);
    ASSERT_EQ(s.calls.size(), 2u);
    EXPECT_EQ(s.calls[0].name, "get_weather");
    EXPECT_EQ(s.calls[1].name, "get_time");
    EXPECT_EQ(s.calls[0].id.rfind("chatcmpl-tool-", 0), 0u);
    EXPECT_NE(s.calls[0].id, s.calls[1].id);
    // The raw text the model wrote (vLLM's stream does not re-serialize).
    EXPECT_EQ(s.calls[0].arguments, "{\"city\":\"Paris\", \"days\": [1, 2]}");
    EXPECT_EQ(s.calls[1].arguments, "{}");
    if (step == 1) {
      EXPECT_GT(s.calls[0].argument_deltas, 10) << "arguments stream as written";
    }
  }
}

TEST(HermesToolCallStream, NameWaitsForItsClosingQuote) {
  ToolCallStreamer s(ToolCallFormat::kHermes);
  EXPECT_TRUE(s.Append("<tool_call>{\"name\": \"get_wea").calls.empty());
  ToolCallStreamer::Delta d = s.Append("ther\", ");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(*d.calls[0].name, "get_weather");
  EXPECT_FALSE(d.calls[0].arguments.has_value());
  d = s.Append("\"arguments\": {\"a\"");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(*d.calls[0].arguments, "{\"a\"");
  EXPECT_TRUE(s.called());
  // The closing brace of the call object and the end tag add nothing.
  d = s.Append(": 1}}\n</tool");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(*d.calls[0].arguments, ": 1}");
  EXPECT_TRUE(s.Append("_call>").calls.empty());
  EXPECT_TRUE(s.Finish().content.empty());
}

TEST(HermesToolCallStream, PartialTagHeldAndReleased) {
  ToolCallStreamer s(ToolCallFormat::kHermes);
  EXPECT_EQ(s.Append("a <tool").content, "a ");
  EXPECT_EQ(s.Append("box> b <").content, "<toolbox> b ");
  EXPECT_EQ(s.Finish().content, "<");  // vLLM would keep it back for good
  EXPECT_FALSE(s.called());
}

TEST(HermesToolCallStream, ToolTextWithoutANameIsContentAtTheEnd) {
  const Seen s = Stream(ToolCallFormat::kHermes, "x <tool_call>{\"oops\": 1}</tool_call>", 2);
  EXPECT_TRUE(s.calls.empty());
  EXPECT_EQ(s.content, "x <tool_call>{\"oops\": 1}</tool_call>");
}

TEST(HermesToolCallStream, ScalarArguments) {
  const Seen s = Stream(ToolCallFormat::kHermes,
                        "<tool_call>{\"name\": \"f\", \"arguments\": \"x\"}</tool_call>", 1);
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0].arguments, "\"x\"");
}

TEST(Llama3JsonToolCallStream, ArgumentsConcatenateToJsonDumps) {
  const std::string text =
      "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\":\"Par\\u00eds\","
      "\"n\":1.50,\"ok\":true,\"l\":[1,{\"a\":null}]}}; {\"name\": \"get_time\", "
      "\"arguments\": {}}";
  const ParsedToolCalls whole = ParseLlama3JsonToolCalls(text);
  ASSERT_EQ(whole.calls.size(), 2u);
  for (size_t step : {1, 2, 5}) {
    const Seen s = Stream(ToolCallFormat::kLlama3Json, text, step);
    EXPECT_EQ(s.content, "");
    EXPECT_FALSE(s.arguments_before_name);
    ASSERT_EQ(s.calls.size(), 2u) << step;
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(s.calls[i].name, whole.calls[i].name);
      EXPECT_EQ(s.calls[i].arguments, whole.calls[i].arguments) << step;
    }
    EXPECT_EQ(s.calls[0].arguments,
              "{\"city\": \"París\", \"n\": 1.5, \"ok\": true, \"l\": [1, {\"a\": null}]}");
    if (step == 1) {
      EXPECT_GT(s.calls[0].argument_deltas, 10);
    }
  }
}

TEST(Llama3JsonToolCallStream, OnlyOutputsThatStartAsCallsAreCalls) {
  Seen s = Stream(ToolCallFormat::kLlama3Json, "Sure: {\"name\": \"f\", \"parameters\": {}}", 1);
  EXPECT_TRUE(s.calls.empty());
  EXPECT_EQ(s.content, "Sure: {\"name\": \"f\", \"parameters\": {}}");
  s = Stream(ToolCallFormat::kLlama3Json, "<|pa", 1);
  EXPECT_EQ(s.content, "<|pa");
  s = Stream(ToolCallFormat::kLlama3Json, "{\"city\": \"Paris\"} is nice", 3);
  EXPECT_TRUE(s.calls.empty());
  EXPECT_EQ(s.content, "{\"city\": \"Paris\"} is nice");
}

TEST(Llama3JsonToolCallStream, AnEmptyNameStartsNoCall) {
  // Found by serve_tool_parser_fuzz: a call was sent with the name "" (vLLM sends none).
  for (size_t step : {1, 3}) {
    const std::string text = "{\"name\": \"\", \"arguments\": {\"a\": 1}}";
    const Seen s = Stream(ToolCallFormat::kLlama3Json, text, step);
    EXPECT_TRUE(s.calls.empty()) << step;
    EXPECT_EQ(s.content, text) << step;
  }
}

TEST(PartialJson, DumpsPrefixGrowsTowardsTheDumps) {
  const std::string raw = "{ \"s\" : \"a\\\"b\\u00e9\\ud83d\\ude00c\", \"n\": -12.50e1, \"t\": [true , null]}";
  const std::string full = "{\"s\": \"a\\\"bé😀c\", \"n\": -125.0, \"t\": [true, null]}";
  std::string last;
  for (size_t n = 0; n <= raw.size(); ++n) {
    const std::string p = DumpsPrefix(raw.substr(0, n));
    EXPECT_EQ(full.compare(0, p.size(), p), 0) << "prefix " << n << ": " << p;
    EXPECT_GE(p.size(), last.size());
    last = p;
  }
  EXPECT_EQ(last, full);
}

TEST(PartialJson, ScanPartialObject) {
  PartialObject o = ScanPartialObject(" {\"name\": \"f\", \"parameters\": {\"a\": [1");
  EXPECT_FALSE(o.closed);
  ASSERT_EQ(o.members.size(), 2u);
  EXPECT_EQ(o.members[0].key, "name");
  EXPECT_TRUE(o.members[0].complete);
  EXPECT_EQ(o.members[1].value, "{\"a\": [1");
  EXPECT_FALSE(o.members[1].complete);
  o = ScanPartialObject("{\"a\": 1}; {");
  EXPECT_TRUE(o.closed);
  EXPECT_EQ(o.end, 8u);
  EXPECT_TRUE(ScanPartialObject("{\"a\" 1}").malformed);
  EXPECT_TRUE(ScanPartialObject("x").malformed);
}

}  // namespace
}  // namespace modelcar::serve

// The tool_choice constraint over a real byte-level tokenizer (single bytes plus a few merged
// tokens, one crossing the end of the forced text), the JSON end scanner, and the streamer that
// turns the forced text into the tool call.
#include "serve/tool_choice.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "serve/byte_tokenizer_test_util.h"

namespace modelcar::serve {
namespace {

using json = nlohmann::json;

constexpr int32_t kEnd = 256, kOpen = 257, kNameTok = 258, kBraceQuote = 259;

llm::Tokenizer Vocab() {
  return ByteTestTokenizer(
      kEnd,
      {{"<tool_call>\n{\"name\": \"", kOpen}, {"get_weather\"", kNameTok}, {"{\"", kBraceQuote}});
}

bool Has(const std::vector<int32_t>* v, int32_t id) {
  return v && std::find(v->begin(), v->end(), id) != v->end();
}
bool Has(const TokenMask* m, int32_t id) { return m && MaskAllows(*m, id); }

TEST(JsonObjectScanner, EndsAtTheMatchingBraceOutsideStrings) {
  JsonObjectScanner s;
  const std::string body = R"("a": "}\"{", "b": [1, {"c": 2}]} tail)";
  EXPECT_EQ(s.Feed(body.substr(0, 10)), std::string_view::npos);
  size_t n = s.Feed(body.substr(10));
  ASSERT_NE(n, std::string_view::npos);
  EXPECT_EQ(body.substr(10, n).back(), '}');
  EXPECT_EQ(body.substr(10 + n), " tail");
  EXPECT_TRUE(s.done());
}

TEST(ToolCallConstraint, ForcesThePrefixAndOnlyKnownNames) {
  llm::Tokenizer tok = Vocab();
  auto c = ToolCallConstraintFactory(tok, {"get_weather", "get_time"})();
  // Start: '<' or the merged opening token; never the special end token.
  ASSERT_NE(c->Allowed(), nullptr);
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'<', kOpen}));
  EXPECT_FALSE(c->Accept(kOpen));
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'g', kNameTok}));
  for (char ch : std::string("get_")) {
    ASSERT_TRUE(Has(c->Allowed(), ch));
    EXPECT_FALSE(c->Accept(ch));
  }
  // The names diverge: only their next letters.
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'t', 'w'}));
  EXPECT_FALSE(c->Accept('t'));
  for (char ch : std::string("ime\", \"arguments\": ")) {
    ASSERT_EQ(MaskIds(*c->Allowed()).size(), 1u) << ch;
    EXPECT_FALSE(c->Accept(ch));
  }
  // The opening brace alone, or a token running past it into the free part.
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'{', kBraceQuote}));
  EXPECT_FALSE(c->Accept(kBraceQuote));
  EXPECT_EQ(c->Allowed(), nullptr) << "the arguments are free";
  for (char ch : std::string("x\": [1, \"}\"]")) EXPECT_FALSE(c->Accept(ch));
  EXPECT_TRUE(c->Accept('}')) << "the arguments object closed";
}

TEST(ToolCallConstraint, NamedForcesItsName) {
  llm::Tokenizer tok = Vocab();
  auto c = ToolCallConstraintFactory(tok, {"get_time"})();
  std::string out;
  while (const TokenMask* m = c->Allowed()) {
    std::vector<int32_t> ids = MaskIds(*m);
    const std::vector<int32_t>* a = &ids;
    ASSERT_FALSE(Has(a, kEnd));
    int32_t pick = a->back();  // the longest-id choice: merged tokens when they fit
    out += tok.TokenBytes(pick);
    ASSERT_FALSE(c->Accept(pick));
  }
  EXPECT_EQ(out.substr(0, ForcedToolCallPrefix("get_time").size()),
            ForcedToolCallPrefix("get_time"));
}

TEST(ForcedToolStreamer, StartsWithTheNameThenStreamsArguments) {
  ForcedToolStreamer s({"get_weather", "get_time"}, false);
  const std::string text = ForcedToolCallPrefix("get_time") + R"("tz": "UTC"}}</tool_call>)";
  std::string args;
  std::optional<ToolCall> start;
  for (size_t i = 0; i < text.size(); i += 5) {
    ForcedToolStreamer::Delta d = s.Append(text.substr(i, 5));
    if (d.start) {
      ASSERT_FALSE(start.has_value());
      start = d.start;
      args += d.start->arguments;
    }
    args += d.arguments;
  }
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->name, "get_time");
  EXPECT_EQ(start->id.rfind("chatcmpl-tool-", 0), 0u);
  EXPECT_EQ(args, R"({"tz": "UTC"})");
  EXPECT_EQ(s.call()->arguments, args);
  EXPECT_FALSE(s.Finish().has_value());

  // Garbage arguments cut short: the raw text is the arguments.
  ForcedToolStreamer g({"get_time"}, true);
  g.Append(ForcedToolCallPrefix("get_time") + "zz q");
  EXPECT_EQ(g.call()->arguments, "{zz q");

  // Cut before the name completed: a named choice still reports its call, "required" none.
  ForcedToolStreamer named({"get_time"}, true), required({"get_time"}, false);
  named.Append("<tool_call>\n{\"na");
  required.Append("<tool_call>\n{\"na");
  std::optional<ToolCall> late = named.Finish();
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->name, "get_time");
  EXPECT_EQ(late->arguments, "");
  EXPECT_FALSE(required.Finish().has_value());
}

}  // namespace
}  // namespace modelcar::serve

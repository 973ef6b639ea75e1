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

constexpr int32_t kEnd = 256, kOpen = 257, kNameTok = 258, kBraceQuote = 259, kCloseJunk = 260;

llm::Tokenizer Vocab() {
  return ByteTestTokenizer(kEnd, {{"<tool_call>\n{\"name\": \"", kOpen},
                                  {"get_weather\"", kNameTok},
                                  {"{\"", kBraceQuote},
                                  {"},", kCloseJunk}});
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
  EXPECT_EQ(s.deepest(), 3);  // the object, the array, the inner object; not the quoted braces
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
    if (!d.started.empty()) {
      ASSERT_FALSE(start.has_value());
      ASSERT_EQ(d.started.size(), 1u);
      start = d.started[0];
      args += d.started[0].arguments;
    }
    args += d.arguments;
  }
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->name, "get_time");
  EXPECT_EQ(start->id.rfind("chatcmpl-tool-", 0), 0u);
  EXPECT_EQ(args, R"({"tz": "UTC"})");
  EXPECT_EQ(s.calls().at(0).arguments, args);
  EXPECT_FALSE(s.Finish().has_value());

  // Garbage arguments cut short: the raw text is the arguments.
  ForcedToolStreamer g({"get_time"}, true);
  g.Append(ForcedToolCallPrefix("get_time") + "zz q");
  EXPECT_EQ(g.calls().at(0).arguments, "{zz q");

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

// Several calls: after a call's arguments, its end is forced, then the end token or another
// call; without end ids the first call completes the output.
TEST(ToolCallConstraint, SeveralCallsEndWithAnEndToken) {
  llm::Tokenizer tok = Vocab();
  auto c = ToolCallConstraintFactory(tok, {"get_weather", "get_time"}, {kEnd})();
  auto feed = [&](std::string_view bytes) {
    for (char ch : bytes) {
      ASSERT_TRUE(Has(c->Allowed(), static_cast<unsigned char>(ch))) << bytes;
      ASSERT_FALSE(c->Accept(static_cast<unsigned char>(ch))) << bytes;
    }
  };
  EXPECT_FALSE(c->Accept(kOpen));
  feed("get_time\", \"arguments\": ");
  EXPECT_FALSE(c->Accept(kBraceQuote));
  EXPECT_EQ(c->Allowed(), nullptr);
  for (char ch : std::string("tz\": \"}\"}")) EXPECT_FALSE(c->Accept(ch));
  // The arguments closed: the call's end is forced, never the end token yet.
  ASSERT_NE(c->Allowed(), nullptr);
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'}'}));
  feed("}\n</tool_call>");
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'\n', kEnd}));
  feed("\n");
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'<', kOpen}));
  EXPECT_FALSE(c->Accept(kOpen));
  EXPECT_FALSE(c->Accept(kNameTok));
  feed(", \"arguments\": {");
  for (char ch : std::string("}}\n</tool_call>")) EXPECT_FALSE(c->Accept(ch));
  EXPECT_TRUE(Has(c->Allowed(), kEnd));
  EXPECT_TRUE(c->Accept(kEnd));

  // A free token past the closing brace into text that cannot end the call: complete.
  auto d = ToolCallConstraintFactory(tok, {"get_time"}, {kEnd})();
  EXPECT_FALSE(d->Accept(kOpen));
  for (char ch : std::string("get_time\", \"arguments\": {")) EXPECT_FALSE(d->Accept(ch));
  EXPECT_TRUE(d->Accept(kCloseJunk));
}

TEST(ForcedToolStreamer, SeveralCallsInOrder) {
  const std::string text = ForcedToolCallPrefix("get_time") + R"("tz": "UTC"})" +
                           std::string(kToolCallEnd) + "\n" + ForcedToolCallPrefix("get_weather") +
                           R"("city": "Oslo"})" + std::string(kToolCallEnd);
  for (size_t step : {size_t{1}, size_t{3}, size_t{7}, text.size()}) {
    ForcedToolStreamer s({"get_weather", "get_time"}, false);
    std::vector<std::string> names, args;
    for (size_t i = 0; i < text.size(); i += step) {
      ForcedToolStreamer::Delta d = s.Append(text.substr(i, step));
      if (!d.arguments.empty()) args.at(d.arguments_index) += d.arguments;
      ASSERT_EQ(d.first_started, static_cast<int>(names.size()));
      for (const ToolCall& call : d.started) {
        names.push_back(call.name);
        args.push_back(call.arguments);
      }
    }
    EXPECT_EQ(names, (std::vector<std::string>{"get_time", "get_weather"})) << step;
    EXPECT_EQ(args, (std::vector<std::string>{R"({"tz": "UTC"})", R"({"city": "Oslo"})"})) << step;
    ASSERT_EQ(s.calls().size(), 2u);
    EXPECT_EQ(s.calls()[1].arguments, args[1]);
    EXPECT_NE(s.calls()[0].id, s.calls()[1].id);
  }
}

}  // namespace
}  // namespace modelcar::serve

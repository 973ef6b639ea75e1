// The grammar engine end to end: regexes, JSON schemas and EBNF compiled to DFAs with calls, run
// byte by byte and token by token. Random walks through each grammar (a random byte among the
// allowed ones at every step) must always reach an end and produce what the source describes:
// checked against std::regex, nlohmann's JSON parser and the schema's constraints.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <regex>

#include "llm/grammar/ebnf.h"
#include "llm/grammar/json_schema.h"
#include "llm/grammar/matcher.h"
#include "llm/grammar/regex.h"

namespace modelcar::llm::grammar {
namespace {

using json = nlohmann::ordered_json;

std::shared_ptr<GrammarRuntime> Runtime(Result<Grammar> g) {
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  auto c = CompiledGrammar::Compile(*g);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::make_shared<GrammarRuntime>(*c);
}

Result<Grammar> RegexGrammar(const std::string& pattern) {
  Grammar g;
  int r = g.AddRule("root");
  auto f = RegexFrag(pattern, &g.nfa(r));
  if (!f.ok()) return f.status();
  g.SetBody(r, *f);
  return g;
}

// True when `text` is a complete sentence of the grammar.
bool Matches(GrammarRuntime& rt, std::string_view text) {
  int s = rt.StepBytes(rt.Initial(), text);
  return s != GrammarRuntime::kDead && rt.CanEnd(s);
}

// A random sentence: a random allowed byte at each step, stopping at a possible end with
// probability 1/4. Fails the test on a dead end (a prefix that cannot be completed).
std::optional<std::string> Walk(GrammarRuntime& rt, std::mt19937& rng, size_t max_len = 400) {
  std::string out;
  int s = rt.Initial();
  while (out.size() < max_len) {
    std::vector<int> bytes;
    for (int b = 0; b < 256; ++b) {
      if (rt.Step(s, uint8_t(b)) != GrammarRuntime::kDead) bytes.push_back(b);
    }
    if (rt.CanEnd(s) && (bytes.empty() || rng() % 4 == 0)) return out;
    EXPECT_FALSE(bytes.empty()) << "dead end after " << out;
    if (bytes.empty()) return std::nullopt;
    // Prefer structure over long free text: ASCII punctuation and letters first.
    int b = bytes[rng() % bytes.size()];
    out.push_back(char(b));
    s = rt.Step(s, uint8_t(b));
  }
  return std::nullopt;  // too long: not checked
}

bool ValidUtf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

TEST(Regex, RandomSentencesMatchStdRegex) {
  std::mt19937 rng(1);
  for (const std::string p :
       {"[a-c]{2,4}x?", "(foo|ba[rz])+", "\\d{3}-\\d{4}", "[^\"\\\\]{1,5}", "(?:ab|a)(?:bc|c)",
        "a.b", "colou?r", "[A-Z][a-z]*( [A-Z][a-z]*){0,2}", "x{3}", "(a|b){2,}c"}) {
    auto rt = Runtime(RegexGrammar(p));
    std::regex re(p);
    int checked = 0;
    for (int i = 0; i < 60; ++i) {
      auto s = Walk(*rt, rng, 60);
      if (!s) continue;
      ++checked;
      EXPECT_TRUE(ValidUtf8(*s)) << p;
      if (p == "a.b" || p == "[^\"\\\\]{1,5}") continue;  // non-ASCII: std::regex is byte-wise
      EXPECT_TRUE(std::regex_match(*s, re)) << p << " produced " << *s;
    }
    EXPECT_GT(checked, 20) << p;
  }
  auto rt = Runtime(RegexGrammar("(foo|ba[rz])+"));
  EXPECT_TRUE(Matches(*rt, "foobazbar"));
  EXPECT_FALSE(Matches(*rt, "fooba"));
  EXPECT_FALSE(Matches(*rt, ""));
  EXPECT_EQ(rt->StepBytes(rt->Initial(), "fox"), GrammarRuntime::kDead);
}

TEST(Regex, UnicodeClassesEncodeOnlyValidUtf8) {
  auto rt = Runtime(RegexGrammar("[^a-z]{1,3}"));
  std::mt19937 rng(2);
  for (int i = 0; i < 300; ++i) {
    auto s = Walk(*rt, rng, 20);
    if (s) {
      EXPECT_TRUE(ValidUtf8(*s));
    }
  }
  EXPECT_TRUE(Matches(*rt, "\xc3\xa9\xf0\x9f\x98\x80"));  // é 😀
  EXPECT_FALSE(Matches(*rt, "\xed\xa0\x80"));             // a surrogate
  EXPECT_FALSE(Matches(*rt, "\xc0\xaf"));                 // overlong
  auto e = Runtime(RegexGrammar("\\u00e9+"));
  EXPECT_TRUE(Matches(*e, "\xc3\xa9\xc3\xa9"));
}

TEST(Regex, UnsupportedConstructsAreNamed) {
  for (const auto& [p, what] :
       std::vector<std::pair<std::string, std::string>>{{"(?=a)b", "lookarounds"},
                                                        {"(a)\\1", "backreferences"},
                                                        {"\\bword", "word boundar"},
                                                        {"a{5,2}", "m < n"},
                                                        {"a{100000}", "repetition count"},
                                                        {"[a-", "unterminated"},
                                                        {"(ab", "missing ')'"},
                                                        {"*a", "nothing to repeat"}}) {
    auto g = RegexGrammar(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_NE(g.status().message().find(what), std::string::npos) << g.status().message();
  }
}

TEST(JsonSchema, IntegerRangesAreExact) {
  for (const auto& [lo, hi] : std::vector<std::pair<int, int>>{
           {-37, 125}, {0, 0}, {5, 9}, {10, 99}, {-5, -1}, {7, 1000}, {-120, 3}}) {
    json schema = {{"type", "integer"}, {"minimum", lo}, {"maximum", hi}};
    auto rt = Runtime(JsonSchemaGrammar(schema));
    for (int v = -1100; v <= 1100; ++v) {
      EXPECT_EQ(Matches(*rt, std::to_string(v)), v >= lo && v <= hi)
          << v << " in [" << lo << ", " << hi << "]";
    }
    EXPECT_FALSE(Matches(*rt, "007"));
  }
  auto open = Runtime(JsonSchemaGrammar({{"type", "integer"}, {"exclusiveMinimum", 41}}));
  EXPECT_FALSE(Matches(*open, "41"));
  EXPECT_TRUE(Matches(*open, "42"));
  EXPECT_TRUE(Matches(*open, "123456789"));
  EXPECT_FALSE(Matches(*open, "-1"));
  auto num = Runtime(JsonSchemaGrammar({{"type", "number"}, {"minimum", 0}, {"maximum", 1}}));
  EXPECT_TRUE(Matches(*num, "0.25"));
  EXPECT_TRUE(Matches(*num, "1"));
  EXPECT_FALSE(Matches(*num, "1.5"));
  EXPECT_FALSE(Matches(*num, "-0.5"));
}

// A schema with most supported keywords; every random walk must parse and validate.
TEST(JsonSchema, RandomOutputsParseAndValidate) {
  json schema = json::parse(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string", "minLength": 1, "maxLength": 5},
      "age": {"type": "integer", "minimum": 0, "maximum": 120},
      "tags": {"type": "array", "items": {"enum": ["a", "b", 3, null]}, "minItems": 1,
               "maxItems": 3},
      "kind": {"const": "person"},
      "when": {"type": "string", "format": "date"},
      "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2}$"},
      "score": {"anyOf": [{"type": "number"}, {"type": "null"}]},
      "child": {"$ref": "#/$defs/node"}
    },
    "required": ["name", "age", "kind"],
    "$defs": {"node": {"type": "object", "properties": {
      "v": {"type": "boolean"}, "next": {"$ref": "#/$defs/node"}}, "required": ["v"]}}
  })");
  auto rt = Runtime(JsonSchemaGrammar(schema));
  std::mt19937 rng(3);
  int checked = 0;
  for (int i = 0; i < 300; ++i) {
    auto s = Walk(*rt, rng, 600);
    if (!s) continue;
    ++checked;
    json v = json::parse(*s);  // throws (fails the test) if not JSON
    ASSERT_TRUE(v.is_object()) << *s;
    ASSERT_TRUE(v.contains("name") && v.contains("age") && v.contains("kind")) << *s;
    std::u32string name;
    for (unsigned char c : v["name"].get<std::string>()) {
      if ((c & 0xC0) != 0x80) name.push_back(c);
    }
    EXPECT_TRUE(name.size() >= 1 && name.size() <= 5) << *s;
    EXPECT_TRUE(v["age"].get<int>() >= 0 && v["age"].get<int>() <= 120) << *s;
    EXPECT_EQ(v["kind"], "person");
    for (auto it = v.begin(); it != v.end(); ++it) {
      EXPECT_TRUE(schema["properties"].contains(it.key())) << "extra key " << it.key();
    }
    if (v.contains("tags")) {
      EXPECT_TRUE(v["tags"].size() >= 1 && v["tags"].size() <= 3) << *s;
    }
    if (v.contains("code")) {
      EXPECT_TRUE(std::regex_match(v["code"].get<std::string>(), std::regex("[A-Z]{2}[0-9]{2}")));
    }
    if (v.contains("when")) {
      EXPECT_TRUE(
          std::regex_match(v["when"].get<std::string>(), std::regex("\\d{4}-\\d{2}-\\d{2}")));
    }
    for (const json* node = v.contains("child") ? &v["child"] : nullptr; node;
         node = node->contains("next") ? &(*node)["next"] : nullptr) {
      EXPECT_TRUE((*node)["v"].is_boolean()) << *s;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(JsonSchema, AnyJsonAndWhitespaceModes) {
  auto rt = Runtime(AnyJsonGrammar());
  std::mt19937 rng(4);
  for (int i = 0; i < 200; ++i) {
    auto s = Walk(*rt, rng, 300);
    if (!s) continue;
    json v = json::parse(*s);
    EXPECT_TRUE(v.is_object() || v.is_array()) << *s;
  }
  EXPECT_TRUE(Matches(*rt, R"({"a": [1, {"b": null}], "c": "\u00e9"})"));
  EXPECT_FALSE(Matches(*rt, R"("just a string")"));
  JsonGrammarOptions compact;
  compact.any_whitespace = false;
  json schema = {{"type", "object"},
                 {"properties", {{"a", {{"type", "integer"}}}, {"b", {{"type", "boolean"}}}}},
                 {"required", {"a", "b"}}};
  auto c = Runtime(JsonSchemaGrammar(schema, compact));
  EXPECT_TRUE(Matches(*c, R"({"a": 1, "b": true})"));
  EXPECT_FALSE(Matches(*c, R"({"a":1,"b":true})"));
  EXPECT_FALSE(Matches(*c, R"({"b": true, "a": 1})"));  // schema order
  auto loose = Runtime(JsonSchemaGrammar(schema));
  EXPECT_TRUE(Matches(*loose, "{\n  \"a\" : 1 ,\n  \"b\": false\n}"));
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  for (const auto& [s, what] : std::vector<std::pair<std::string, std::string>>{
           {R"({"type": "integer", "multipleOf": 3})", "multipleOf"},
           {R"({"type": "object", "patternProperties": {}, "propertyNames": {}})",
            "patternProperties, propertyNames"},
           {R"({"type": "array", "uniqueItems": true})", "uniqueItems"},
           {R"({"not": {"type": "null"}})", "not"},
           {R"({"type": "string", "format": "iri"})", "format \"iri\""},
           {R"({"properties": {"x": {"if": {}}}})", "if (at #/properties/x)"},
           {R"({"$ref": "http://x/y.json"})", "local $ref"},
           {R"({"type": "number", "minimum": 0.5})", "minimum/maximum"}}) {
    auto g = JsonSchemaGrammar(json::parse(s));
    ASSERT_FALSE(g.ok()) << s;
    EXPECT_NE(g.status().message().find(what), std::string::npos) << g.status().message();
  }
  // A schema that can only recurse forever is refused, not run.
  auto loop = JsonSchemaGrammar(json::parse(R"({"anyOf": [{"$ref": "#"}]})"));
  if (loop.ok()) {
    EXPECT_FALSE(CompiledGrammar::Compile(*loop).ok());
  }
}

TEST(Ebnf, GbnfAndLarkForms) {
  auto rt = Runtime(EbnfGrammar(R"(
    root ::= answer ("," answer)*   # a list
    answer ::= "yes" | "no" | num
    num ::= [1-9] [0-9]{0,2}
  )"));
  EXPECT_TRUE(Matches(*rt, "yes,no,42"));
  EXPECT_FALSE(Matches(*rt, "yes,"));
  EXPECT_FALSE(Matches(*rt, "0"));
  auto lark = Runtime(EbnfGrammar(R"(
    start: item+
    ?item: "a" | NUM   // comment
    NUM: /[0-9]+/
  )"));
  EXPECT_TRUE(Matches(*lark, "a12a"));
  EXPECT_FALSE(Matches(*lark, "b"));
  auto escapes = Runtime(EbnfGrammar(R"(root ::= "\x41\u00e9\U0001F600")"));
  EXPECT_TRUE(Matches(*escapes, "A\xc3\xa9\xf0\x9f\x98\x80"));  // A é 😀
  auto nested = Runtime(EbnfGrammar(R"g(root ::= "(" root ")" | "x")g"));
  EXPECT_TRUE(Matches(*nested, "(((x)))"));
  EXPECT_FALSE(Matches(*nested, "((x)"));
  for (const auto& [text, what] : std::vector<std::pair<std::string, std::string>>{
           {"root ::= root \"a\" | \"b\"", "left-recursive"},
           {"root ::= missing", "undefined rule 'missing'"},
           {"answer ::= \"x\"", "no 'root' rule"},
           {"root ::= \"x", "unterminated string"},
           {"root ::= \"a\"{3,1}", "n < m"},
           {"root ::= \"\\U00110000\"", "code point out of range"}}) {
    auto g = EbnfGrammar(text);
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_NE(g.status().message().find(what), std::string::npos) << g.status().message();
  }
}

TEST(Matcher, MasksEqualBruteForceAndEndWithEos) {
  const std::vector<std::string> vocab = {"{",  "}", "\"", "a",   "ab",  "\"a", ":",  "1",
                                          "12", " ", "",   "\"}", "b\"", "}}",  "1}", ", "};
  const int32_t eos = 10;  // the empty-bytes (special) token
  auto trie = std::make_shared<const TokenTrie>(vocab);
  json schema = {{"type", "object"},
                 {"properties", {{"a", {{"type", "integer"}}}, {"ab", {{"type", "string"}}}}}};
  auto rt = Runtime(JsonSchemaGrammar(schema));
  Matcher m(rt, trie, {eos});
  std::mt19937 rng(5);
  std::string text;
  for (int step = 0; step < 200; ++step) {
    const TokenMask& mask = m.Allowed();
    std::vector<int32_t> allowed;
    for (int32_t id = 0; id < int32_t(vocab.size()); ++id) {
      bool bit = (mask[id >> 6] >> (id & 63)) & 1;
      bool brute = id == eos ? m.CanEnd()
                             : rt->StepBytes(rt->StepBytes(rt->Initial(), text), vocab[id]) !=
                                   GrammarRuntime::kDead;
      EXPECT_EQ(bit, brute) << "token " << id << " after " << text;
      if (bit) allowed.push_back(id);
    }
    ASSERT_FALSE(allowed.empty()) << text;
    int32_t t = allowed[rng() % allowed.size()];
    auto r = m.Accept(t, vocab[t]);
    if (r == Matcher::Result::kEnded) break;
    ASSERT_EQ(r, Matcher::Result::kContinue);
    text += vocab[t];
  }
  EXPECT_EQ(m.Accept(3, "zzz"), Matcher::Result::kRejected);
  EXPECT_GT(rt->num_states(), 3u);
}

TEST(Grammar, LimitsRefuseHugeAutomata) {
  Grammar g;
  int r = g.AddRule("root");
  Nfa& n = g.nfa(r);
  g.SetBody(r, n.Repeat([&] { return n.Chars(CharSet::Any()); }, 0, 1000));
  CompileLimits tight;
  tight.max_dfa_states = 500;
  auto c = CompiledGrammar::Compile(g, tight);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("too large"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::llm::grammar

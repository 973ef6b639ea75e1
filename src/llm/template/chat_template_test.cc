#include "llm/template/chat_template.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "llm/template/value.h"

namespace modelcar {
namespace {

using nlohmann::ordered_json;

std::string Render(const std::string& tmpl, const ordered_json& ctx = ordered_json::object()) {
  Result<std::string> r = RenderChatTemplate(tmpl, ctx);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "<error>";
}

Status RenderError(const std::string& tmpl, const ordered_json& ctx = ordered_json::object()) {
  Result<std::string> r = RenderChatTemplate(tmpl, ctx);
  EXPECT_FALSE(r.ok()) << "rendered: " << (r.ok() ? *r : "");
  return r.status();
}

TEST(ChatTemplateTest, TextAndTrailingNewline) {
  EXPECT_EQ(Render("hello\n"), "hello");
  EXPECT_EQ(Render("a\r\nb"), "a\nb");
  EXPECT_EQ(Render(""), "");
}

TEST(ChatTemplateTest, WhitespaceControlLikeHf) {
  // trim_blocks removes the newline after a block tag; lstrip_blocks the indent before it.
  EXPECT_EQ(Render("x\n    {% if true %}\n    y\n    {% endif %}\nz"), "x\n    y\nz");
  EXPECT_EQ(Render("a  {{- 'b' -}}  c"), "abc");
  EXPECT_EQ(Render("a {# c #} b"), "a  b");
  EXPECT_EQ(Render("  {{ 'v' }}  "), "  v  ");  // no lstrip for variables
  EXPECT_EQ(Render("    {%+ if true %}k{% endif %}"), "    k");
}

TEST(ChatTemplateTest, Expressions) {
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 1 ~ none }}"),
            "3 2 3.5 8 1None");
  EXPECT_EQ(Render("{{ 'a' if x else 'b' }}{{ [1, 'a', none, true] }}"), "b[1, 'a', None, True]");
  EXPECT_EQ(Render("{{ 'héllo'[::-1] }} {{ 'héllo'|length }} {{ [1, 2, 3][1:] }}"),
            "olléh 5 [2, 3]");
  EXPECT_EQ(Render("{{ 1 < 2 < 3 }} {{ 'b' in 'abc' }} {{ 3 not in [1] }}"), "True True True");
}

TEST(ChatTemplateTest, ForLoopVariablesAndScoping) {
  EXPECT_EQ(Render("{% for x in 'abc' %}{{ loop.index }}{{ loop.last }}{% endfor %}"),
            "1False2False3True");
  EXPECT_EQ(
      Render("{% set a = 1 %}{% for i in [1, 2] %}{% set a = a + i %}{{ a }}{% endfor %}{{ a }}"),
      "231");
  EXPECT_EQ(Render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
                   "{% endfor %}{{ ns.n }}"),
            "6");
  EXPECT_EQ(Render("{% for i in range(9) if i is even %}{% if i > 4 %}{% break %}{% endif %}{{ i }}"
                   "{% else %}none{% endfor %}"),
            "024");
  EXPECT_EQ(Render("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}{{ v }}{% endfor %}"), "b1a2");
}

TEST(ChatTemplateTest, MacrosAndBlockSet) {
  EXPECT_EQ(
      Render("{% macro f(a, b='B') %}[{{ a }}{{ b }}]{% endmacro %}{{ f(1) }}{{ f(2, b=3) }}"),
      "[1B][23]");
  EXPECT_EQ(Render("{% set x %}in{{ 1 }}{% endset %}<{{ x }}>"), "<in1>");
}

TEST(ChatTemplateTest, TojsonMatchesPythonJsonDumps) {
  ordered_json ctx = ordered_json::parse(R"({"d": {"z": 1, "a": [1.0, "é\n", null, true]}})");
  EXPECT_EQ(Render("{{ d|tojson }}", ctx), R"({"z": 1, "a": [1.0, "é\n", null, true]})");
  EXPECT_EQ(Render("{{ d|tojson(indent=2) }}", ctx),
            "{\n  \"z\": 1,\n  \"a\": [\n    1.0,\n    \"é\\n\",\n    null,\n    true\n  ]\n}");
  EXPECT_EQ(Render("{{ 1e-7 }} {{ 1e16 }} {{ 0.1 + 0.2 }}"), "1e-07 1e+16 0.30000000000000004");
}

// Python's json.dumps(json.loads(kFloats), ensure_ascii=False) prints floats as their repr
// (shortest round-trip digits; an exponent from 1e16 up and below 1e-4): `tojson` and the writer
// over parsed JSON (serve's tool-call arguments) print the same.
TEST(ChatTemplateTest, JsonDumpsOfFloatsMatchesPythonInBothUses) {
  const char* floats =
      "[1e15, 1e16, 1e-05, 0.0001, 0.30000000000000004, 1e22, -0.0, 5e-324, "
      "1.7976931348623157e308, 123456789.125, 2.5, 100.0, 1E3, 0]";
  const std::string python =  // printed by python3
      "[1000000000000000.0, 1e+16, 1e-05, 0.0001, 0.30000000000000004, 1e+22, -0.0, 5e-324, "
      "1.7976931348623157e+308, 123456789.125, 2.5, 100.0, 1000.0, 0]";
  const ordered_json j = ordered_json::parse(floats);
  EXPECT_EQ(tmpl::PyJsonDumps(j), python);
  EXPECT_EQ(Render("{{ x|tojson }}", ordered_json{{"x", j}}), python);
}

TEST(ChatTemplateTest, JsonDumpsOfParsedJsonMatchesPython) {
  // Integers stay exact (uint64 too); strings escaped as Python's (DEL and non-ASCII as they are).
  EXPECT_EQ(tmpl::PyJsonDumps(ordered_json::parse("[18446744073709551615, -9223372036854775808]")),
            "[18446744073709551615, -9223372036854775808]");
  const ordered_json j = ordered_json::parse(
      R"({"b": "\u0001\u001f\u007f é \" \\ \n\t\b\f\r", "a": {"z": [], "y": {}}, "n": null,)"
      R"( "t": true})");
  const std::string python =
      "{\"b\": \"\\u0001\\u001f\x7f é \\\" \\\\ \\n\\t\\b\\f\\r\", \"a\": {\"z\": [], \"y\": "
      "{}}, \"n\": null, \"t\": true}";
  EXPECT_EQ(tmpl::PyJsonDumps(j), python);
  EXPECT_EQ(Render("{{ x|tojson }}", ordered_json{{"x", j}}), python);
}

TEST(ChatTemplateTest, KeyOrderFollowsOrderedJson) {
  ordered_json ctx;
  ctx["d"] = ordered_json::object();
  ctx["d"]["zeta"] = 1;
  ctx["d"]["alpha"] = 2;
  EXPECT_EQ(Render("{{ d|tojson }}", ctx), R"({"zeta": 1, "alpha": 2})");
}

TEST(ChatTemplateTest, UndefinedBehavesLikeJinjaDefault) {
  EXPECT_EQ(Render("[{{ missing }}][{{ missing is defined }}][{{ d.nokey }}]",
                   ordered_json::parse(R"({"d": {}})")),
            "[][False][]");
  Status s = RenderError("{{ missing.attr }}");
  EXPECT_NE(s.message().find("'missing' is undefined"), std::string::npos) << s.ToString();
}

TEST(ChatTemplateTest, RaiseExceptionIsAClearError) {
  Status s = RenderError("line1\n{{ raise_exception('Only user and assistant roles') }}");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("Only user and assistant roles"), std::string::npos);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.ToString();
}

TEST(ChatTemplateTest, ParseErrorsNameTheConstructAndLine) {
  Result<ChatTemplate> r = ChatTemplate::Parse("ok\n{{ x | nosuchfilter }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown filter 'nosuchfilter'"), std::string::npos);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().ToString();

  r = ChatTemplate::Parse("{% for x in y %}\n{{ x }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("endfor"), std::string::npos) << r.status().ToString();

  r = ChatTemplate::Parse("a\n\n{% include 'other.jinja' %}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
  EXPECT_NE(r.status().message().find("'{% include %}'"), std::string::npos);
  EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().ToString();

  r = ChatTemplate::Parse("{{ x is nosuchtest }}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown test 'nosuchtest'"), std::string::npos);

  for (const char* bad :
       {"{{ 'unterminated }}", "{{ x ", "{% if x %}", "{% endif %}", "{# open comment", "{{ (1, }}",
        "{% break %}", "{% set %}", "{% macro m( %}{% endmacro %}", "{{ x[ }}", "{{ f(**k) }}"}) {
    EXPECT_FALSE(ChatTemplate::Parse(bad).ok()) << bad;
  }
}

TEST(ChatTemplateTest, RuntimeErrors) {
  EXPECT_NE(RenderError("{{ 'a' + 1 }}").message().find("can only concatenate str"),
            std::string::npos);
  EXPECT_NE(RenderError("{{ 1 / 0 }}").message().find("division by zero"), std::string::npos);
  EXPECT_NE(RenderError("{% for x in none %}{% endfor %}").message().find("not iterable"),
            std::string::npos);
  EXPECT_NE(RenderError("{{ 1 < 'a' }}").message().find("not supported"), std::string::npos);
  // Unbounded work is refused, not attempted.
  EXPECT_EQ(RenderError("{{ range(100000000)|length }}").code(), Code::kResourceExhausted);
  EXPECT_EQ(RenderError("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}").code(),
            Code::kResourceExhausted);
  EXPECT_EQ(RenderError("{{ ('x' * 1000000) * 1000000 }}").code(), Code::kResourceExhausted);
  EXPECT_EQ(RenderError("{% for i in range(10000) %}{% for j in range(1000) %}{% endfor %}"
                        "{% endfor %}")
                .code(),
            Code::kResourceExhausted);
  EXPECT_FALSE(RenderChatTemplate("{{ x }}", ordered_json::array()).ok());
}

// Integers are 64-bit: Python's results where they fit, an error (never wraparound or UB) where
// Python's unbounded int would leave that range.
TEST(ChatTemplateTest, IntegerArithmeticStaysIn64Bits) {
  EXPECT_EQ(Render("{{ 2 ** 62 }} {{ (-2) ** 63 }} {{ 3 ** 0 }}"),
            "4611686018427387904 -9223372036854775808 1");
  EXPECT_EQ(Render("{{ -7 // 2 }} {{ -7 % 2 }} {{ 7 % -2 }} {{ 9223372036854775807 // -1 }}"),
            "-4 1 -1 -9223372036854775807");
  EXPECT_EQ(Render("{{ (-9223372036854775807 - 1) % -1 }}"), "0");
  EXPECT_EQ(Render("{{ 4.6e18|int }} {{ '-1.5e3'|int }} {{ '%d'|format(2.9) }}"),
            "4600000000000000000 -1500 2");
  EXPECT_EQ(Render("{{ [1, 2, 3, 4][1::9223372036854775807] }} "
                   "{{ [1, 2, 3][::-9223372036854775807 - 1] }}"),
            "[2] [3]");
  EXPECT_EQ(Render("{{ range(9223372036854775806, 9223372036854775807, 5)|list }}"),
            "[9223372036854775806]");
  for (const char* t :
       {"{{ 4611686018427387904 * 2 }}", "{{ 9223372036854775807 + 1 }}",
        "{{ -9223372036854775807 - 2 }}", "{{ 2 ** 63 }}", "{{ 10 ** 100 }}",
        "{{ (-9223372036854775807 - 1) // -1 }}", "{{ -(-9223372036854775807 - 1) }}",
        "{{ (-9223372036854775807 - 1)|abs }}", "{{ 1e300|int }}", "{{ '1e300'|int }}",
        "{{ '%d'|format(1e19) }}", "{{ [9223372036854775807, 1]|sum }}"}) {
    EXPECT_NE(RenderError(t).message().find("64-bit"), std::string::npos) << t;
  }
}

TEST(ChatTemplateTest, HostileNestingIsAnErrorNotACrash) {
  std::string deep_expr = "{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}";
  EXPECT_FALSE(ChatTemplate::Parse(deep_expr).ok());
  std::string deep_blocks;
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
  EXPECT_FALSE(ChatTemplate::Parse(deep_blocks).ok());
  ordered_json deep = 1;
  for (int i = 0; i < 2000; ++i) deep = ordered_json::array({deep});
  ordered_json ctx;
  ctx["x"] = deep;
  EXPECT_FALSE(RenderChatTemplate("{{ x }}", ctx).ok());
  // Values a template nests itself, one level per loop iteration: refused at the limit, before
  // printing, comparing, dumping or destroying them can recurse out of stack.
  for (const char* use : {"ns.x|length", "ns.x", "ns.x|tojson", "ns.x == ns.x"}) {
    std::string t = std::string("{% set ns = namespace(x=1) %}{% for i in range(2000) %}") +
                    "{% set ns.x = [ns.x] %}{% endfor %}{{ " + use + " }}";
    EXPECT_EQ(RenderError(t).code(), Code::kResourceExhausted) << use;
  }
  EXPECT_EQ(RenderError("{% set ns = namespace(x=1) %}{% for i in range(2000) %}"
                        "{% for y in [ns.x, 0] %}{% if loop.last %}{% set ns.x = loop %}{% endif %}"
                        "{% endfor %}{% endfor %}{{ ns.x }}")
                .code(),
            Code::kResourceExhausted);
  EXPECT_EQ(Render("{% set ns = namespace(x=1) %}{% for i in range(300) %}{% set ns.x = [ns.x] %}"
                   "{% endfor %}{{ ns.x|tojson|length }}"),
            "601");
  // Arguments of the wrong type or size are errors, not exceptions or huge allocations.
  EXPECT_NE(RenderError("{{ 'a'|indent(1.5) }}").message().find("width must be"),
            std::string::npos);
  EXPECT_EQ(RenderError("{{ 'a\nb'|indent(10000000000) }}").code(), Code::kResourceExhausted);
  EXPECT_EQ(RenderError("{{ ('a\n' * 10000000)|indent(10) }}").code(), Code::kResourceExhausted);
  EXPECT_NE(RenderError("{{ 'ab'.startswith('a', 1.5) }}").message().find("slice indices"),
            std::string::npos);
  EXPECT_EQ(RenderError("{{ range(100000)|list|tojson(indent=2000000000) }}").code(),
            Code::kResourceExhausted);
  EXPECT_EQ(Render("{{ [1]|tojson(indent=4294967298) }}").size(), 65536 + 5u);
  EXPECT_FALSE(RenderChatTemplate("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns|tojson }}",
                                  ordered_json::object())
                   .ok());
}

TEST(ChatTemplateTest, ConcurrentRendersOfOneParsedTemplate) {
  Result<ChatTemplate> t = ChatTemplate::Parse(
      "{% for m in messages %}<{{ m.role }}>{{ m.content|trim }}{% endfor %}{{ n }}");
  ASSERT_TRUE(t.ok());
  std::vector<std::thread> threads;
  std::vector<int> bad(8, 0);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) {
        ordered_json ctx;
        ctx["messages"] = ordered_json::array({{{"role", "user"}, {"content", " hi "}}});
        ctx["n"] = i * 1000 + k;
        Result<std::string> r = t->Render(ctx);
        if (!r.ok() || *r != "<user>hi" + std::to_string(i * 1000 + k)) ++bad[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(bad[i], 0);
}

}  // namespace
}  // namespace modelcar

// Every built-in filter against Python jinja2 3.1 configured as HF transformers does (its own
// `tojson`): the expected strings are what jinja2 rendered for the same template and context.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/template/chat_template.h"

namespace modelcar {
namespace {

using nlohmann::ordered_json;

TEST(FiltersTest, MatchJinja2) {
  const ordered_json ctx = ordered_json::parse(
      R"json({"s": "  Hello World  ", "xs": [3, 1, 2], "words": ["b", "A", "c", "a"], "people": [{"name": "bo", "age": 30}, {"name": "al", "age": 25}, {"name": "cy", "age": 30}], "d": {"b": 1, "a": 2}, "f": 2.675, "neg": -3, "html": "<a href=\"x\">&'</a>", "none": null, "text": "one two  three\nfour", "nested": [[1, 2], [3]], "u": "héllo wörld"})json");
  struct Case {
    const char* tmpl;
    const char* want;
  };
  const Case cases[] = {
      {"{{ s|trim }}", "Hello World"},
      {"{{ s|upper }}|{{ s|lower }}", "  HELLO WORLD  |  hello world  "},
      {"{{ s|trim|title }}", "Hello World"},
      {"{{ 'hello WORLD'|capitalize }}", "Hello world"},
      {"{{ xs|sort }}", "[1, 2, 3]"},
      {"{{ xs|sort(reverse=true) }}", "[3, 2, 1]"},
      {"{{ words|sort }}", "['A', 'a', 'b', 'c']"},
      {"{{ words|sort(case_sensitive=true) }}", "['A', 'a', 'b', 'c']"},
      {"{{ people|sort(attribute='age')|map(attribute='name')|join(',') }}", "al,bo,cy"},
      {"{{ xs|first }} {{ xs|last }} {{ xs|length }} {{ xs|sum }} {{ xs|min }} {{ xs|max }}",
       "3 2 3 6 1 3"},
      {"{{ xs|reverse|list }}", "[2, 1, 3]"},
      {"{{ words|unique|list }}", "['b', 'A', 'c']"},
      {"{{ words|join }}", "bAca"},
      {"{{ xs|join('-') }}", "3-1-2"},
      {"{{ people|selectattr('age', 'equalto', 30)|map(attribute='name')|list }}", "['bo', 'cy']"},
      {"{{ people|rejectattr('age', 'gt', 26)|map(attribute='name')|list }}", "['al']"},
      {"{{ xs|select('odd')|list }} {{ xs|reject('odd')|list }}", "[3, 1] [2]"},
      {"{{ d|dictsort }}", "[('a', 2), ('b', 1)]"},
      {"{{ d|items|list }}", "[('b', 1), ('a', 2)]"},
      {"{{ d|tojson }}", "{\"b\": 1, \"a\": 2}"},
      {"{{ people|tojson(indent=2) }}",
       "[\n  {\n    \"name\": \"bo\",\n    \"age\": 30\n  },\n  {\n    \"name\": \"al\",\n    "
       "\"age\": 25\n  },\n  {\n    \"name\": \"cy\",\n    \"age\": 30\n  }\n]"},
      {"{{ u|tojson }}", "\"héllo wörld\""},
      {"{{ s|replace('l', 'L') }}", "  HeLLo WorLd  "},
      {"{{ s|replace('l', 'L', 1) }}", "  HeLlo World  "},
      {"{{ f|round }} {{ f|round(2) }} {{ f|round(1, 'floor') }} {{ 2.5|round }} {{ 3.5|round|int "
       "}}",
       "3.0 2.67 2.6 2.0 4"},
      {"{{ neg|abs }} {{ '42'|int + 1 }} {{ 'x'|int }} {{ '1.5'|float * 2 }} {{ 7|float }}",
       "3 43 0 3.0 7.0"},
      {"{{ html|e }} {{ html|escape }}",
       "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; &lt;a "
       "href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;"},
      {"{{ none|default('dflt') }} {{ missing|default('m') }} {{ ''|default('e', true) }} {{ "
       "missing|d('x') }}",
       "None m e x"},
      {"{{ text|wordcount }}", "4"},
      {"{{ 'a\nb'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}", "a\n  b|  a\n  b"},
      {"{{ '%s=%d'|format('k', 3) }}", "k=3"},
      {"{{ 42|string ~ 'x' }}", "42x"},
      {"{{ nested|map('first')|list }}", "[1, 3]"},
      {"{{ xs|map('string')|join }}", "312"},
      {"{{ u|length }} {{ u|upper }} {{ u|title }}", "11 HÉLLO WÖRLD Héllo Wörld"},
      {"{{ 'abc'|list }}", "['a', 'b', 'c']"},
      {"{{ people|map(attribute='name')|unique|list|count }}", "3"},
      {"{{ 'A B'|lower|replace(' ', '_') }}", "a_b"},
      {"{{ [1, none, 0, '']|select|list }}", "[1]"},
  };
  for (const Case& c : cases) {
    Result<std::string> got = RenderChatTemplate(c.tmpl, ctx);
    ASSERT_TRUE(got.ok()) << c.tmpl << ": " << got.status().ToString();
    EXPECT_EQ(*got, c.want) << c.tmpl;
  }
}

TEST(FiltersTest, BadArgumentsAreRenderErrors) {
  const ordered_json ctx = {{"xs", {1, 2}}, {"n", 5}};
  for (const char* tmpl : {"{{ n|join(',') }}", "{{ xs|round }}", "{{ xs|map(nosuchkw=1)|list }}",
                           "{{ none|length }}"}) {
    Result<std::string> got = RenderChatTemplate(tmpl, ctx);
    EXPECT_FALSE(got.ok()) << tmpl << " rendered " << (got.ok() ? *got : "");
  }
}

}  // namespace
}  // namespace modelcar

// The lexer alone: token kinds, texts and lines, HF's whitespace control, literals, errors.
#include "llm/template/lexer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace modelcar::tmpl {
namespace {

using T = Token::Type;

std::vector<Token> LexOk(std::string_view src, const LexOptions& o = {}) {
  Result<std::vector<Token>> r = Lex(src, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<Token>{};
}

std::vector<T> Types(const std::vector<Token>& toks) {
  std::vector<T> out;
  for (const Token& t : toks) out.push_back(t.type);
  return out;
}

TEST(LexerTest, TextVariablesAndBlocks) {
  auto toks = LexOk("hi {{ name }}{% if x %}y{% endif %}");
  EXPECT_EQ(Types(toks), (std::vector<T>{T::kText, T::kVarBegin, T::kName, T::kVarEnd,
                                         T::kBlockBegin, T::kName, T::kName, T::kBlockEnd, T::kText,
                                         T::kBlockBegin, T::kName, T::kBlockEnd, T::kEof}));
  EXPECT_EQ(toks[0].text, "hi ");
  EXPECT_EQ(toks[2].text, "name");
  EXPECT_EQ(toks[5].text, "if");
  EXPECT_EQ(toks[8].text, "y");
  EXPECT_EQ(toks[10].text, "endif");
}

TEST(LexerTest, EmptySourceIsJustEof) {
  auto toks = LexOk("");
  ASSERT_EQ(toks.size(), 1u);
  EXPECT_EQ(toks[0].type, T::kEof);
}

TEST(LexerTest, LiteralsAndOperators) {
  auto toks = LexOk("{{ 'a\\'b\\n' ~ \"c\" + 12 * 1.5 // 2 ** 3 != -4 }}");
  std::vector<std::pair<T, std::string>> got;
  for (const Token& t : toks) got.emplace_back(t.type, t.text);
  ASSERT_GE(got.size(), 15u);
  EXPECT_EQ(got[1], std::make_pair(T::kString, std::string("a'b\n")));
  EXPECT_EQ(got[2], std::make_pair(T::kOp, std::string("~")));
  EXPECT_EQ(got[3], std::make_pair(T::kString, std::string("c")));
  EXPECT_EQ(got[4], std::make_pair(T::kOp, std::string("+")));
  EXPECT_EQ(got[5], std::make_pair(T::kInt, std::string("12")));
  EXPECT_EQ(got[6], std::make_pair(T::kOp, std::string("*")));
  EXPECT_EQ(got[7], std::make_pair(T::kFloat, std::string("1.5")));
  EXPECT_EQ(got[8], std::make_pair(T::kOp, std::string("//")));
  EXPECT_EQ(got[10], std::make_pair(T::kOp, std::string("**")));
  EXPECT_EQ(got[12], std::make_pair(T::kOp, std::string("!=")));
  EXPECT_EQ(got[13], std::make_pair(T::kOp, std::string("-")));
}

TEST(LexerTest, StringEscapesArePythonUnicodeEscapes) {
  auto toks = LexOk("{{ '\\x41\\u00e9\\t' }}");
  ASSERT_EQ(toks[1].type, T::kString);
  EXPECT_EQ(toks[1].text, "A\xC3\xA9\t");
}

TEST(LexerTest, TrimAndLstripBlocksAsHfConfiguresThem) {
  // lstrip_blocks drops the indent before a block tag, trim_blocks the newline after it.
  auto toks = LexOk("a\n  {% if x %}\nb");
  ASSERT_EQ(toks.front().type, T::kText);
  EXPECT_EQ(toks.front().text, "a\n");
  EXPECT_EQ(toks[toks.size() - 2].text, "b");
  // Turned off, the whitespace stays.
  LexOptions off;
  off.trim_blocks = false;
  off.lstrip_blocks = false;
  auto raw = LexOk("a\n  {% if x %}\nb", off);
  EXPECT_EQ(raw.front().text, "a\n  ");
  EXPECT_EQ(raw[raw.size() - 2].text, "\nb");
}

TEST(LexerTest, MinusAndPlusWhitespaceControl) {
  auto toks = LexOk("a  \n {{- x -}} \n b");
  EXPECT_EQ(toks.front().text, "a");
  EXPECT_EQ(toks[toks.size() - 2].text, "b");
  // "+" keeps the indent that lstrip_blocks would remove.
  auto keep = LexOk("  {%+ if x %}");
  EXPECT_EQ(keep.front().type, T::kText);
  EXPECT_EQ(keep.front().text, "  ");
}

TEST(LexerTest, CommentsAndRawBlocks) {
  EXPECT_EQ(Types(LexOk("{# {{ not a var }} #}")), (std::vector<T>{T::kEof}));
  auto raw = LexOk("{% raw %}{{ kept }}{% endraw %}");
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[0].type, T::kText);
  EXPECT_EQ(raw[0].text, "{{ kept }}");
}

TEST(LexerTest, LinesAreCounted) {
  auto toks = LexOk("a\nb\n{{ x }}\n\n{% y %}");
  for (const Token& t : toks) {
    if (t.type == T::kName && t.text == "x") {
      EXPECT_EQ(t.line, 3);
    }
    if (t.type == T::kName && t.text == "y") {
      EXPECT_EQ(t.line, 5);
    }
  }
}

TEST(LexerTest, ErrorsNameTheLine) {
  for (const char* bad : {"ok\n{{ 'unterminated }}", "ok\n{{ x ", "ok\n{# open comment",
                          "ok\n{% if x ", "ok\n{{ x $ y }}"}) {
    Result<std::vector<Token>> r = Lex(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().ToString();
  }
}

}  // namespace
}  // namespace modelcar::tmpl

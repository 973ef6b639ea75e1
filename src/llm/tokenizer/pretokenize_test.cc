#include "llm/tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace modelcar::llm {
namespace {

std::vector<std::string> Split(std::string_view text, SplitPattern p = SplitPattern::kQwen2) {
  std::vector<Piece> pieces;
  SplitText(p, text, &pieces);
  std::vector<std::string> out;
  size_t covered = 0;
  for (const Piece& piece : pieces) {
    EXPECT_EQ(piece.begin, covered);
    EXPECT_LT(piece.begin, piece.end);
    covered = piece.end;
    out.emplace_back(text.substr(piece.begin, piece.end - piece.begin));
  }
  EXPECT_EQ(covered, text.size());
  return out;
}

using V = std::vector<std::string>;

TEST(PretokenizeTest, Words) {
  EXPECT_EQ(Split("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Split(" Hello"), (V{" Hello"}));
  EXPECT_EQ(Split("(hello)"), (V{"(hello", ")"}));
}

TEST(PretokenizeTest, Contractions) {
  EXPECT_EQ(Split("I'm here"), (V{"I", "'m", " here"}));
  EXPECT_EQ(Split("they'RE"), (V{"they", "'RE"}));
  EXPECT_EQ(Split("'sup"), (V{"'s", "up"}));
  EXPECT_EQ(Split("'hello"), (V{"'hello"}));
}

TEST(PretokenizeTest, Digits) {
  EXPECT_EQ(Split("abc12345"), (V{"abc", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(Split("12345", SplitPattern::kLlama3), (V{"123", "45"}));
  EXPECT_EQ(Split(" 1"), (V{" ", "1"}));
}

TEST(PretokenizeTest, Whitespace) {
  EXPECT_EQ(Split("a  b"), (V{"a", " ", " b"}));
  EXPECT_EQ(Split("a   "), (V{"a", "   "}));
  EXPECT_EQ(Split("\n"), (V{"\n"}));
  EXPECT_EQ(Split("a \n\n b"), (V{"a", " \n\n", " b"}));
  EXPECT_EQ(Split("x\n  \n y"), (V{"x", "\n  \n", " y"}));
  EXPECT_EQ(Split("\tb"), (V{"\tb"}));
  EXPECT_EQ(Split("\nb"), (V{"\n", "b"}));
}

TEST(PretokenizeTest, Punctuation) {
  EXPECT_EQ(Split("a, b!!\n\nc"), (V{"a", ",", " b", "!!\n\n", "c"}));
  EXPECT_EQ(Split("x = {1};"), (V{"x", " =", " {", "1", "};"}));
  EXPECT_EQ(Split("\xC2\xA0!!"), (V{"\xC2\xA0", "!!"}));
}

TEST(PretokenizeTest, Unicode) {
  EXPECT_EQ(Split("你好世界"), (V{"你好世界"}));
  EXPECT_EQ(Split("مرحبا بالعالم"), (V{"مرحبا", " بالعالم"}));
  EXPECT_EQ(Split("hi 😀😀"), (V{"hi", " 😀😀"}));
}

TEST(PretokenizeTest, OnigurumaSemantics) {
  // U+0085 is \s (White_Space); U+FEFF is not; 'ſ matches (?i:'s).
  EXPECT_EQ(Split("a\xC2\x85\xC2\x85"
                  "b"),
            (V{"a", "\xC2\x85",
               "\xC2\x85"
               "b"}));
  EXPECT_EQ(Split("a\xEF\xBB\xBF\xEF\xBB\xBF"
                  "b"),
            (V{"a", "\xEF\xBB\xBF\xEF\xBB\xBF", "b"}));
  EXPECT_EQ(Split("'\xC5\xBFx"), (V{"'\xC5\xBF", "x"}));
}

TEST(PretokenizeTest, RecognizesPatterns) {
  EXPECT_EQ(*SplitPatternFromRegex(kQwen2SplitRegex), SplitPattern::kQwen2);
  EXPECT_EQ(*SplitPatternFromRegex(kLlama3SplitRegex), SplitPattern::kLlama3);
  auto r = SplitPatternFromRegex("\\w+");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnimplemented);
  EXPECT_NE(r.status().message().find("\\w+"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::llm

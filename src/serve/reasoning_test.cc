#include "serve/reasoning.h"

#include <gtest/gtest.h>

#include "serve/byte_tokenizer_test_util.h"

namespace modelcar::serve {
namespace {

using Start = ReasoningParser::Start;

// Feeds `text` one byte at a time (the worst case for tag detection) and whole, and checks both
// give `reasoning` and `content`.
void Check(Start start, const std::string& text, const std::string& reasoning,
           const std::string& content) {
  for (bool bytewise : {false, true}) {
    ReasoningSplitter s(start);
    std::string r, c;
    auto add = [&](const ReasoningSplitter::Delta& d) {
      r += d.reasoning;
      c += d.content;
    };
    if (bytewise) {
      for (char ch : text) add(s.Append(std::string(1, ch)));
    } else {
      add(s.Append(text));
    }
    add(s.Finish());
    EXPECT_EQ(r, reasoning) << text << (bytewise ? " (bytewise)" : "");
    EXPECT_EQ(c, content) << text << (bytewise ? " (bytewise)" : "");
  }
}

TEST(ReasoningSplitter, Qwen3DetectsALeadingThink) {
  Check(Start::kDetect, "<think>\nhmm\n</think>\n\nAnswer", "\nhmm\n", "\n\nAnswer");
  Check(Start::kDetect, "No thinking here", "", "No thinking here");
  Check(Start::kDetect, "<thi", "", "<thi");  // ended before the tag was decided
  Check(Start::kDetect, "<think>cut off", "cut off", "");
  Check(Start::kDetect, "x </think> y", "", "x </think> y");
}

TEST(ReasoningSplitter, StartsInReasoningOrContent) {
  Check(Start::kReasoning, "step 1</think>done", "step 1", "done");
  Check(Start::kReasoning, "<think>a</think>b</think>", "a", "b</think>");
  Check(Start::kReasoning, "never ends <", "never ends <", "");
  Check(Start::kContent, "<think>a</think>b", "", "<think>a</think>b");
}

TEST(ReasoningParser, StartFromThePrompt) {
  constexpr int32_t kThink = 300, kUnthink = 301;
  llm::Tokenizer tok = ByteTestTokenizer(-1, {{"<think>", kThink}, {"</think>", kUnthink}});
  auto q = ReasoningParser::Create("qwen3", tok);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ((*q)->end_token(), kUnthink);
  EXPECT_EQ((*q)->StartFor(std::vector<int32_t>{1, 2}), Start::kDetect);
  EXPECT_EQ((*q)->StartFor(std::vector<int32_t>{1, kThink, 2}), Start::kReasoning);
  EXPECT_EQ((*q)->StartFor(std::vector<int32_t>{kThink, 10, kUnthink, 10}), Start::kContent);
  auto r1 = ReasoningParser::Create("deepseek_r1", tok);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ((*r1)->StartFor(std::vector<int32_t>{1, 2}), Start::kReasoning);
  auto bad = ReasoningParser::Create("granite", tok);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("granite"), std::string::npos);
  EXPECT_FALSE(ReasoningParser::Create("qwen3", ByteTestTokenizer(-1)).ok());
}

}  // namespace
}  // namespace modelcar::serve

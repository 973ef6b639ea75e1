// Structured outputs over a small byte-level vocabulary: the constraint allows exactly the tokens
// that keep the output in the grammar, EOS once it can end, and waits for the end of reasoning.
#include "serve/structured_output.h"

#include <gtest/gtest.h>

#include "serve/byte_tokenizer_test_util.h"

namespace modelcar::serve {
namespace {

constexpr int32_t kEnd = 300;
constexpr int32_t kYes = 257;  // "yes" as one token

TEST(StructuredOutput, ChoiceConstraintAndCache) {
  llm::Tokenizer tok = ByteTestTokenizer(kEnd, {{"yes", kYes}});
  auto trie = MakeTokenTrie(tok, 320);
  GrammarCache cache(2);
  StructuredOutput so;
  so.kind = StructuredOutput::Kind::kChoice;
  so.spec = R"(["yes", "no"])";
  auto rt = cache.Get(so);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  auto again = cache.Get(so);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(rt->get(), again->get()) << "one runtime per spec";
  auto c = GrammarConstraintFactory(*rt, trie, tok, {kEnd})();
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'n', 'y', kYes}));
  EXPECT_FALSE(c->Accept('n'));
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{'o'}));
  EXPECT_FALSE(c->Accept('o'));
  EXPECT_EQ(MaskIds(*c->Allowed()), (std::vector<int32_t>{kEnd})) << "only EOS once complete";
  EXPECT_TRUE(c->Accept(kEnd));
  auto whole = GrammarConstraintFactory(*rt, trie, tok, {kEnd})();
  EXPECT_FALSE(whole->Accept(kYes));
  EXPECT_EQ(MaskIds(*whole->Allowed()), (std::vector<int32_t>{kEnd}));
}

TEST(StructuredOutput, WaitsForTheEndOfReasoning) {
  constexpr int32_t kThinkEnd = 301;
  llm::Tokenizer tok = ByteTestTokenizer(kEnd);
  auto trie = MakeTokenTrie(tok, 320);
  GrammarCache cache;
  StructuredOutput so;
  so.kind = StructuredOutput::Kind::kRegex;
  so.spec = "[0-9]+";
  auto rt = cache.Get(so);
  ASSERT_TRUE(rt.ok());
  auto c = GrammarConstraintFactory(*rt, trie, tok, {kEnd}, kThinkEnd)();
  EXPECT_EQ(c->Allowed(), nullptr);
  EXPECT_FALSE(c->Accept('h'));
  EXPECT_EQ(c->Allowed(), nullptr);
  EXPECT_FALSE(c->Accept(kThinkEnd));
  ASSERT_NE(c->Allowed(), nullptr);
  EXPECT_EQ(MaskIds(*c->Allowed()).size(), 10u);
}

TEST(StructuredOutput, ErrorsNameTheProblem) {
  StructuredOutput so;
  so.kind = StructuredOutput::Kind::kJsonSchema;
  so.spec = R"({"type": "string", "format": "phone"})";
  auto g = StructuredGrammar(so);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("format \"phone\""), std::string::npos);
  so.kind = StructuredOutput::Kind::kGrammar;
  so.spec = "root ::= (\"a\"";
  auto bad = StructuredGrammar(so);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("missing ')'"), std::string::npos);
}

}  // namespace
}  // namespace modelcar::serve

// EchoLogprobs and MakePromptLogprobs over a real byte-level tokenizer (token id = byte) and
// the completions JSON they become.
#include "serve/prompt_logprobs.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "serve/byte_tokenizer_test_util.h"

namespace modelcar::serve {
namespace {

using json = nlohmann::json;

llm::Tokenizer Bytes() { return ByteTestTokenizer(/*end_id=*/-1); }

TEST(PromptLogprobs, EchoAndVllmShapes) {
  llm::Tokenizer tok = Bytes();
  const std::vector<int32_t> prompt = {'a', 'b', 'c'};
  std::vector<RunnerSample> scored = {{'b', -1.5f, {{'x', -0.5f}, {'b', -1.5f}}, 2},
                                      {'c', -0.25f, {{'c', -0.25f}, {'y', -2.0f}}, 1}};
  std::vector<TokenLogprob> echo = EchoLogprobs(tok, prompt, scored, 1);
  ASSERT_EQ(echo.size(), 3u);
  EXPECT_TRUE(echo[0].null_logprob);
  EXPECT_EQ(echo[0].token, "a");
  EXPECT_FALSE(echo[1].null_logprob);
  EXPECT_FLOAT_EQ(echo[1].logprob, -1.5f);
  ASSERT_EQ(echo[1].top.size(), 1u);
  EXPECT_EQ(echo[1].top[0].token, "x");
  EXPECT_EQ(echo[2].text_offset, 2);

  ChoiceResult c;
  c.text = "abc";
  c.logprobs = echo;
  c.finish.reason = FinishReason::kLength;
  c.prompt_logprobs = MakePromptLogprobs(tok, prompt, scored, 1);
  json r = json::parse(CompletionJson({"cmpl-1", 0, "m", "fp"}, {c}, {3, 0}));
  const json& ch = r["choices"][0];
  EXPECT_EQ(ch["logprobs"]["tokens"], json({"a", "b", "c"}));
  EXPECT_TRUE(ch["logprobs"]["token_logprobs"][0].is_null());
  EXPECT_TRUE(ch["logprobs"]["top_logprobs"][0].is_null());
  EXPECT_EQ(ch["logprobs"]["text_offset"], json({0, 1, 2}));
  const json& pl = ch["prompt_logprobs"];
  ASSERT_EQ(pl.size(), 3u);
  EXPECT_TRUE(pl[0].is_null());
  EXPECT_EQ(pl[1][std::to_string('b')]["rank"], 2);
  EXPECT_EQ(pl[1][std::to_string('b')]["decoded_token"], "b");
  EXPECT_EQ(pl[1][std::to_string('x')]["rank"], 1);
  EXPECT_EQ(pl[2].size(), 1u) << "the prompt token listed once even when it is the top one";

  // Scores missing (the sequence ended before its first token): null entries, not a crash.
  std::vector<TokenLogprob> none = EchoLogprobs(tok, prompt, {}, 1);
  EXPECT_TRUE(none[1].null_logprob && none[2].null_logprob);
}

}  // namespace
}  // namespace modelcar::serve

#include "llm/engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace modelcar::llm {
namespace {

// logits: token i has logit log(p_i) for p = {0.5, 0.25, 0.125, 0.0625, 0.0625}.
std::vector<float> Dist() {
  return {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.0625f), std::log(0.0625f)};
}

std::map<int, int> Counts(SamplingParams p, int n, std::vector<float> logits = Dist()) {
  p.seed = 1234;
  Sampler s(p, {});
  std::map<int, int> c;
  for (int i = 0; i < n; ++i) {
    ++c[s.Sample(logits).token];
  }
  return c;
}

TEST(SamplerTest, GreedyAndLogprobs) {
  SamplingParams p;
  p.temperature = 0;
  p.logprobs = 3;
  Sampler s(p, {});
  auto t = s.Sample(Dist());
  EXPECT_EQ(t.token, 0);
  EXPECT_NEAR(t.logprob, std::log(0.5), 1e-5);
  ASSERT_EQ(t.top.size(), 3u);
  EXPECT_EQ(t.top[1].token, 1);
  EXPECT_NEAR(t.top[2].logprob, std::log(0.125), 1e-5);
  // Ties: lower id first.
  std::vector<float> tie = {0, 1, 1};
  EXPECT_EQ(s.Sample(tie).token, 1);
}

TEST(SamplerTest, NoLogprobAskedSamplesTheSame) {
  std::vector<float> tie = {0, 1, 1};
  for (float temperature : {0.0f, 1.0f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 5;
    SamplingParams q = p;
    q.logprobs = -1;
    Sampler with(p, {}), without(q, {});
    for (int i = 0; i < 50; ++i) {
      const SampledToken a = with.Sample(Dist()), b = without.Sample(Dist());
      EXPECT_EQ(a.token, b.token);
      EXPECT_NE(a.logprob, 0);
      EXPECT_EQ(b.logprob, 0);
      EXPECT_TRUE(b.top.empty());
    }
    if (temperature == 0) {
      EXPECT_EQ(without.Sample(tie).token, 1);  // ties: lower id
    }
  }
}

TEST(SamplerTest, TemperatureOneFollowsTheDistribution) {
  SamplingParams p;
  auto c = Counts(p, 20000);
  EXPECT_NEAR(c[0] / 20000.0, 0.5, 0.02);
  EXPECT_NEAR(c[1] / 20000.0, 0.25, 0.02);
  EXPECT_NEAR(c[4] / 20000.0, 0.0625, 0.01);
}

TEST(SamplerTest, TopKTopPMinP) {
  SamplingParams p;
  p.top_k = 2;
  auto c = Counts(p, 3000);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0] / 3000.0, 2.0 / 3, 0.04);
  p = {};
  p.top_p = 0.7f;  // {0.5, 0.25} reaches 0.75 >= 0.7
  c = Counts(p, 3000);
  EXPECT_EQ(c.size(), 2u);
  p = {};
  p.top_p = 0.5f;
  c = Counts(p, 500);
  EXPECT_EQ(c.size(), 1u);
  p = {};
  p.min_p = 0.3f;  // keeps p >= 0.15: tokens 0 and 1
  c = Counts(p, 3000);
  EXPECT_EQ(c.size(), 2u);
  // top_p over a large vocabulary takes the growing-prefix path.
  std::vector<float> big(100000, 0.0f);
  big[7] = 20;
  p = {};
  p.top_p = 0.9f;
  c = Counts(p, 50, big);
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.begin()->first, 7);
}

TEST(SamplerTest, SeedReproducible) {
  SamplingParams p;
  p.seed = 7;
  Sampler a(p, {}), b(p, {});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.Sample(Dist()).token, b.Sample(Dist()).token);
}

TEST(SamplerTest, Penalties) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 10;  // token 0 seen in the prompt: log(0.5) * 10 < log(0.25)
  std::vector<int32_t> prompt = {0};
  Sampler s(p, prompt);
  EXPECT_EQ(s.Sample(Dist()).token, 1);
  // Now 1 is in the output too.
  EXPECT_EQ(s.Sample(Dist()).token, 2);

  p = {};
  p.temperature = 0;
  p.frequency_penalty = 2;
  Sampler f(p, prompt);  // prompt does not count for frequency
  EXPECT_EQ(f.Sample(Dist()).token, 0);
  EXPECT_EQ(f.Sample(Dist()).token, 1);  // 0 penalized by 2 after one use
  p = {};
  p.temperature = 0;
  p.presence_penalty = -2;  // negative: favours the used token
  Sampler g(p, {});
  std::vector<float> flat = {0, 0.1f, 0};
  EXPECT_EQ(g.Sample(flat).token, 1);
  EXPECT_EQ(g.Sample(flat).token, 1);
}

TEST(SamplerTest, Validation) {
  SamplingParams p;
  EXPECT_TRUE(ValidateSamplingParams(p).ok());
  p.top_p = 0;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top_p"), std::string::npos);
  p = {};
  p.temperature = -1;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.presence_penalty = 3;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.logprobs = -1;  // none
  EXPECT_TRUE(ValidateSamplingParams(p).ok());
  p.logprobs = -2;
  EXPECT_NE(ValidateSamplingParams(p).message().find("logprobs"), std::string::npos);
}

TEST(SamplerTest, FindStopString) {
  std::vector<std::string> stops = {"END", "\n\n"};
  EXPECT_EQ(FindStopString("abc END x\n\n", stops), 4u);
  EXPECT_EQ(FindStopString("abc\n\nEND", stops), 3u);
  EXPECT_EQ(FindStopString("abc", stops), std::string_view::npos);
  EXPECT_EQ(FindStopString("ENDabcEND", stops, 1), 6u);
}

}  // namespace
}  // namespace modelcar::llm

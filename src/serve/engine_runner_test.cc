// EngineRunner over the real engine and a tiny synthetic model: prompt scoring (prompt
// logprobs) in one chunk and across chunks agree, and scoring does not change the sampled token.
#include "serve/engine_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <numeric>

#include "llm/engine/engine.h"
#include "llm/model/model.h"
#include "llm/model/testmodel_fixture.h"
#include "serve/scheduler.h"

namespace modelcar::serve {
namespace {

TEST(ScoreToken, LogprobRankAndTop) {
  const std::vector<float> logits = {1, 2, 3, 0};
  RunnerSample s = ScoreToken(logits, 0, 2);
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0) + std::exp(0.0));
  EXPECT_NEAR(s.logprob, 1 - lse, 1e-5);
  EXPECT_EQ(s.token, 0);
  EXPECT_EQ(s.rank, 3);
  ASSERT_EQ(s.top.size(), 2u);
  EXPECT_EQ(s.top[0].first, 2);
  EXPECT_EQ(s.top[1].first, 1);
  EXPECT_NEAR(s.top[0].second, 3 - lse, 1e-5);
  EXPECT_EQ(ScoreToken(logits, 2, 0).rank, 1);
}

class EngineRunnerTest : public llm::TinyModelTest<5> {};

TEST_F(EngineRunnerTest, PromptScoresAgreeAcrossChunksAndKeepTheSample) {
  auto runner = EngineRunner::Create(model(), 64 << 20, 2, llm::Precision::kFast);
  ASSERT_TRUE(runner.ok()) << runner.status().ToString();
  std::vector<int32_t> prompt(20);
  std::iota(prompt.begin(), prompt.end(), 1000);
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.logprobs = 0;
  for (uint64_t seq : {1, 2, 3}) ASSERT_TRUE((*runner)->AddSequence(seq, greedy, prompt).ok());

  // Sequence 1: the whole prompt in one step, every next prompt token scored.
  std::vector<RunnerSample> whole, chunked, out;
  RunnerFeed f{1, prompt, true, std::span<const int32_t>(prompt).subspan(1), 3, &whole};
  ASSERT_TRUE((*runner)->Step({&f, 1}, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(whole.size(), 19u);
  // Sequence 2: chunks of 7, 7, 6; each chunk scores the tokens after its positions.
  for (int start = 0; start < 20; start += 7) {
    const int n = std::min(7, 20 - start);
    const int count = std::min(start + n, 19) - start;
    RunnerFeed c{2,
                 std::span<const int32_t>(prompt).subspan(start, n),
                 start + n == 20,
                 std::span<const int32_t>(prompt).subspan(start + 1, count),
                 3,
                 &chunked};
    ASSERT_TRUE((*runner)->Step({&c, 1}, &out).ok());
  }
  ASSERT_EQ(chunked.size(), 19u);
  ASSERT_EQ(out.size(), 2u);
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(whole[i].token, prompt[i + 1]);
    EXPECT_TRUE(std::isfinite(whole[i].logprob));
    EXPECT_LE(whole[i].logprob, 0.0f);
    EXPECT_GE(whole[i].rank, 1);
    EXPECT_EQ(whole[i].top.size(), 3u);
    EXPECT_NEAR(whole[i].logprob, chunked[i].logprob, 1e-3) << i;
    EXPECT_EQ(whole[i].rank, chunked[i].rank) << i;
  }
  // Sequence 3: no scoring at all; the same greedy token with the same logprob.
  RunnerFeed plain;
  plain.seq = 3;
  plain.tokens = prompt;
  plain.sample = true;
  ASSERT_TRUE((*runner)->Step({&plain, 1}, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].token, out[2].token);
  EXPECT_EQ(out[1].token, out[2].token);
  EXPECT_NEAR(out[0].logprob, out[2].logprob, 1e-4);

  // Constrained: only the allowed ids can be sampled (even for a greedy sampler).
  ASSERT_TRUE((*runner)->AddSequence(4, greedy, prompt).ok());
  TokenMask allowed;
  MaskAllow(&allowed, 777);
  MaskAllow(&allowed, 12345);
  RunnerFeed masked;
  masked.seq = 4;
  masked.tokens = prompt;
  masked.sample = true;
  masked.allowed = &allowed;
  ASSERT_TRUE((*runner)->Step({&masked, 1}, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[3].token == 777 || out[3].token == 12345) << out[3].token;
  EXPECT_NE(out[3].token, out[2].token);
  EXPECT_LE(out[3].logprob, 0.0f);
  EXPECT_GT(out[3].logprob, std::log(0.5f) - 1e-4f) << "the more likely of two allowed tokens";
}

TEST_F(EngineRunnerTest, LogitProcessorsSteerTheSampleNotTheReportedLogprobs) {
  auto runner = EngineRunner::Create(model(), 64 << 20, 2, llm::Precision::kFast);
  ASSERT_TRUE(runner.ok());
  std::vector<int32_t> prompt(8);
  std::iota(prompt.begin(), prompt.end(), 500);
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.logprobs = 2;
  SamplingOptions biased = greedy;
  biased.logit_bias = {{4242, 100.0f}};
  SamplingOptions allowed = greedy;
  allowed.allowed_token_ids = {10, 4242};
  ASSERT_TRUE((*runner)->AddSequence(1, greedy, prompt).ok());
  ASSERT_TRUE((*runner)->AddSequence(2, biased, prompt).ok());
  ASSERT_TRUE((*runner)->AddSequence(3, allowed, prompt).ok());
  std::vector<RunnerSample> out;
  RunnerFeed feeds[3];
  for (uint64_t i = 0; i < 3; ++i) {
    feeds[i].seq = i + 1;
    feeds[i].tokens = prompt;
    feeds[i].sample = true;
  }
  ASSERT_TRUE((*runner)->Step({&feeds[0], 1}, &out).ok());
  const RunnerSample plain = out[0];
  ASSERT_TRUE((*runner)->Step({&feeds[1], 2}, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].token, 4242);
  // The reported logprobs are the model's (vLLM's raw logprobs): the same alternatives.
  EXPECT_EQ(out[1].top, plain.top);
  EXPECT_LT(out[1].logprob, plain.top[1].second);
  EXPECT_TRUE(out[2].token == 10 || out[2].token == 4242);

  SamplingOptions again = greedy;
  ASSERT_TRUE((*runner)->AddSequence(4, again, prompt).ok());
  const std::vector<int32_t> ban = {plain.token};
  RunnerFeed b;
  b.seq = 4;
  b.tokens = prompt;
  b.sample = true;
  b.banned = ban;
  ASSERT_TRUE((*runner)->Step({&b, 1}, &out).ok());
  EXPECT_NE(out[3].token, plain.token);
  EXPECT_EQ(out[3].top, plain.top);
}

// Prefix caching through the scheduler: a second and a third request that start with the first
// one's prompt read its blocks from the cache (batched together) and produce the same tokens and
// logprobs, bit for bit, as with caching off.
TEST_F(EngineRunnerTest, PrefixCachingChangesNoTokenOrLogprob) {
  struct Result {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    int cached = -1;
  };
  auto run = [&](bool caching) {
    auto runner = EngineRunner::Create(model(), 64 << 20, 2, llm::Precision::kFast, caching);
    EXPECT_TRUE(runner.ok());
    SchedulerOptions so;
    so.max_model_len = 512;
    so.max_num_batched_tokens = 48;  // prompts in several chunks
    so.prefix_caching = caching;
    Scheduler sched(runner->get(), nullptr, so);
    sched.Start();
    std::vector<int32_t> history(70);
    std::iota(history.begin(), history.end(), 3000);
    auto request = [&](int extra, uint64_t seed) {
      GenerationRequest g;
      g.prompt = history;
      for (int i = 0; i < extra; ++i) g.prompt.push_back(9000 + 7 * i + extra);
      g.sampling.seed = seed;
      g.sampling.max_tokens = 6;
      g.sampling.logprobs = 2;
      g.sampling.ignore_eos = true;
      return *sched.Submit(std::move(g));
    };
    auto collect = [](RequestHandle& h) {
      Result r;
      std::vector<TokenEvent> events;
      while (h.Next(&events, std::chrono::milliseconds(100))) {
        for (const TokenEvent& ev : events) {
          if (!ev.has_token) continue;
          if (r.tokens.empty()) r.cached = ev.cached_tokens;
          r.tokens.push_back(ev.sample.token);
          r.logprobs.push_back(ev.sample.logprob);
          for (const auto& [id, lp] : ev.sample.top) r.logprobs.push_back(lp);
        }
      }
      return r;
    };
    std::vector<Result> out;
    out.push_back(collect(*request(0, 1)));
    auto second = request(20, 2), third = request(9, 3);
    out.push_back(collect(*second));
    out.push_back(collect(*third));
    return out;
  };
  const std::vector<Result> off = run(false), on = run(true);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(on[i].tokens, off[i].tokens) << "request " << i;
    ASSERT_EQ(on[i].logprobs.size(), off[i].logprobs.size());
    EXPECT_EQ(std::memcmp(on[i].logprobs.data(), off[i].logprobs.data(),
                          off[i].logprobs.size() * sizeof(float)),
              0)
        << "request " << i;
    EXPECT_EQ(off[i].cached, 0);
  }
  EXPECT_EQ(on[0].cached, 0);
  EXPECT_EQ(on[1].cached, 64);  // the history's 4 full blocks
  EXPECT_EQ(on[2].cached, 64);
}

// n > 1 on a prompt the cache does not hold yet: the later choices wait for the first to compute
// the prompt's full blocks and take them from the cache (cached_tokens 64 of 70), the first
// prefills alone (0); a second request for the same prompt finds it whole for every choice. Each
// choice's tokens and logprobs are the same, bit for bit, as with caching off (every choice then
// prefills the prompt itself), whether batched with another request or not.
TEST_F(EngineRunnerTest, ChoicesShareThePromptAndChangeNoToken) {
  struct Choice {
    std::vector<int32_t> tokens;
    std::vector<float> logprobs;
    int cached = -1;
  };
  auto run = [&](bool caching, int chunk) {
    auto runner = EngineRunner::Create(model(), 64 << 20, 2, llm::Precision::kFast, caching);
    EXPECT_TRUE(runner.ok());
    SchedulerOptions so;
    so.max_model_len = 512;
    so.max_num_batched_tokens = chunk;
    so.prefix_caching = caching;
    Scheduler sched(runner->get(), nullptr, so);
    sched.Start();
    std::vector<int32_t> prompt(70);
    std::iota(prompt.begin(), prompt.end(), 5000);
    auto submit = [&](uint64_t seed, int n) {
      GenerationRequest g;
      g.prompt = prompt;
      g.sampling.n = n;
      g.sampling.seed = seed;
      g.sampling.temperature = 1.0;
      g.sampling.max_tokens = 5;
      g.sampling.logprobs = 1;
      g.sampling.ignore_eos = true;
      return *sched.Submit(std::move(g));
    };
    auto collect = [](RequestHandle& h, int n) {
      std::vector<Choice> r(n);
      std::vector<TokenEvent> events;
      while (h.Next(&events, std::chrono::milliseconds(100))) {
        for (const TokenEvent& ev : events) {
          if (!ev.has_token) continue;
          Choice& c = r[ev.index];
          if (c.tokens.empty()) c.cached = ev.cached_tokens;
          c.tokens.push_back(ev.sample.token);
          c.logprobs.push_back(ev.sample.logprob);
          for (const auto& [id, lp] : ev.sample.top) c.logprobs.push_back(lp);
        }
      }
      return r;
    };
    // A one-choice request beside the first (batched with it), then the same prompt again.
    auto first = submit(11, 4), other = submit(12, 1);
    std::vector<std::vector<Choice>> out;
    out.push_back(collect(*first, 4));
    out.push_back(collect(*other, 1));
    out.push_back(collect(*submit(11, 4), 4));
    return out;
  };
  for (int chunk : {32, 512}) {  // the prompt in several chunks, or in one
    const auto off = run(false, chunk), on = run(true, chunk);
    for (size_t r = 0; r < off.size(); ++r) {
      for (size_t i = 0; i < off[r].size(); ++i) {
        EXPECT_EQ(on[r][i].tokens.size(), 5u);
        EXPECT_EQ(on[r][i].tokens, off[r][i].tokens) << "request " << r << " choice " << i;
        ASSERT_EQ(on[r][i].logprobs.size(), off[r][i].logprobs.size());
        EXPECT_EQ(std::memcmp(on[r][i].logprobs.data(), off[r][i].logprobs.data(),
                              off[r][i].logprobs.size() * sizeof(float)),
                  0)
            << "request " << r << " choice " << i;
        EXPECT_EQ(off[r][i].cached, 0);
      }
    }
    // The same seed gives the same choices again (the second request), and different seeds per
    // choice give different streams.
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(on[2][i].tokens, on[0][i].tokens);
    EXPECT_NE(on[0][0].tokens, on[0][1].tokens);
    EXPECT_EQ(on[0][0].cached, 0) << "chunk " << chunk;
    for (size_t i = 1; i < 4; ++i) EXPECT_EQ(on[0][i].cached, 64) << "chunk " << chunk;
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(on[2][i].cached, 64);
  }
}

// Under KV pressure (10 blocks for five sequences that need 4 or 5 each), with preemptions and
// recomputes: every request finishes, and caching changes no token.
TEST_F(EngineRunnerTest, PrefixCachingUnderKvPressure) {
  uint64_t block_bytes = 0;
  {
    auto probe = EngineRunner::Create(model(), 64 << 20, 2, llm::Precision::kFast);
    ASSERT_TRUE(probe.ok());
    block_bytes = (*probe)->BytesPerToken() * (*probe)->BlockTokens();
  }
  auto run = [&](bool caching) {
    auto runner =
        EngineRunner::Create(model(), 10 * block_bytes, 2, llm::Precision::kFast, caching);
    EXPECT_TRUE(runner.ok());
    EXPECT_EQ((*runner)->TotalBlocks(), 10);
    SchedulerOptions so;
    so.max_model_len = 160;
    so.max_num_batched_tokens = 32;
    so.prefix_caching = caching;
    Scheduler sched(runner->get(), nullptr, so);
    sched.Start();
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (int r = 0; r < 5; ++r) {
      GenerationRequest g;
      g.prompt.resize(40);
      std::iota(g.prompt.begin(), g.prompt.end(), 4000);
      for (int i = 0; i < 6 + r; ++i) g.prompt.push_back(8000 + 13 * i + r);
      g.sampling.seed = 50 + r;
      g.sampling.max_tokens = 16;
      g.sampling.ignore_eos = true;
      handles.push_back(*sched.Submit(std::move(g)));
    }
    std::vector<std::vector<int32_t>> out(handles.size());
    for (size_t r = 0; r < handles.size(); ++r) {
      std::vector<TokenEvent> events;
      while (handles[r]->Next(&events, std::chrono::milliseconds(100))) {
        for (const TokenEvent& ev : events) {
          if (ev.has_token) out[r].push_back(ev.sample.token);
          if (ev.finish) {
            EXPECT_EQ(*ev.finish, FinishReason::kLength) << "request " << r;
          }
        }
      }
      EXPECT_EQ(out[r].size(), 16u) << "request " << r;
    }
    return out;
  };
  EXPECT_EQ(run(true), run(false));
}

}  // namespace
}  // namespace modelcar::serve

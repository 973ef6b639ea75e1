// Scheduler tests against FakeRunner, a test double of the model (a legitimate unit-test fake:
// the scheduler's contract is about batching, KV blocks and events, not about numerics). The
// fake "model" answers last_fed_token + 1, keeps a real block pool and fails the test if the
// scheduler ever feeds a sequence without enough free blocks. The real engine is exercised by
// the integration tests in tests/serve/.
#include "serve/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace modelcar::serve {
namespace {

class FakeRunner : public ModelRunner {
 public:
  FakeRunner(int blocks, int block_tokens) : total_(blocks), free_(blocks), bt_(block_tokens) {}

  int BlockTokens() const override { return bt_; }
  int TotalBlocks() const override { return total_; }
  int FreeBlocks() const override {
    std::lock_guard l(mu_);
    return free_;
  }
  Status AddSequence(uint64_t seq, const SamplingOptions&, std::span<const int32_t>) override {
    std::lock_guard l(mu_);
    seqs_[seq] = 0;
    return Status();
  }
  void ClearKv(uint64_t seq) override {
    std::lock_guard l(mu_);
    free_ += Blocks(seqs_[seq]);
    seqs_[seq] = 0;
  }
  void RemoveSequence(uint64_t seq) override {
    std::lock_guard l(mu_);
    free_ += Blocks(seqs_[seq]);
    seqs_.erase(seq);
  }
  Status Step(std::span<const RunnerFeed> feeds, std::vector<RunnerSample>* out) override {
    std::lock_guard l(mu_);
    int tokens = 0;
    for (const RunnerFeed& f : feeds) {
      EXPECT_TRUE(seqs_.count(f.seq)) << "unknown sequence";
      int len = seqs_[f.seq];
      int need = Blocks(len + int(f.tokens.size())) - Blocks(len);
      EXPECT_LE(need, free_) << "scheduler overcommitted the KV pool";
      if (need > free_) return ResourceExhausted("no blocks");
      free_ -= need;
      seqs_[f.seq] = len + int(f.tokens.size());
      tokens += int(f.tokens.size());
      max_chunk_ = std::max(max_chunk_, int(f.tokens.size()));
      for (int32_t t : f.score) f.scored->push_back({t, -0.25f, {}, 1});
      if (f.sample)
        out->push_back({f.allowed ? MaskIds(*f.allowed).front() : f.tokens.back() + 1, -0.5f, {}});
    }
    max_batch_ = std::max(max_batch_, int(feeds.size()));
    step_tokens_.push_back(tokens);
    step_feeds_.push_back(int(feeds.size()));
    std::vector<uint64_t> step_seqs;
    for (const RunnerFeed& f : feeds) step_seqs.push_back(f.seq);
    step_seqs_.push_back(std::move(step_seqs));
    if (delay_us_) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    return Status();
  }

  int live() const {
    std::lock_guard l(mu_);
    return int(seqs_.size());
  }
  int max_batch() const {
    std::lock_guard l(mu_);
    return max_batch_;
  }
  int max_chunk() const {
    std::lock_guard l(mu_);
    return max_chunk_;
  }
  std::vector<int> step_tokens() const {
    std::lock_guard l(mu_);
    return step_tokens_;
  }
  // The sequences fed in each step, in order.
  std::vector<std::vector<uint64_t>> step_seqs() const {
    std::lock_guard l(mu_);
    return step_seqs_;
  }
  int delay_us_ = 0;

 private:
  int Blocks(int positions) const { return (positions + bt_ - 1) / bt_; }
  mutable std::mutex mu_;
  int total_, free_, bt_;
  std::map<uint64_t, int> seqs_;
  int max_batch_ = 0, max_chunk_ = 0;
  std::vector<int> step_tokens_, step_feeds_;
  std::vector<std::vector<uint64_t>> step_seqs_;
};

GenerationRequest Gen(std::vector<int32_t> prompt, int max_tokens, int n = 1) {
  GenerationRequest g;
  g.prompt = std::move(prompt);
  g.sampling.max_tokens = max_tokens;
  g.sampling.n = n;
  g.eos_token_ids = {1000};
  return g;
}

struct Collected {
  std::map<int, std::vector<int32_t>> tokens;
  std::map<int, std::vector<int32_t>> prompt_scored;  // tokens of the prompt logprobs
  std::map<int, FinishReason> finish;
  std::map<int, std::optional<int32_t>> stop_token;
};

Collected Drain(RequestHandle& h) {
  Collected c;
  std::vector<TokenEvent> evs;
  while (h.Next(&evs, std::chrono::milliseconds(5000))) {
    for (auto& e : evs) {
      if (e.has_token) c.tokens[e.index].push_back(e.sample.token);
      for (const RunnerSample& p : e.prompt_logprobs) c.prompt_scored[e.index].push_back(p.token);
      if (e.finish) {
        c.finish[e.index] = *e.finish;
        c.stop_token[e.index] = e.stop_token;
      }
    }
  }
  return c;
}

std::vector<int32_t> Iota(int from, int count) {
  std::vector<int32_t> v(count);
  std::iota(v.begin(), v.end(), from);
  return v;
}

TEST(Scheduler, LengthStopAndStopTokens) {
  FakeRunner runner(64, 16);
  Metrics metrics("m");
  Scheduler s(&runner, &metrics, {});
  s.Start();
  auto a = s.Submit(Gen({5}, 5));
  ASSERT_TRUE(a.ok());
  Collected ca = Drain(**a);
  EXPECT_EQ(ca.tokens[0], Iota(6, 5));
  EXPECT_EQ(ca.finish[0], FinishReason::kLength);

  auto b = s.Submit(Gen({997}, 10));  // 998, 999, 1000 = EOS
  Collected cb = Drain(**b);
  EXPECT_EQ(cb.tokens[0], Iota(998, 3));
  EXPECT_EQ(cb.finish[0], FinishReason::kStop);
  EXPECT_FALSE(cb.stop_token[0].has_value());

  GenerationRequest g = Gen({997}, 10);
  g.sampling.min_tokens = 5;  // EOS ignored before 5 tokens
  Collected cg = Drain(**s.Submit(g));
  EXPECT_EQ(cg.tokens[0], Iota(998, 10));  // EOS (1000) came as token 3 < min_tokens
  EXPECT_EQ(cg.finish[0], FinishReason::kLength);

  GenerationRequest st = Gen({10}, 10);
  st.sampling.stop_token_ids = {13};
  Collected cs = Drain(**s.Submit(st));
  EXPECT_EQ(cs.tokens[0], Iota(11, 3));
  EXPECT_EQ(cs.finish[0], FinishReason::kStop);
  EXPECT_EQ(cs.stop_token[0], 13);
  s.Stop();
  EXPECT_EQ(runner.live(), 0);
  EXPECT_EQ(runner.FreeBlocks(), 64);
  std::string text = metrics.Render();
  EXPECT_NE(text.find("vllm:generation_tokens_total{model_name=\"m\"} 21\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("vllm:prompt_tokens_total{model_name=\"m\"} 4\n"), std::string::npos);
}

TEST(Scheduler, ContinuousBatchingAndChunkedPrefill) {
  FakeRunner runner(256, 16);
  runner.delay_us_ = 200;
  SchedulerOptions o;
  o.max_num_batched_tokens = 16;
  Scheduler s(&runner, nullptr, o);
  s.Start();
  auto shortreq = s.Submit(Gen({1}, 40));
  ASSERT_TRUE(shortreq.ok());
  // Wait until the short request is decoding, then send a 200-token prompt.
  std::vector<TokenEvent> evs;
  ASSERT_TRUE((*shortreq)->Next(&evs, std::chrono::milliseconds(5000)));
  auto longreq = s.Submit(Gen(Iota(2000, 200), 3));
  Collected cl = Drain(**longreq);
  Collected cs = Drain(**shortreq);
  s.Stop();
  EXPECT_EQ(cl.tokens[0], Iota(2200, 3));
  EXPECT_EQ(cs.tokens[0].size() + evs.size(), 40u);
  EXPECT_LE(runner.max_chunk(), 16);
  EXPECT_GE(runner.max_batch(), 2);  // the decode ran in the same steps as prefill chunks
  for (int t : runner.step_tokens()) EXPECT_LE(t, 16);
  // The running decode (sequence 1) is in every step from its first decode until it ends: the
  // long prompt's chunks never stall it for a whole step.
  const auto steps = runner.step_seqs();
  size_t first = 0, last = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (std::count(steps[i].begin(), steps[i].end(), 1u)) {
      if (!first) first = i + 1;
      last = i + 1;
    }
  }
  ASSERT_GT(first, 0u);
  for (size_t i = first - 1; i < last; ++i) {
    EXPECT_EQ(std::count(steps[i].begin(), steps[i].end(), 1u), 1) << "step " << i;
  }
}

TEST(Scheduler, PreemptsWhenKvIsShortAndStillCompletes) {
  FakeRunner runner(8, 4);  // 32 positions in all
  Metrics metrics("m");
  SchedulerOptions o;
  o.max_model_len = 32;
  Scheduler s(&runner, &metrics, o);
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 3; ++i) hs.push_back(*s.Submit(Gen({100 * (i + 1)}, 19)));
  s.Start();
  for (int i = 0; i < 3; ++i) {
    Collected c = Drain(*hs[i]);
    EXPECT_EQ(c.tokens[0], Iota(100 * (i + 1) + 1, 19)) << i;
    EXPECT_EQ(c.finish[0], FinishReason::kLength);
  }
  s.Stop();
  EXPECT_EQ(runner.FreeBlocks(), 8);
  std::string text = metrics.Render();
  EXPECT_EQ(text.find("vllm:num_preemptions_total{model_name=\"m\"} 0\n"), std::string::npos)
      << "expected preemptions";
}

TEST(Scheduler, PromptLogprobsOverChunksAndPreemption) {
  // Chunked prefill: a 40-token prompt in chunks of 16 scores prompt tokens 1..39 once each.
  FakeRunner runner(64, 4);
  SchedulerOptions o;
  o.max_num_batched_tokens = 16;
  Scheduler s(&runner, nullptr, o);
  s.Start();
  GenerationRequest g = Gen(Iota(100, 40), 3);
  g.sampling.prompt_logprobs = 2;
  Collected c = Drain(**s.Submit(g));
  EXPECT_EQ(c.prompt_scored[0], Iota(101, 39));
  EXPECT_EQ(c.tokens[0], Iota(140, 3));
  // Not asked: none.
  Collected plain = Drain(**s.Submit(Gen(Iota(100, 40), 3)));
  EXPECT_TRUE(plain.prompt_scored[0].empty());
  s.Stop();

  // A pool too small for three 8-token prompts + 12 tokens each: preemptions, and every
  // sequence still gets its 7 prompt scores exactly once, in order.
  FakeRunner small(8, 4);
  SchedulerOptions so;
  so.max_model_len = 32;
  so.max_num_batched_tokens = 4;
  Metrics metrics("m");
  Scheduler t(&small, &metrics, so);
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 3; ++i) {
    GenerationRequest gi = Gen(Iota(100 * (i + 1), 8), 12);
    gi.sampling.prompt_logprobs = 0;
    hs.push_back(*t.Submit(gi));
  }
  t.Start();
  for (int i = 0; i < 3; ++i) {
    Collected ci = Drain(*hs[i]);
    EXPECT_EQ(ci.prompt_scored[0], Iota(100 * (i + 1) + 1, 7)) << i;
    EXPECT_EQ(ci.tokens[0].size(), 12u) << i;
  }
  t.Stop();
  EXPECT_EQ(metrics.Render().find("vllm:num_preemptions_total{model_name=\"m\"} 0\n"),
            std::string::npos)
      << "expected preemptions";
}

// Forces the tokens of `script` one by one, then declares the output complete.
class ScriptConstraint : public TokenConstraint {
 public:
  explicit ScriptConstraint(std::vector<int32_t> script) : script_(std::move(script)) {}
  const TokenMask* Allowed() override {
    allowed_.clear();
    MaskAllow(&allowed_, script_[pos_]);
    return &allowed_;
  }
  bool Accept(int32_t token) override {
    EXPECT_EQ(token, script_[pos_]);
    return ++pos_ == script_.size();
  }

 private:
  std::vector<int32_t> script_;
  size_t pos_ = 0;
  TokenMask allowed_;
};

TEST(Scheduler, ConstraintSteersAndEndsTheSequence) {
  FakeRunner runner(64, 16);
  Scheduler s(&runner, nullptr, {});
  s.Start();
  GenerationRequest g = Gen({5}, 100, 2);
  g.constraint = [] { return std::make_unique<ScriptConstraint>(std::vector<int32_t>{70, 3, 9}); };
  Collected c = Drain(**s.Submit(g));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(c.tokens[i], (std::vector<int32_t>{70, 3, 9})) << i;
    EXPECT_EQ(c.finish[i], FinishReason::kStop) << i;
  }
  s.Stop();
  EXPECT_EQ(runner.live(), 0);
}

TEST(Scheduler, BoundedQueueAndValidation) {
  FakeRunner runner(8, 4);
  SchedulerOptions o;
  o.max_waiting = 2;
  o.max_model_len = 10;
  Scheduler s(&runner, nullptr, o);  // not started: requests stay queued
  EXPECT_TRUE(s.Submit(Gen({1}, 2)).ok());
  EXPECT_TRUE(s.Submit(Gen({1}, 2)).ok());
  auto r = s.Submit(Gen({1}, 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(s.Submit(Gen({}, 2)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s.Submit(Gen({1, 2}, 9)).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(s.Stats().waiting, 2);
}

TEST(Scheduler, CancelFreesTheSequence) {
  FakeRunner runner(4096, 16);
  runner.delay_us_ = 100;
  SchedulerOptions o;
  o.max_model_len = 100000;
  Metrics metrics("m");
  Scheduler s(&runner, &metrics, o);
  s.Start();
  auto h = *s.Submit(Gen({1}, 50000));
  std::vector<TokenEvent> evs;
  ASSERT_TRUE(h->Next(&evs, std::chrono::milliseconds(5000)));
  h->Cancel();
  Collected c = Drain(*h);
  EXPECT_EQ(c.finish[0], FinishReason::kAbort);
  EXPECT_LT(c.tokens[0].size(), 49000u);
  for (int i = 0; i < 200 && (runner.live() != 0 || s.Stats().running != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(runner.live(), 0);
  EXPECT_EQ(runner.FreeBlocks(), 4096);
  EXPECT_EQ(s.Stats().running, 0);
  EXPECT_NE(metrics.Render().find("finished_reason=\"abort\"} 1\n"), std::string::npos);
  s.Stop();
}

TEST(Scheduler, NSequencesAndStopSequence) {
  FakeRunner runner(64, 16);
  runner.delay_us_ = 100;
  SchedulerOptions o;
  o.max_model_len = 100000;
  Scheduler s(&runner, nullptr, o);
  s.Start();
  Collected c = Drain(**s.Submit(Gen({7}, 4, 3)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.tokens[i], Iota(8, 4));
    EXPECT_EQ(c.finish[i], FinishReason::kLength);
  }
  auto h = *s.Submit(Gen({1}, 50000, 2));
  std::vector<TokenEvent> evs;
  ASSERT_TRUE(h->Next(&evs, std::chrono::milliseconds(5000)));
  h->StopSequence(0);
  h->StopSequence(1);
  Collected d = Drain(*h);
  EXPECT_EQ(d.finish.size(), 2u);
  s.Stop();
  EXPECT_EQ(runner.live(), 0);
}

}  // namespace
}  // namespace modelcar::serve

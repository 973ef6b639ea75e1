#include "llm/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "llm/engine/generate.h"
#include "llm/model/testmodel_fixture.h"

namespace modelcar::llm {
namespace {

float RelDiff(std::span<const float> a, std::span<const float> b) {
  float m = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    m = std::max(m, std::fabs(b[i]));
    d = std::max(d, std::fabs(a[i] - b[i]));
  }
  return d / m;
}

class EngineTest : public TinyModelTest<3> {
 protected:
  void SetUp() override {
    cache_ = *KvCache::Create(model()->config, 64 << 20, 16);
    engine_ = std::make_unique<Engine>(model(), 2);
  }

  std::vector<float> Fresh(std::span<const int32_t> tokens) {
    auto seq = cache_->NewSequence();
    return *engine_->Prefill(seq.get(), tokens);
  }

  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, CachedDecodeEqualsFullRecompute) {
  auto tokens = Tokens(40, 1);
  auto seq = cache_->NewSequence();
  auto logits = *engine_->Prefill(seq.get(), std::span(tokens).first(20));
  for (int i = 20; i < 40; ++i) {
    StepInput in{seq.get(), std::span(tokens).subspan(i, 1)};
    StepOutput out;
    ASSERT_TRUE(engine_->Step({&in, 1}, {&out, 1}).ok());
    auto full = Fresh(std::span(tokens).first(i + 1));
    EXPECT_LT(RelDiff(out.logits, full), 1e-4) << i;
  }
  EXPECT_EQ(seq->length(), 40);
}

TEST_F(EngineTest, ChunkedPrefillEqualsOneShot) {
  auto tokens = Tokens(53, 2);
  auto one = Fresh(tokens);
  auto seq = cache_->NewSequence();
  auto chunked = *engine_->Prefill(seq.get(), tokens, 7);
  EXPECT_LT(RelDiff(chunked, one), 1e-4);
}

TEST_F(EngineTest, BatchedEqualsUnbatched) {
  auto a = Tokens(30, 3), b = Tokens(5, 4), c = Tokens(12, 5);
  // c already has 11 cached positions and decodes its 12th.
  auto sc = cache_->NewSequence();
  ASSERT_TRUE(engine_->Prefill(sc.get(), std::span(c).first(11)).ok());
  auto sa = cache_->NewSequence(), sb = cache_->NewSequence();
  StepInput in[3] = {{sa.get(), a}, {sb.get(), b, true}, {sc.get(), std::span(c).subspan(11)}};
  StepOutput out[3];
  ASSERT_TRUE(engine_->Step(in, out).ok());
  const int V = engine_->vocab_size();
  EXPECT_LT(RelDiff(out[0].logits, Fresh(a)), 1e-4);
  ASSERT_EQ(out[1].logits.size(), size_t(5) * V);
  for (int i = 0; i < 5; ++i) {
    EXPECT_LT(RelDiff(std::span(out[1].logits).subspan(size_t(i) * V, V),
                      Fresh(std::span(b).first(i + 1))),
              1e-4)
        << i;
  }
  EXPECT_LT(RelDiff(out[2].logits, Fresh(c)), 1e-4);
  EXPECT_EQ(sa->length(), 30);
  EXPECT_EQ(sc->length(), 12);
}

TEST_F(EngineTest, TruncateReusesPrefix) {
  auto t = Tokens(20, 6), u = Tokens(20, 7);
  auto seq = cache_->NewSequence();
  ASSERT_TRUE(engine_->Prefill(seq.get(), t).ok());
  seq->Truncate(9);
  auto logits = *engine_->Prefill(seq.get(), u);
  std::vector<int32_t> joined(t.begin(), t.begin() + 9);
  joined.insert(joined.end(), u.begin(), u.end());
  EXPECT_LT(RelDiff(logits, Fresh(joined)), 1e-4);
}

TEST_F(EngineTest, BadInputLeavesSequencesUnchanged) {
  auto seq = cache_->NewSequence();
  std::vector<int32_t> bad = {5, 151936};
  StepInput in{seq.get(), bad};
  StepOutput out;
  Status st = engine_->Step({&in, 1}, {&out, 1});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("151936"), std::string::npos);
  std::vector<int32_t> none;
  in.tokens = none;
  EXPECT_EQ(engine_->Step({&in, 1}, {&out, 1}).code(), Code::kInvalidArgument);
  EXPECT_EQ(seq->length(), 0);
  std::vector<int32_t> one = {5};
  StepInput twice[2] = {{seq.get(), one}, {seq.get(), one}};
  StepOutput outs[2];
  EXPECT_EQ(engine_->Step(twice, outs).code(), Code::kInvalidArgument);
  EXPECT_EQ(seq->length(), 0);

  // A tiny cache: 2 blocks of 16 positions.
  auto small = *KvCache::Create(model()->config, 2 * cache_->BlockBytes(), 16);
  EXPECT_EQ(small->TotalBlocks(), 2);
  auto s1 = small->NewSequence();
  auto t = Tokens(33, 8);
  in = {s1.get(), t};
  st = engine_->Step({&in, 1}, {&out, 1});
  EXPECT_EQ(st.code(), Code::kResourceExhausted);
  EXPECT_EQ(s1->length(), 0);
  EXPECT_EQ(small->FreeBlocks(), 2);
  in.tokens = std::span(t).first(32);
  EXPECT_TRUE(engine_->Step({&in, 1}, {&out, 1}).ok());
  EXPECT_EQ(small->FreeBlocks(), 0);
  s1.reset();
  EXPECT_EQ(small->FreeBlocks(), 2);
}

TEST_F(EngineTest, ContextLimit) {
  GenerateRequest req;
  req.prompt = Tokens(10, 9);
  req.max_tokens = 32768;
  auto r = Generate(*engine_, *cache_, req);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("context"), std::string::npos);
}

TEST_F(EngineTest, GenerateGreedyIsDeterministicAndStops) {
  GenerateRequest req;
  req.prompt = Tokens(8, 10);
  req.max_tokens = 12;
  req.sampling.temperature = 0;
  req.sampling.logprobs = 3;
  auto a = *Generate(*engine_, *cache_, req);
  auto b = *Generate(*engine_, *cache_, req);
  ASSERT_EQ(a.tokens.size(), 12u);
  EXPECT_EQ(a.finish_reason, "length");
  for (size_t i = 0; i < a.tokens.size(); ++i) {
    EXPECT_EQ(a.tokens[i].token, b.tokens[i].token);
    ASSERT_EQ(a.tokens[i].top.size(), 3u);
    EXPECT_EQ(a.tokens[i].top[0].token, a.tokens[i].token);  // greedy = most likely
    EXPECT_LE(a.tokens[i].logprob, 0);
  }
  req.stop_ids = {a.tokens[4].token};
  auto c = *Generate(*engine_, *cache_, req);
  EXPECT_EQ(c.finish_reason, "stop");
  EXPECT_LE(c.tokens.size(), 5u);
  // Seeded sampling is reproducible.
  req.stop_ids.clear();
  req.sampling.temperature = 1.0f;
  req.sampling.seed = 99;
  auto d = *Generate(*engine_, *cache_, req), e = *Generate(*engine_, *cache_, req);
  for (size_t i = 0; i < d.tokens.size(); ++i) EXPECT_EQ(d.tokens[i].token, e.tokens[i].token);
  EXPECT_EQ(cache_->FreeBlocks(), cache_->TotalBlocks());
}

}  // namespace
}  // namespace modelcar::llm

namespace modelcar::llm {
namespace {

// Batch invariance: a sequence's logits are bit-identical whether it runs alone (whole prompt in
// one step, then one decode per step) or with 15 other sequences at other positions, its prompt
// fed in different chunks next to their decodes and prefills.
class BatchInvarianceTest : public EngineTest, public ::testing::WithParamInterface<Precision> {
 protected:
  void AloneOrInABatchOf16(const std::shared_ptr<const Model>& model);
};

TEST_P(BatchInvarianceTest, AloneOrInABatchOf16) { AloneOrInABatchOf16(model()); }

// int8 weights made at load: at fast precision (AVX512-VNNI) the matrix inputs are rounded to
// int8 once per step, per thread for the small steps and split among the threads for the big
// ones (forward.cc).
TEST_P(BatchInvarianceTest, Int8WeightsAloneOrInABatchOf16) {
  auto m = LoadModel(model_dir(), {QuantConfig::Method::kInt8});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_FALSE((*m)->quantized.empty());
  AloneOrInABatchOf16(*m);
}

void BatchInvarianceTest::AloneOrInABatchOf16(const std::shared_ptr<const Model>& model) {
  EngineOptions opts;
  opts.threads = 2;
  opts.precision = GetParam();
  Engine engine(model, opts);
  auto cache = *KvCache::Create(model->config, 256 << 20, 16, engine.kv_dtype());
  const auto prompt = Tokens(37, 20);
  const int steps = 6;

  // Alone.
  std::vector<std::vector<float>> alone;
  std::vector<int32_t> tokens;
  {
    auto seq = cache->NewSequence();
    alone.push_back(*engine.Prefill(seq.get(), prompt));
    for (int i = 0; i < steps; ++i) {
      const int32_t t = static_cast<int32_t>(
          std::max_element(alone.back().begin(), alone.back().end()) - alone.back().begin());
      tokens.push_back(t);
      StepInput in{seq.get(), {&tokens.back(), 1}};
      StepOutput out;
      ASSERT_TRUE(engine.Step({&in, 1}, {&out, 1}).ok());
      alone.emplace_back(out.logits.begin(), out.logits.end());
    }
  }

  // In a batch: 15 others, prefilled to lengths 1..150; the prompt goes in chunks of 5 and 32.
  std::vector<std::unique_ptr<KvSequence>> others;
  std::vector<std::vector<int32_t>> other_tokens;
  for (int i = 0; i < 15; ++i) {
    others.push_back(cache->NewSequence());
    other_tokens.push_back(Tokens(1 + i * 10, 100 + i));
    ASSERT_TRUE(engine.Prefill(others.back().get(), other_tokens.back(), 64).ok());
  }
  auto seq = cache->NewSequence();
  std::vector<std::vector<float>> batched;
  const int32_t next_other = 7;
  auto step = [&](std::span<const int32_t> mine, bool other_prefill) {
    std::vector<StepInput> in;
    std::vector<int32_t> extra = Tokens(9, 300 + seq->length());
    for (size_t i = 0; i < others.size(); ++i) {
      if (other_prefill && i % 4 == 0) {
        in.push_back({others[i].get(), extra});  // a prefill chunk of 9
      } else {
        in.push_back({others[i].get(), {&next_other, 1}});
      }
    }
    in.insert(in.begin() + 6, StepInput{seq.get(), mine});  // somewhere in the middle
    std::vector<StepOutput> out(in.size());
    ASSERT_TRUE(engine.Step(in, out).ok());
    batched.emplace_back(out[6].logits.begin(), out[6].logits.end());
  };
  step(std::span(prompt).first(5), true);
  batched.clear();  // not the last prompt position
  step(std::span(prompt).subspan(5), false);
  for (int i = 0; i < steps; ++i) step({&tokens[i], 1}, i % 2 == 0);

  ASSERT_EQ(batched.size(), alone.size());
  for (size_t i = 0; i < alone.size(); ++i) {
    ASSERT_EQ(batched[i].size(), alone[i].size());
    EXPECT_EQ(std::memcmp(batched[i].data(), alone[i].data(), alone[i].size() * sizeof(float)), 0)
        << "step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, BatchInvarianceTest,
                         ::testing::Values(Precision::kFast, Precision::kExact),
                         [](const auto& info) { return std::string(PrecisionName(info.param)); });

}  // namespace
}  // namespace modelcar::llm

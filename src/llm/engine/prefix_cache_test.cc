// Prefix caching through the engine: a prompt that reuses another sequence's cached blocks gets
// bit-identical logits to the same prompt computed from scratch in a cache without prefix
// caching, alone or batched with the sequence it shares blocks with.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "llm/engine/engine.h"
#include "llm/model/testmodel_fixture.h"

namespace modelcar::llm {
namespace {

class PrefixEngineTest : public TinyModelTest<5, ::testing::TestWithParam<Precision>> {
 protected:
  static int32_t Argmax(const std::vector<float>& l) {
    return static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  }
};

TEST_P(PrefixEngineTest, CachedPrefixGivesIdenticalLogits) {
  Engine engine(model(), EngineOptions{2, GetParam()});
  const auto history = Tokens(70, 1);
  auto prompt = history;
  const auto turn = Tokens(21, 2);
  prompt.insert(prompt.end(), turn.begin(), turn.end());
  const int decodes = 4;

  // Reference: the whole prompt from scratch, no prefix caching, then greedy decodes.
  std::vector<std::vector<float>> ref;
  std::vector<int32_t> generated;
  {
    auto cache = *KvCache::Create(model()->config, 64 << 20, 16, engine.kv_dtype(), false);
    auto seq = cache->NewSequence();
    ref.push_back(*engine.Prefill(seq.get(), prompt, 37));
    for (int i = 0; i < decodes; ++i) {
      generated.push_back(Argmax(ref.back()));
      StepInput in{seq.get(), {&generated.back(), 1}};
      StepOutput out;
      ASSERT_TRUE(engine.Step({&in, 1}, {&out, 1}).ok());
      ref.emplace_back(out.logits.begin(), out.logits.end());
    }
  }

  // With prefix caching: a first sequence holds the history; the second reuses its 4 full
  // blocks and feeds the rest in steps batched with the first one's decodes.
  auto cache = *KvCache::Create(model()->config, 64 << 20, 16, engine.kv_dtype(), true);
  auto first = cache->NewSequence();
  ASSERT_TRUE(engine.Prefill(first.get(), history, 512).ok());
  auto second = cache->NewSequence();
  ASSERT_EQ(cache->AttachPrefix(second.get(), prompt, static_cast<int>(prompt.size()) - 1), 64);
  std::vector<std::vector<float>> got;
  const int32_t other = 11;
  auto step = [&](std::span<const int32_t> mine) {
    StepInput in[2] = {{first.get(), {&other, 1}}, {second.get(), mine}};
    StepOutput out[2];
    ASSERT_TRUE(engine.Step(in, out).ok());
    got.emplace_back(out[1].logits.begin(), out[1].logits.end());
  };
  step(std::span(prompt).subspan(64));
  for (int i = 0; i < decodes; ++i) step({&generated[i], 1});

  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(std::memcmp(got[i].data(), ref[i].data(), ref[i].size() * sizeof(float)), 0)
        << "step " << i;
  }
  EXPECT_EQ(second->blocks()[3], first->blocks()[3]);  // shared, not copied
}

INSTANTIATE_TEST_SUITE_P(Precisions, PrefixEngineTest,
                         ::testing::Values(Precision::kFast, Precision::kExact),
                         [](const auto& info) { return std::string(PrecisionName(info.param)); });

}  // namespace
}  // namespace modelcar::llm

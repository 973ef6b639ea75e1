#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "llm/ops/ops.h"
#include "llm/ops/test_util.h"

namespace modelcar::llm::ops {
namespace {

using testing::ForEachTarget;
using testing::MaxRelDiff;
using testing::Rand;

// A KV head's cache: blocks of `bt` positions holding K^T then V, written through StoreKv.
struct Cache {
  int hd, bt;
  DType type;
  std::vector<std::vector<std::byte>> mem;
  std::vector<const std::byte*> blocks;

  Cache(int n, int head_dim, int block_tokens, DType t, uint32_t seed)
      : hd(head_dim), bt(block_tokens), type(t) {
    const int nb = (n + bt - 1) / bt;
    const size_t half = size_t(hd) * bt * DTypeSize(type);
    mem.assign(nb, std::vector<std::byte>(2 * half, std::byte{0x7f}));  // NaN-ish garbage
    for (auto& m : mem) blocks.push_back(m.data());
    for (int p = 0; p < n; ++p) {
      auto k = Rand(hd, seed + 2 * p), v = Rand(hd, seed + 2 * p + 1);
      std::byte* base = mem[p / bt].data();
      StoreKv(k.data(), v.data(), hd, bt, type, base, base + half, p % bt);
    }
  }
  KvView View() const {
    KvView kv;
    kv.blocks = blocks.data();
    kv.k_offset = 0;
    kv.v_offset = int64_t(hd) * bt * DTypeSize(type);
    kv.block_tokens = bt;
    kv.head_dim = hd;
    kv.type = type;
    return kv;
  }
};

TEST(AttentionTest, MatchesReference) {
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int hd : {32, 40, 64, 128}) {
      for (int heads : {1, 2, 7, 9}) {
        for (int n : {1, 15, 16, 17, 300}) {
          Cache cache(n, hd, 16, type, 100 + n);
          const KvView kv = cache.View();
          auto q = Rand(size_t(heads) * hd, 11, 0.2f);
          std::vector<float> expect(size_t(heads) * hd);
          ref::Attention(q.data(), heads, n, kv, expect.data());
          ForEachTarget([&] {
            std::vector<float> scores(AttentionScratch(heads, n, 16)), out(expect.size());
            Attention(q.data(), heads, n, kv, scores.data(), out.data(), nullptr);
            EXPECT_LT(MaxRelDiff(out, expect), 2e-5)
                << DTypeName(type) << " " << hd << " " << heads << " " << n;
            std::vector<uint16_t> hi(expect.size()), lo(expect.size());
            Attention(q.data(), heads, n, kv, scores.data(), nullptr, hi.data(), lo.data());
            for (size_t i = 0; i < hi.size(); ++i) {
              ASSERT_EQ(hi[i], F32ToBf16(out[i])) << i;
              ASSERT_EQ(lo[i], F32ToBf16(out[i] - Bf16ToF32(hi[i]))) << i;
            }
          });
        }
      }
    }
  }
}

// A position's result depends only on its query and the cached positions before it: the same
// bits whether the cache holds more positions after it or not, and per head whether it runs
// with the other heads of its group or alone.
TEST(AttentionTest, ResultDependsOnlyOnItsPositions) {
  const int hd = 64, heads = 7, n = 37;
  Cache small(n, hd, 16, DType::kF16, 5), big(200, hd, 16, DType::kF16, 5);
  auto q = Rand(size_t(heads) * hd, 12, 0.3f);
  ForEachTarget([&] {
    std::vector<float> scores(AttentionScratch(heads, 200, 16)), a(size_t(heads) * hd), b(a.size());
    Attention(q.data(), heads, n, small.View(), scores.data(), a.data(), nullptr);
    Attention(q.data(), heads, n, big.View(), scores.data(), b.data(), nullptr);
    EXPECT_EQ(a, b);
    for (int g = 0; g < heads; ++g) {
      std::vector<float> one(hd);
      Attention(q.data() + g * hd, 1, n, small.View(), scores.data(), one.data(), nullptr);
      for (int d = 0; d < hd; ++d) ASSERT_EQ(one[d], a[g * hd + d]) << g << " " << d;
    }
  });
}

}  // namespace
}  // namespace modelcar::llm::ops

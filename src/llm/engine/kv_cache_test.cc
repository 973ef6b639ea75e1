// The KV cache's block pool and prefix index without a model: hashing, sharing, reference counts,
// LRU eviction, copy before a write into a shared block.
#include "llm/engine/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

namespace modelcar::llm {
namespace {

constexpr int kBt = 16;

ModelConfig TinyConfig() {
  ModelConfig c;
  c.num_layers = 1;
  c.num_kv_heads = 1;
  c.head_dim = 4;
  return c;
}

std::unique_ptr<KvCache> MakeCache(int blocks, bool prefix = true) {
  const ModelConfig c = TinyConfig();
  const uint64_t block_bytes = uint64_t{4} * kBt * 2 /*f16*/ * 2 /*K,V*/;
  return *KvCache::Create(c, blocks * block_bytes, kBt, DType::kF16, prefix);
}

std::vector<int32_t> Ids(int n, int32_t first) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Feeds `tokens` as the engine does: reserve, write (a byte pattern per position), append.
void Feed(KvCache& cache, KvSequence* seq, std::span<const int32_t> tokens) {
  ASSERT_TRUE(cache.Reserve(seq, static_cast<int>(tokens.size())).ok());
  for (size_t j = 0; j < tokens.size(); ++j) {
    const int p = seq->length() + static_cast<int>(j);
    std::byte* k = static_cast<std::byte*>(cache.K(seq->blocks()[p / kBt], 0, 0));
    std::memset(k + (p % kBt) * 2, static_cast<int>(tokens[j] & 0x7f), 2);
  }
  cache.Append(seq, tokens);
}

TEST(PrefixHashTest, ChainsParentAndEveryToken) {
  const auto a = Ids(kBt, 0);
  auto b = a;
  b[kBt - 1] ^= 1;
  EXPECT_NE(PrefixBlockHash(kPrefixRootHash, a), PrefixBlockHash(kPrefixRootHash, b));
  EXPECT_NE(PrefixBlockHash(1, a), PrefixBlockHash(2, a));
  EXPECT_EQ(PrefixBlockHash(7, a), PrefixBlockHash(7, Ids(kBt, 0)));
}

TEST(PrefixCacheTest, FullBlocksAreFoundPartialOnesNever) {
  auto cache = MakeCache(8);
  const auto prompt = Ids(40, 100);  // 2 full blocks + 8
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  EXPECT_EQ(cache->FindPrefix(prompt, 40).tokens, 32);
  EXPECT_EQ(cache->FindPrefix(prompt, 39).tokens, 32);
  EXPECT_EQ(cache->FindPrefix(prompt, 31).tokens, 16);  // the cap is in whole blocks
  EXPECT_EQ(cache->FindPrefix(std::span(prompt).first(20), 100).tokens, 16);

  // Another prompt with the same second block after a different first one: no hit at all.
  auto other = prompt;
  other[0] = 7;
  EXPECT_EQ(cache->FindPrefix(other, 40).tokens, 0);
  // A different second block: only the first.
  other = prompt;
  other[20] = 7;
  EXPECT_EQ(cache->FindPrefix(other, 40).tokens, 16);
}

TEST(PrefixCacheTest, SharedBlocksAreCountedAndOutliveTheirFirstOwner) {
  auto cache = MakeCache(8);
  const auto prompt = Ids(40, 100);
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  EXPECT_EQ(cache->FreeBlocks(), 5);

  auto b = cache->NewSequence();
  const PrefixHit hit = cache->FindPrefix(prompt, 39);
  EXPECT_EQ(hit.blocks, 2);
  EXPECT_EQ(hit.revived, 0);  // a holds them: attaching takes nothing from the free pool
  EXPECT_EQ(cache->AttachPrefix(b.get(), prompt, 39), 32);
  EXPECT_EQ(b->length(), 32);
  EXPECT_EQ(cache->FreeBlocks(), 5);
  EXPECT_EQ(b->blocks()[0], a->blocks()[0]);
  EXPECT_EQ(b->blocks()[1], a->blocks()[1]);
  EXPECT_EQ(cache->RefCount(a->blocks()[0]), 2);

  // b's own tail goes to a new block; a's partial block is never touched.
  const int a_tail = a->blocks()[2];
  Feed(*cache, b.get(), Ids(3, 900));
  EXPECT_NE(b->blocks()[2], a_tail);
  EXPECT_EQ(cache->FreeBlocks(), 4);

  const int shared = a->blocks()[0];
  a.reset();  // a's private tail is freed, the shared blocks stay with b
  EXPECT_EQ(cache->FreeBlocks(), 5);
  EXPECT_EQ(cache->RefCount(shared), 1);
  EXPECT_EQ(cache->FindPrefix(prompt, 39).tokens, 32);

  b.reset();  // nobody holds them now: free, but still found
  EXPECT_EQ(cache->FreeBlocks(), 8);
  EXPECT_EQ(cache->CachedFreeBlocks(), 2);
  const PrefixHit again = cache->FindPrefix(prompt, 39);
  EXPECT_EQ(again.tokens, 32);
  EXPECT_EQ(again.revived, 2);
  auto c = cache->NewSequence();
  EXPECT_EQ(cache->AttachPrefix(c.get(), prompt, 39), 32);
  EXPECT_EQ(cache->FreeBlocks(), 6);
  EXPECT_EQ(cache->CachedFreeBlocks(), 0);
}

TEST(PrefixCacheTest, EvictsLeastRecentlyUsedOnlyUnderPressureTailFirst) {
  auto cache = MakeCache(6);
  const auto p1 = Ids(32, 1000), p2 = Ids(32, 2000);
  {
    auto a = cache->NewSequence();
    Feed(*cache, a.get(), p1);
  }
  {
    auto b = cache->NewSequence();
    Feed(*cache, b.get(), p2);
  }
  EXPECT_EQ(cache->CachedFreeBlocks(), 4);
  // Two unindexed blocks are left: using them evicts nothing.
  auto c = cache->NewSequence();
  Feed(*cache, c.get(), Ids(32, 3000));
  EXPECT_EQ(cache->FindPrefix(p1, 32).tokens, 32);
  EXPECT_EQ(cache->FindPrefix(p2, 32).tokens, 32);
  c->Clear();
  // c's blocks are indexed too now; p1 is the oldest: its last block goes first.
  auto d = cache->NewSequence();
  EXPECT_EQ(cache->AttachPrefix(d.get(), p2, 32), 32);  // p2 used again: most recent
  auto e = cache->NewSequence();
  Feed(*cache, e.get(), Ids(10, 4000));  // one block
  EXPECT_EQ(cache->FindPrefix(p1, 32).tokens, 16);
  Feed(*cache, e.get(), Ids(20, 5000));  // one more
  EXPECT_EQ(cache->FindPrefix(p1, 32).tokens, 0);
  EXPECT_EQ(cache->FindPrefix(p2, 32).tokens, 32);  // held by d
}

TEST(PrefixCacheTest, NoBlockInUseIsEvicted) {
  auto cache = MakeCache(4);
  const auto prompt = Ids(48, 10);
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);  // 3 blocks held
  auto b = cache->NewSequence();
  EXPECT_FALSE(cache->Reserve(b.get(), 32).ok());  // 2 needed, 1 free
  EXPECT_EQ(b->blocks().size(), 0u);
  EXPECT_EQ(cache->FindPrefix(prompt, 48).tokens, 48);
  EXPECT_EQ(cache->FreeBlocks(), 1);
}

TEST(PrefixCacheTest, WriteIntoASharedBlockCopiesItFirst) {
  auto cache = MakeCache(8);
  const auto prompt = Ids(32, 50);
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  auto b = cache->NewSequence();
  ASSERT_EQ(cache->AttachPrefix(b.get(), prompt, 32), 32);
  b->Truncate(20);  // position 20 lies in the shared second block
  const int shared = a->blocks()[1];
  EXPECT_EQ(cache->BlocksNeeded(*b, 1), 1);
  Feed(*cache, b.get(), Ids(1, 99));
  EXPECT_NE(b->blocks()[1], shared);
  EXPECT_EQ(cache->RefCount(shared), 1);
  // The copy kept positions 16..19; the original kept its own position 20.
  const auto* orig = static_cast<const std::byte*>(cache->K(shared, 0, 0));
  const auto* copy = static_cast<const std::byte*>(cache->K(b->blocks()[1], 0, 0));
  EXPECT_EQ(std::memcmp(orig, copy, 4 * 2), 0);
  EXPECT_EQ(static_cast<int>(orig[4 * 2]), (50 + 20) & 0x7f);
  EXPECT_EQ(static_cast<int>(copy[4 * 2]), 99);
  EXPECT_EQ(cache->FindPrefix(prompt, 32).tokens, 32);  // a's blocks still found
}

TEST(PrefixCacheTest, OwnIndexedBlockRewrittenInPlaceIsForgotten) {
  auto cache = MakeCache(8);
  const auto prompt = Ids(32, 50);
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  const int second = a->blocks()[1];
  a->Truncate(20);
  Feed(*cache, a.get(), Ids(1, 99));
  EXPECT_EQ(a->blocks()[1], second);  // held by a alone: no copy
  EXPECT_EQ(cache->FindPrefix(prompt, 32).tokens, 16);
}

TEST(PrefixCacheTest, TwiceComputedBlocksAreDeduplicated) {
  auto cache = MakeCache(8);
  const auto prompt = Ids(20, 7);
  auto a = cache->NewSequence(), b = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  Feed(*cache, b.get(), prompt);  // in the same batch: b could not find a's block before
  EXPECT_EQ(a->blocks()[0], b->blocks()[0]);
  EXPECT_EQ(cache->RefCount(a->blocks()[0]), 2);
  EXPECT_NE(a->blocks()[1], b->blocks()[1]);
  EXPECT_EQ(cache->FreeBlocks(), 5);
}

TEST(PrefixCacheTest, OffMeansNoIndex) {
  auto cache = MakeCache(8, /*prefix=*/false);
  const auto prompt = Ids(40, 100);
  auto a = cache->NewSequence();
  Feed(*cache, a.get(), prompt);
  auto b = cache->NewSequence();
  EXPECT_EQ(cache->FindPrefix(prompt, 40).tokens, 0);
  EXPECT_EQ(cache->AttachPrefix(b.get(), prompt, 40), 0);
  a.reset();
  EXPECT_EQ(cache->FreeBlocks(), 8);
  EXPECT_EQ(cache->CachedFreeBlocks(), 0);
}

}  // namespace
}  // namespace modelcar::llm

// KvCache's prefix index (kv_cache.h): hash chain of full blocks, exact matching, LRU of free
// indexed blocks.
#include <algorithm>

#include "llm/engine/kv_cache.h"

namespace modelcar::llm {

uint64_t PrefixBlockHash(uint64_t parent, std::span<const int32_t> tokens) {
  // splitmix64's finalizer over (state ^ token) per token: every bit of every id moves the result.
  uint64_t h = parent ^ (0x9e3779b97f4a7c15ull * (tokens.size() + 1));
  for (int32_t t : tokens) {
    h ^= static_cast<uint32_t>(t);
    h += 0x9e3779b97f4a7c15ull;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    h ^= h >> 31;
  }
  return h;
}

bool KvCache::Matches(int block, int parent, std::span<const int32_t> tokens) const {
  const Meta& m = meta_[block];
  return m.indexed && m.parent == parent && (parent < 0 || m.parent_gen == meta_[parent].gen) &&
         std::equal(tokens.begin(), tokens.end(), Tokens(block));
}

void KvCache::Index(KvSequence* seq, int i) {
  int& slot = seq->blocks_[i];
  const int parent = i > 0 ? seq->blocks_[i - 1] : -1;
  if (parent >= 0 && !meta_[parent].indexed) return;  // the chain is broken (a hash collision)
  const std::span<const int32_t> tokens(Tokens(slot), block_tokens_);
  const uint64_t h = PrefixBlockHash(parent >= 0 ? meta_[parent].hash : kPrefixRootHash, tokens);
  if (auto it = index_.find(h); it != index_.end()) {
    const int twin = it->second;
    if (twin != slot && Matches(twin, parent, tokens)) {
      // Computed twice (e.g. two sequences prefilled the same prompt together): keep one copy.
      Ref(twin);
      Unref(slot);
      slot = twin;
    }
    return;  // a collision leaves this block unindexed
  }
  Meta& m = meta_[slot];
  m.indexed = true;
  m.hash = h;
  m.parent = parent;
  m.parent_gen = parent >= 0 ? meta_[parent].gen : 0;
  index_.emplace(h, slot);
}

void KvCache::Unindex(int block) {
  Meta& m = meta_[block];
  if (!m.indexed) return;
  if (auto it = index_.find(m.hash); it != index_.end() && it->second == block) index_.erase(it);
  m.indexed = false;
}

PrefixHit KvCache::FindPrefix(std::span<const int32_t> tokens, int max_tokens) const {
  PrefixHit hit;
  if (!prefix_caching_) return hit;
  const int limit = std::min<int>(max_tokens, static_cast<int>(tokens.size())) / block_tokens_;
  uint64_t h = kPrefixRootHash;
  int parent = -1;
  for (int i = 0; i < limit; ++i) {
    const auto block = tokens.subspan(size_t(i) * block_tokens_, block_tokens_);
    h = PrefixBlockHash(h, block);
    const auto it = index_.find(h);
    if (it == index_.end() || !Matches(it->second, parent, block)) break;
    parent = it->second;
    ++hit.blocks;
    if (meta_[parent].refs == 0) ++hit.revived;
  }
  hit.tokens = hit.blocks * block_tokens_;
  return hit;
}

int KvCache::AttachPrefix(KvSequence* seq, std::span<const int32_t> tokens, int max_tokens) {
  if (seq->length_ != 0 || !seq->blocks_.empty()) return 0;
  const PrefixHit hit = FindPrefix(tokens, max_tokens);
  uint64_t h = kPrefixRootHash;
  for (int i = 0; i < hit.blocks; ++i) {
    h = PrefixBlockHash(h, tokens.subspan(size_t(i) * block_tokens_, block_tokens_));
    const int b = index_.find(h)->second;
    Ref(b);
    seq->blocks_.push_back(b);
  }
  seq->length_ = hit.tokens;
  return hit.tokens;
}

void KvCache::LruPush(int block) {
  Meta& m = meta_[block];
  m.lru_prev = lru_tail_;
  m.lru_next = -1;
  if (lru_tail_ >= 0) {
    meta_[lru_tail_].lru_next = block;
  } else {
    lru_head_ = block;
  }
  lru_tail_ = block;
  ++lru_size_;
}

void KvCache::LruErase(int block) {
  Meta& m = meta_[block];
  (m.lru_prev >= 0 ? meta_[m.lru_prev].lru_next : lru_head_) = m.lru_next;
  (m.lru_next >= 0 ? meta_[m.lru_next].lru_prev : lru_tail_) = m.lru_prev;
  m.lru_prev = m.lru_next = -1;
  --lru_size_;
}

}  // namespace modelcar::llm

// Paged key/value cache with a byte budget and automatic prefix caching.
//
// The cache owns a pool of blocks of `block_tokens` positions each; a block holds K and V of
// every layer and KV head for its positions, in F32, F16 or BF16 (dtype()), laid out for
// ops::Attention (llm/ops/ops.h KvView): per layer and KV head, K transposed
// ([head_dim][block_tokens]) then V ([block_tokens][head_dim]). A KvSequence is one sequence's list
// of blocks and its length. The server admits a request when FreeBlocks() covers its prompt, and
// frees a sequence (destroy or Clear()) to evict it.
//
// Prefix caching (Create's `prefix_caching`, vLLM's automatic prefix caching): when a block of a
// sequence fills up (Append), it is indexed by a hash chain over (the previous block's hash, the
// block's token ids); a block's K/V depend on nothing else (the model and the element type are
// fixed per cache, and the engine computes a position's K/V bit-identically in any batch or
// chunking). AttachPrefix gives a new sequence the longest indexed run of full blocks that holds
// its first tokens, shared read-only: blocks are reference-counted, a lookup checks every matched
// block's token ids and parent block exactly (the hash only finds candidates, so a collision is a
// miss, never wrong K/V). Only full blocks are ever shared; a sequence never writes into a shared
// block (Reserve copies a shared partial block first, after a Truncate into it). A block whose last
// sequence lets go stays indexed and counts as free; free blocks are handed out unindexed ones
// first, then the least recently used indexed ones (evicted then), the last block of a sequence
// before its first. A full block whose content is already indexed is replaced by the indexed one
// (deduplicated) when it fills.
//
// Thread safety: none. The cache and all its sequences are used by one thread (the engine
// thread). Ownership: the caller owns KvSequence objects; they must be destroyed before the
// KvCache they came from.
#ifndef MODELCAR_LLM_ENGINE_KV_CACHE_H_
#define MODELCAR_LLM_ENGINE_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "llm/model/config.h"
#include "llm/model/dtype.h"

namespace modelcar::llm {

class KvCache;

class KvSequence {
 public:
  ~KvSequence();  // returns its blocks to the cache
  KvSequence(const KvSequence&) = delete;
  KvSequence& operator=(const KvSequence&) = delete;

  // Positions stored (tokens already fed through the model).
  int length() const { return length_; }
  // Drops positions >= `length` (e.g. to reuse a common prefix); frees whole unused blocks.
  // REQUIRES: 0 <= length <= this->length().
  void Truncate(int length);
  void Clear() { Truncate(0); }
  // The cache blocks holding positions [i * block_tokens, (i + 1) * block_tokens), in order
  // (including those Reserve added ahead of length()).
  std::span<const int> blocks() const { return blocks_; }

 private:
  friend class KvCache;
  friend class Engine;
  explicit KvSequence(KvCache* cache) : cache_(cache) {}
  KvCache* cache_;
  std::vector<int> blocks_;
  int length_ = 0;
};

// What AttachPrefix would reuse for a prompt (admission accounting).
struct PrefixHit {
  int tokens = 0;   // positions reused (a multiple of block_tokens)
  int blocks = 0;   // blocks shared
  int revived = 0;  // of those, blocks no sequence holds now: attaching takes them off FreeBlocks
};

class KvCache {
 public:
  // A pool of floor(byte_budget / BlockBytes()) blocks (at least 1). The memory is allocated
  // lazily per block on first use, so a large budget costs nothing until used.
  // `dtype`: F32, F16 or BF16. InvalidArgument unless block_tokens is a multiple of 16 in
  // [16, 4096].
  static Result<std::unique_ptr<KvCache>> Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens = 16, DType dtype = DType::kF16,
                                                 bool prefix_caching = false);
  ~KvCache();

  std::unique_ptr<KvSequence> NewSequence();

  // Blocks Reserve(seq, n) takes from the free pool (new blocks, plus a copy of a shared partial
  // last block).
  int BlocksNeeded(const KvSequence& seq, int n) const;
  // Makes room for `n` more positions in `seq` (allocating blocks; a shared block holding
  // position length() is replaced by a private copy); ResourceExhausted when the pool has too few
  // free blocks (nothing is allocated then).
  Status Reserve(KvSequence* seq, int n);
  // Records that `tokens` were written at positions length() ... (the engine, after a step) and
  // indexes the blocks they fill. REQUIRES: Reserve(seq, tokens.size()) before the writes.
  void Append(KvSequence* seq, std::span<const int32_t> tokens);

  // The longest run of indexed full blocks holding tokens[0, k), k <= max_tokens (0 without
  // prefix caching). Changes nothing.
  PrefixHit FindPrefix(std::span<const int32_t> tokens, int max_tokens) const;
  // Shares that run with `seq` and returns its length in positions (the tokens to feed next start
  // there). REQUIRES: seq->length() == 0 and no blocks reserved.
  int AttachPrefix(KvSequence* seq, std::span<const int32_t> tokens, int max_tokens);

  bool prefix_caching() const { return prefix_caching_; }
  int block_tokens() const { return block_tokens_; }
  DType dtype() const { return dtype_; }
  uint64_t BlockBytes() const { return block_bytes_; }
  uint64_t BytesPerToken() const { return BlockBytes() / block_tokens_; }
  int TotalBlocks() const { return static_cast<int>(pool_.size()); }
  // Blocks no sequence holds (indexed ones included: they are evicted when needed).
  int FreeBlocks() const { return static_cast<int>(free_.size()) + lru_size_; }
  // Of those, blocks that hold an indexed prefix.
  int CachedFreeBlocks() const { return lru_size_; }
  // Sequences holding `block` (tests, accounting).
  int RefCount(int block) const { return meta_[block].refs; }
  // Blocks needed to hold `tokens` positions.
  int BlocksFor(int tokens) const { return (tokens + block_tokens_ - 1) / block_tokens_; }
  uint64_t CapacityBytes() const { return TotalBlocks() * BlockBytes(); }
  uint64_t UsedBytes() const { return (TotalBlocks() - FreeBlocks()) * BlockBytes(); }

  // K^T ([head_dim][block_tokens]) and V ([block_tokens][head_dim]) of `layer`, KV head `kvh`,
  // in block `block`, elements of dtype().
  void* K(int block, int layer, int kvh);
  void* V(int block, int layer, int kvh);
  // The same as a block's base address plus byte offsets (ops::KvView).
  std::byte* BlockData(int block) { return pool_[block].get(); }
  int64_t KOffset(int layer, int kvh) const {
    return static_cast<int64_t>((layer * kv_heads_ + kvh) * 2) * head_bytes_;
  }
  int64_t VOffset(int layer, int kvh) const { return KOffset(layer, kvh) + head_bytes_; }

 private:
  friend class KvSequence;
  struct Free {
    void operator()(void* p) const;
  };
  struct Meta {
    int refs = 0;
    bool indexed = false;  // in index_ under `hash`
    uint64_t hash = 0;     // of the chain up to this block (valid while indexed)
    int parent = -1;       // the block before it when indexed (-1: first block)
    uint32_t parent_gen = 0;
    uint32_t gen = 0;                  // bumped whenever the block is handed out anew
    int lru_prev = -1, lru_next = -1;  // free indexed blocks, oldest first
  };
  KvCache(const ModelConfig& config, int blocks, int block_tokens, DType dtype, bool prefix);
  void Release(KvSequence* seq, int keep_blocks);
  // Takes a free block (unindexed first, else the least recently used indexed one) with memory;
  // -1 when none is left or memory ran out.
  int TakeBlock();
  void Unref(int block);
  void Ref(int block);
  // Makes the shared or indexed block holding position seq->length_ private before a write.
  Status MakeTailPrivate(KvSequence* seq);
  bool TailShared(const KvSequence& seq) const;
  void Index(KvSequence* seq, int i);  // block i of seq just filled
  void Unindex(int block);
  bool Matches(int block, int parent, std::span<const int32_t> tokens) const;
  void LruPush(int block);
  void LruErase(int block);
  int32_t* Tokens(int block) { return &tokens_[size_t(block) * block_tokens_]; }
  const int32_t* Tokens(int block) const { return &tokens_[size_t(block) * block_tokens_]; }

  int kv_heads_, block_tokens_;
  DType dtype_;
  bool prefix_caching_;
  uint64_t head_bytes_;  // K or V of one layer and KV head in a block
  uint64_t block_bytes_;
  std::vector<std::unique_ptr<std::byte, Free>> pool_;  // lazily allocated, 64-byte aligned
  std::vector<int> free_;                               // unindexed, held by no sequence
  std::vector<Meta> meta_;
  std::vector<int32_t> tokens_;  // prefix caching: each block's token ids
  std::unordered_map<uint64_t, int> index_;
  int lru_head_ = -1, lru_tail_ = -1, lru_size_ = 0;
};

// The hash of a full block given its parent's (kPrefixRootHash for the first block).
inline constexpr uint64_t kPrefixRootHash = 0x6d6f64656c636172ull;
uint64_t PrefixBlockHash(uint64_t parent, std::span<const int32_t> tokens);

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_KV_CACHE_H_

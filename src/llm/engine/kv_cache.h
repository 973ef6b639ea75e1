// Paged key/value cache with a byte budget.
//
// The cache owns a pool of blocks of `block_tokens` positions each; a block holds K and V (f32)
// of every layer and KV head for its positions. A KvSequence is one sequence's list of blocks and
// its length. The server admits a request when FreeBlocks() covers its prompt, and frees a
// sequence (destroy or Clear()) to evict it.
//
// Thread safety: none. The cache and all its sequences are used by one thread (the engine
// thread). Ownership: the caller owns KvSequence objects; they must be destroyed before the
// KvCache they came from.
#ifndef MODELCAR_LLM_ENGINE_KV_CACHE_H_
#define MODELCAR_LLM_ENGINE_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "base/status.h"
#include "llm/model/config.h"

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

 private:
  friend class KvCache;
  friend class Engine;
  explicit KvSequence(KvCache* cache) : cache_(cache) {}
  KvCache* cache_;
  std::vector<int> blocks_;
  int length_ = 0;
};

class KvCache {
 public:
  // A pool of floor(byte_budget / BlockBytes()) blocks (at least 1). The memory is allocated
  // lazily per block on first use, so a large budget costs nothing until used.
  static Result<std::unique_ptr<KvCache>> Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens = 16);
  ~KvCache();

  std::unique_ptr<KvSequence> NewSequence();

  // Makes room for `n` more positions in `seq` (allocating blocks); ResourceExhausted when the
  // pool has too few free blocks (nothing is allocated then).
  Status Reserve(KvSequence* seq, int n);

  int block_tokens() const { return block_tokens_; }
  uint64_t BlockBytes() const { return block_floats_ * sizeof(float); }
  uint64_t BytesPerToken() const { return BlockBytes() / block_tokens_; }
  int TotalBlocks() const { return static_cast<int>(pool_.size()); }
  int FreeBlocks() const { return static_cast<int>(free_.size()); }
  // Blocks needed to hold `tokens` positions.
  int BlocksFor(int tokens) const { return (tokens + block_tokens_ - 1) / block_tokens_; }
  uint64_t CapacityBytes() const { return TotalBlocks() * BlockBytes(); }
  uint64_t UsedBytes() const { return (TotalBlocks() - FreeBlocks()) * BlockBytes(); }

  // K (or V) rows of `layer`, KV head `kvh`, in block `block`: [block_tokens, head_dim] floats.
  float* K(int block, int layer, int kvh);
  float* V(int block, int layer, int kvh);

 private:
  friend class KvSequence;
  KvCache(const ModelConfig& config, int blocks, int block_tokens);
  void Release(KvSequence* seq, int keep_blocks);

  int kv_heads_, head_dim_, block_tokens_;
  uint64_t block_floats_;
  std::vector<std::unique_ptr<float[]>> pool_;  // lazily allocated
  std::vector<int> free_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_KV_CACHE_H_

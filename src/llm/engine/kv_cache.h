// Paged key/value cache with a byte budget.
//
// The cache owns a pool of blocks of `block_tokens` positions each; a block holds K and V of
// every layer and KV head for its positions, in F32, F16 or BF16 (dtype()), laid out for
// ops::Attention (llm/ops/ops.h KvView): per layer and KV head, K transposed
// ([head_dim][block_tokens]) then V ([block_tokens][head_dim]). A KvSequence is one sequence's list
// of blocks and its length. The server admits a request when FreeBlocks() covers its prompt, and
// frees a sequence (destroy or Clear()) to evict it.
//
// Thread safety: none. The cache and all its sequences are used by one thread (the engine
// thread). Ownership: the caller owns KvSequence objects; they must be destroyed before the
// KvCache they came from.
#ifndef MODELCAR_LLM_ENGINE_KV_CACHE_H_
#define MODELCAR_LLM_ENGINE_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <span>
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

class KvCache {
 public:
  // A pool of floor(byte_budget / BlockBytes()) blocks (at least 1). The memory is allocated
  // lazily per block on first use, so a large budget costs nothing until used.
  // `dtype`: F32, F16 or BF16. InvalidArgument unless block_tokens is a multiple of 16 in
  // [16, 4096].
  static Result<std::unique_ptr<KvCache>> Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens = 16, DType dtype = DType::kF16);
  ~KvCache();

  std::unique_ptr<KvSequence> NewSequence();

  // Makes room for `n` more positions in `seq` (allocating blocks); ResourceExhausted when the
  // pool has too few free blocks (nothing is allocated then).
  Status Reserve(KvSequence* seq, int n);

  int block_tokens() const { return block_tokens_; }
  DType dtype() const { return dtype_; }
  uint64_t BlockBytes() const { return block_bytes_; }
  uint64_t BytesPerToken() const { return BlockBytes() / block_tokens_; }
  int TotalBlocks() const { return static_cast<int>(pool_.size()); }
  int FreeBlocks() const { return static_cast<int>(free_.size()); }
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
  KvCache(const ModelConfig& config, int blocks, int block_tokens, DType dtype);
  void Release(KvSequence* seq, int keep_blocks);

  int kv_heads_, block_tokens_;
  DType dtype_;
  uint64_t head_bytes_;  // K or V of one layer and KV head in a block
  uint64_t block_bytes_;
  std::vector<std::unique_ptr<std::byte, Free>> pool_;  // lazily allocated, 64-byte aligned
  std::vector<int> free_;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_ENGINE_KV_CACHE_H_

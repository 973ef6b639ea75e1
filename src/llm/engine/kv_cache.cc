#include "llm/engine/kv_cache.h"

#include <algorithm>

namespace modelcar::llm {

KvSequence::~KvSequence() { cache_->Release(this, 0); }

void KvSequence::Truncate(int length) {
  length = std::clamp(length, 0, length_);
  length_ = length;
  cache_->Release(this, cache_->BlocksFor(length));
}

KvCache::KvCache(const ModelConfig& c, int blocks, int block_tokens)
    : kv_heads_(c.num_kv_heads),
      head_dim_(c.head_dim),
      block_tokens_(block_tokens),
      block_floats_(uint64_t{2} * c.num_layers * c.num_kv_heads * c.head_dim * block_tokens),
      pool_(blocks) {
  free_.reserve(blocks);
  // Hand out low block numbers first (they are the ones already allocated).
  for (int b = blocks - 1; b >= 0; --b) free_.push_back(b);
}

KvCache::~KvCache() = default;

Result<std::unique_ptr<KvCache>> KvCache::Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens) {
  if (block_tokens < 1 || block_tokens > 4096) {
    return InvalidArgument("KV cache block size must be in [1, 4096] tokens");
  }
  const uint64_t block_bytes = uint64_t{2} * config.num_layers * config.num_kv_heads *
                               config.head_dim * block_tokens * sizeof(float);
  if (block_bytes == 0) return InvalidArgument("KV cache: model has no layers or heads");
  const uint64_t blocks = std::max<uint64_t>(1, byte_budget / block_bytes);
  if (blocks > (1u << 30)) return InvalidArgument("KV cache budget too large");
  return std::unique_ptr<KvCache>(new KvCache(config, static_cast<int>(blocks), block_tokens));
}

std::unique_ptr<KvSequence> KvCache::NewSequence() {
  return std::unique_ptr<KvSequence>(new KvSequence(this));
}

Status KvCache::Reserve(KvSequence* seq, int n) {
  const int need = BlocksFor(seq->length_ + n) - static_cast<int>(seq->blocks_.size());
  if (need <= 0) return Status();
  if (need > FreeBlocks()) {
    return ResourceExhausted("KV cache full: need " + std::to_string(need) + " blocks of " +
                             std::to_string(block_tokens_) + " tokens, " +
                             std::to_string(FreeBlocks()) + " free of " +
                             std::to_string(TotalBlocks()));
  }
  for (int i = 0; i < need; ++i) {
    const int b = free_.back();
    free_.pop_back();
    if (!pool_[b]) pool_[b].reset(new float[block_floats_]);
    seq->blocks_.push_back(b);
  }
  return Status();
}

void KvCache::Release(KvSequence* seq, int keep_blocks) {
  while (static_cast<int>(seq->blocks_.size()) > keep_blocks) {
    free_.push_back(seq->blocks_.back());
    seq->blocks_.pop_back();
  }
}

float* KvCache::K(int block, int layer, int kvh) {
  return pool_[block].get() +
         static_cast<uint64_t>((layer * kv_heads_ + kvh) * 2) * block_tokens_ * head_dim_;
}

float* KvCache::V(int block, int layer, int kvh) {
  return K(block, layer, kvh) + static_cast<uint64_t>(block_tokens_) * head_dim_;
}

}  // namespace modelcar::llm

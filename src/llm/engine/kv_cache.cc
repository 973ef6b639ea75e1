#include "llm/engine/kv_cache.h"

#include <algorithm>
#include <cstdlib>

namespace modelcar::llm {

KvSequence::~KvSequence() { cache_->Release(this, 0); }

void KvSequence::Truncate(int length) {
  length = std::clamp(length, 0, length_);
  length_ = length;
  cache_->Release(this, cache_->BlocksFor(length));
}

namespace {
uint64_t HeadBytes(const ModelConfig& c, int block_tokens, DType dtype) {
  return uint64_t{1} * c.head_dim * block_tokens * DTypeSize(dtype);
}
}  // namespace

void KvCache::Free::operator()(void* p) const { std::free(p); }

KvCache::KvCache(const ModelConfig& c, int blocks, int block_tokens, DType dtype)
    : kv_heads_(c.num_kv_heads),
      block_tokens_(block_tokens),
      dtype_(dtype),
      head_bytes_(HeadBytes(c, block_tokens, dtype)),
      block_bytes_(head_bytes_ * 2 * c.num_layers * c.num_kv_heads),
      pool_(blocks) {
  free_.reserve(blocks);
  // Hand out low block numbers first (they are the ones already allocated).
  for (int b = blocks - 1; b >= 0; --b) free_.push_back(b);
}

KvCache::~KvCache() = default;

Result<std::unique_ptr<KvCache>> KvCache::Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens, DType dtype) {
  if (dtype == DType::kOther) return InvalidArgument("KV cache: element type must be F32/F16/BF16");
  if (block_tokens < 16 || block_tokens > 4096 || block_tokens % 16 != 0) {
    return InvalidArgument("KV cache block size must be a multiple of 16 in [16, 4096] tokens");
  }
  const uint64_t block_bytes =
      HeadBytes(config, block_tokens, dtype) * 2 * config.num_layers * config.num_kv_heads;
  if (block_bytes == 0) return InvalidArgument("KV cache: model has no layers or heads");
  const uint64_t blocks = std::max<uint64_t>(1, byte_budget / block_bytes);
  if (blocks > (1u << 30)) return InvalidArgument("KV cache budget too large");
  return std::unique_ptr<KvCache>(
      new KvCache(config, static_cast<int>(blocks), block_tokens, dtype));
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
    if (!pool_[b]) {
      void* p = std::aligned_alloc(64, (block_bytes_ + 63) / 64 * 64);
      if (!p) {
        free_.push_back(b);
        Release(seq, static_cast<int>(seq->blocks_.size()) - i);
        return ResourceExhausted("KV cache: out of memory");
      }
      pool_[b].reset(static_cast<std::byte*>(p));
    }
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

void* KvCache::K(int block, int layer, int kvh) { return pool_[block].get() + KOffset(layer, kvh); }

void* KvCache::V(int block, int layer, int kvh) { return pool_[block].get() + VOffset(layer, kvh); }

}  // namespace modelcar::llm

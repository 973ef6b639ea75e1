// The block pool and sequences; the prefix index is in prefix_cache.cc.
#include "llm/engine/kv_cache.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "base/resident.h"

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

KvCache::KvCache(const ModelConfig& c, int blocks, int block_tokens, DType dtype, bool prefix)
    : kv_heads_(c.num_kv_heads),
      block_tokens_(block_tokens),
      dtype_(dtype),
      prefix_caching_(prefix),
      head_bytes_(HeadBytes(c, block_tokens, dtype)),
      block_bytes_(head_bytes_ * 2 * c.num_layers * c.num_kv_heads),
      pool_(blocks),
      meta_(blocks) {
  free_.reserve(blocks);
  // Hand out low block numbers first (they are the ones already allocated).
  for (int b = blocks - 1; b >= 0; --b) free_.push_back(b);
  if (prefix) tokens_.resize(size_t(blocks) * block_tokens);
}

KvCache::~KvCache() = default;

Result<std::unique_ptr<KvCache>> KvCache::Create(const ModelConfig& config, uint64_t byte_budget,
                                                 int block_tokens, DType dtype,
                                                 bool prefix_caching) {
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
      new KvCache(config, static_cast<int>(blocks), block_tokens, dtype, prefix_caching));
}

std::unique_ptr<KvSequence> KvCache::NewSequence() {
  return std::unique_ptr<KvSequence>(new KvSequence(this));
}

int KvCache::TakeBlock() {
  int b;
  if (!free_.empty()) {
    b = free_.back();
    if (!pool_[b]) {
      const size_t bytes = (block_bytes_ + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, bytes);
      if (!p) return -1;
      Populate(p, bytes);  // one call instead of a page fault per page as the step fills it
      pool_[b].reset(static_cast<std::byte*>(p));
    }
    free_.pop_back();
  } else if (lru_head_ >= 0) {
    b = lru_head_;  // evicted: its prefix is forgotten
    LruErase(b);
    Unindex(b);
  } else {
    return -1;
  }
  Meta& m = meta_[b];
  ++m.gen;
  m.refs = 1;
  return b;
}

void KvCache::Ref(int block) {
  if (meta_[block].refs++ == 0) LruErase(block);
}

void KvCache::Unref(int block) {
  Meta& m = meta_[block];
  if (--m.refs > 0) return;
  if (m.indexed) {
    LruPush(block);
  } else {
    free_.push_back(block);
  }
}

bool KvCache::TailShared(const KvSequence& seq) const {
  if (seq.length_ % block_tokens_ == 0) return false;
  return meta_[seq.blocks_[seq.length_ / block_tokens_]].refs > 1;
}

int KvCache::BlocksNeeded(const KvSequence& seq, int n) const {
  if (n <= 0) return 0;
  return BlocksFor(seq.length_ + n) - static_cast<int>(seq.blocks_.size()) +
         (TailShared(seq) ? 1 : 0);
}

Status KvCache::MakeTailPrivate(KvSequence* seq) {
  if (seq->length_ % block_tokens_ == 0) return Status();
  int& slot = seq->blocks_[seq->length_ / block_tokens_];
  if (meta_[slot].refs == 1) {
    if (meta_[slot].indexed) Unindex(slot);  // only this sequence holds it: rewrite in place
    return Status();
  }
  const int copy = TakeBlock();
  if (copy < 0) return ResourceExhausted("KV cache: no block for a copy of a shared block");
  std::memcpy(BlockData(copy), BlockData(slot), block_bytes_);
  if (prefix_caching_) std::copy_n(Tokens(slot), block_tokens_, Tokens(copy));
  Unref(slot);
  slot = copy;
  return Status();
}

Status KvCache::Reserve(KvSequence* seq, int n) {
  const int need = BlocksNeeded(*seq, n);
  if (need <= 0) return Status();
  if (need > FreeBlocks()) {
    return ResourceExhausted(
        fmt::format("KV cache full: need {} blocks of {} tokens, {} free of {}", need,
                    block_tokens_, FreeBlocks(), TotalBlocks()));
  }
  RETURN_IF_ERROR(MakeTailPrivate(seq));
  const size_t had = seq->blocks_.size();
  while (static_cast<int>(seq->blocks_.size()) < BlocksFor(seq->length_ + n)) {
    const int b = TakeBlock();
    if (b < 0) {
      Release(seq, static_cast<int>(had));
      return ResourceExhausted("KV cache: out of memory");
    }
    seq->blocks_.push_back(b);
  }
  return Status();
}

void KvCache::Append(KvSequence* seq, std::span<const int32_t> tokens) {
  const int start = seq->length_;
  seq->length_ += static_cast<int>(tokens.size());
  if (!prefix_caching_) return;
  for (size_t j = 0; j < tokens.size(); ++j) {
    const int p = start + static_cast<int>(j);
    Tokens(seq->blocks_[p / block_tokens_])[p % block_tokens_] = tokens[j];
    if (p % block_tokens_ == block_tokens_ - 1) Index(seq, p / block_tokens_);
  }
}

void KvCache::Release(KvSequence* seq, int keep_blocks) {
  // The last block first: of a sequence's indexed blocks, the tail is evicted before the head.
  while (static_cast<int>(seq->blocks_.size()) > keep_blocks) {
    Unref(seq->blocks_.back());
    seq->blocks_.pop_back();
  }
}

void* KvCache::K(int block, int layer, int kvh) { return pool_[block].get() + KOffset(layer, kvh); }

void* KvCache::V(int block, int layer, int kvh) { return pool_[block].get() + VOffset(layer, kvh); }

}  // namespace modelcar::llm

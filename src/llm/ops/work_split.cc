#include "llm/ops/work_split.h"

namespace modelcar::llm::ops {

void WorkSplit::Reset(int stages, int threads) {
  const int need = stages * threads;
  if (capacity_ < need) {
    ranges_ = std::make_unique<std::atomic<uint64_t>[]>(static_cast<size_t>(need));
    capacity_ = need;
  }
  threads_ = threads;
  for (int i = 0; i < need; ++i) ranges_[i].store(kUntouched, std::memory_order_relaxed);
}

int WorkSplit::Take(std::atomic<uint64_t>& range, int n, int owner, bool front) const {
  uint64_t bounds = range.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t lo, hi;
    if (bounds == kUntouched) {
      lo = uint64_t(int64_t{n} * owner / threads_);
      hi = uint64_t(int64_t{n} * (owner + 1) / threads_);
    } else {
      lo = bounds & 0xffffffffu;
      hi = bounds >> 32;
    }
    if (lo >= hi) return -1;
    const int item = static_cast<int>(front ? lo : hi - 1);
    const uint64_t next = front ? (lo + 1) | hi << 32 : lo | (hi - 1) << 32;
    // Relaxed: the items' data is ordered by the stage barriers, not by the claims.
    if (range.compare_exchange_weak(bounds, next, std::memory_order_relaxed)) return item;
  }
}

int WorkSplit::Claim(int stage, int n, int tid) {
  std::atomic<uint64_t>* ranges = &ranges_[size_t(stage) * threads_];
  if (const int item = Take(ranges[tid], n, tid, true); item >= 0) return item;
  for (int k = 1; k < threads_; ++k) {
    const int owner = (tid + k) % threads_;
    if (const int item = Take(ranges[owner], n, owner, false); item >= 0) return item;
  }
  return -1;
}

}  // namespace modelcar::llm::ops

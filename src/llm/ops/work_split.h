// How the threads of a forward step share the items of its stages (forward.cc): the items of a
// stage are split into one contiguous range per thread; a thread claims the items of its own
// range front to back, then the items left in the others' ranges from their backs.
//
// Why not one shared counter: the items of a matrix stage are runs of adjacent weight rows, so a
// thread that takes its range's items in order reads one stream of weights per matrix. Items
// handed out alternately from one counter break each thread's stream at every item, and every
// break costs the hardware prefetcher a restart (with int4 weights, tasks of 21-29 KB, a third of
// the stage's time). Stealing keeps the balance of a shared counter when a thread falls behind.
//
// Thread safety: Reset while no thread claims (before ThreadPool::Run); Claim from any thread.
#ifndef MODELCAR_LLM_OPS_WORK_SPLIT_H_
#define MODELCAR_LLM_OPS_WORK_SPLIT_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace modelcar::llm::ops {

class WorkSplit {
 public:
  // Every one of `stages` stages untouched, for `threads` threads.
  void Reset(int stages, int threads);

  // The next item of stage `stage` (n items, the same n from every thread) for thread `tid`, or
  // -1 when every item has been claimed. Each item in [0, n) is returned exactly once per Reset.
  // Thread tid's own range is [tid * n / threads, (tid + 1) * n / threads).
  int Claim(int stage, int n, int tid);

 private:
  // A range's bounds packed as front | back << 32; kUntouched: the whole home range.
  static constexpr uint64_t kUntouched = ~uint64_t{0};
  // Claims an item of thread `owner`'s range: from the front (owner == claimer) or the back.
  int Take(std::atomic<uint64_t>& range, int n, int owner, bool front) const;

  std::unique_ptr<std::atomic<uint64_t>[]> ranges_;  // [stage][thread]
  int capacity_ = 0;
  int threads_ = 1;
};

}  // namespace modelcar::llm::ops

#endif  // MODELCAR_LLM_OPS_WORK_SPLIT_H_

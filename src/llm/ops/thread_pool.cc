#include "llm/ops/thread_pool.h"

#include <immintrin.h>

namespace modelcar::llm {
namespace {
constexpr int kSpin = 4000;
constexpr uint64_t kActiveMask = 0xffff;
constexpr uint64_t kClosed = uint64_t{1} << 16;
constexpr int kJobShift = 17;
constexpr uint64_t kJobMask = (uint64_t{1} << (64 - kJobShift)) - 1;
inline void Pause() { _mm_pause(); }
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads < 1) threads = 1;
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(2, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Drain() {
  for (;;) {
    int i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_) return;
    (*fn_)(i);
  }
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int s = 0; g == seen && s < kSpin; ++s) {
      Pause();
      g = generation_.load(std::memory_order_acquire);
    }
    while (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    if (g & 1) {  // a Run: every worker takes part
      (*fn_)(index);
      run_left_.fetch_sub(1, std::memory_order_acq_rel);
      continue;
    }
    // Join ParallelFor job g unless the caller has closed it (or moved on to a later job).
    uint64_t st = state_.load(std::memory_order_acquire);
    while ((st >> kJobShift) == ((g >> 1) & kJobMask) && !(st & kClosed)) {
      if (state_.compare_exchange_weak(st, st + 1, std::memory_order_acq_rel)) {
        Drain();
        state_.fetch_sub(1, std::memory_order_acq_rel);
        break;
      }
    }
  }
}

void ThreadPool::Publish(bool run) {
  // Generations: job number * 2 + (1 for a Run), so a worker reads the job's kind with it.
  const uint64_t g = ((generation_.load(std::memory_order_relaxed) >> 1) + 1) * 2 + (run ? 1 : 0);
  state_.store(((g >> 1) & kJobMask) << kJobShift, std::memory_order_release);
  generation_.store(g, std::memory_order_release);
  generation_.notify_all();
}

void ThreadPool::ParallelFor(int n, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (workers_.empty() || n == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  fn_ = &fn;
  n_ = n;
  next_.store(0, std::memory_order_relaxed);
  Publish(false);
  Drain();
  state_.fetch_or(kClosed, std::memory_order_acq_rel);
  for (int s = 0; (state_.load(std::memory_order_acquire) & kActiveMask) != 0; ++s) {
    if (s < kSpin) {
      Pause();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::Run(const std::function<void(int)>& fn) {
  if (workers_.empty()) {
    fn(0);
    return;
  }
  fn_ = &fn;
  run_left_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  Publish(true);
  fn(0);
  for (int s = 0; run_left_.load(std::memory_order_acquire) != 0; ++s) {
    if (s < kSpin) {
      Pause();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::Barrier() {
  if (workers_.empty()) return;
  const uint32_t gen = barrier_gen_.load(std::memory_order_acquire);
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) + 1 == size()) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_gen_.store(gen + 1, std::memory_order_seq_cst);
    if (barrier_sleepers_.load(std::memory_order_seq_cst) > 0) barrier_gen_.notify_all();
    return;
  }
  for (int s = 0; s < kSpin; ++s) {
    if (barrier_gen_.load(std::memory_order_acquire) != gen) return;
    Pause();
  }
  barrier_sleepers_.fetch_add(1, std::memory_order_seq_cst);
  while (barrier_gen_.load(std::memory_order_seq_cst) == gen) barrier_gen_.wait(gen);
  barrier_sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace modelcar::llm

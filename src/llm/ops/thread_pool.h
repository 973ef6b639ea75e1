// A tiny fork-join pool for the engine's kernels: ParallelFor(n, fn) runs fn(0..n-1) on the
// calling thread plus `threads - 1` workers and returns when all calls have finished.
//
// Workers spin briefly (~20 us) after a job and then sleep on a futex (std::atomic::wait), so
// back-to-back kernels in one forward pass do not pay a wake-up each, and an idle engine costs
// no CPU. Work is claimed dynamically, and a worker that has not joined a job by the time the
// caller has run out of work is not waited for (on a loaded machine a descheduled worker then
// costs nothing): the caller waits only for workers inside the job.
//
// Thread safety: ParallelFor is called by one thread at a time (not reentrant; fn must not
// call ParallelFor). fn runs concurrently on several threads.
#ifndef MODELCAR_LLM_OPS_THREAD_POOL_H_
#define MODELCAR_LLM_OPS_THREAD_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace modelcar::llm {

class ThreadPool {
 public:
  // threads <= 0: hardware concurrency. threads == 1: everything runs on the caller.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  void ParallelFor(int n, const std::function<void(int)>& fn);

 private:
  void WorkerLoop();
  void Drain();

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_{0};
  // Job state: bits 0-15 workers inside the job, bit 16 closed (no more joins), 17+ job number.
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* fn_ = nullptr;
  int n_ = 0;
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_OPS_THREAD_POOL_H_

// A small pool of threads for the engine's kernels, with two ways to use it:
//
//   ParallelFor(n, fn): fn(0..n-1) claimed dynamically by the caller and the workers; returns
//   when all calls have finished. A worker that has not joined by the time the caller has run
//   out of work is not waited for (on a loaded machine a descheduled worker then costs nothing).
//
//   Run(fn) + Barrier(): fn(t) runs once on every thread (t = 0 on the caller, 1..size()-1 on
//   the workers) and Run returns when all have returned. Inside fn the threads meet at
//   Barrier(): a whole forward step is one Run, with a barrier between dependent stages instead
//   of a fork and a join per kernel.
//
// Workers and Barrier spin briefly (~0.1 ms) and then sleep on a futex (std::atomic::wait), so
// back-to-back stages pay no wake-up and an idle engine costs no CPU.
//
// Thread safety: ParallelFor and Run are called by one thread at a time (not reentrant; fn must
// not call them). Barrier is called only inside Run, by every thread the same number of times.
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
  void Run(const std::function<void(int)>& fn);
  void Barrier();

 private:
  void WorkerLoop(int index);
  void Drain();
  void Publish(bool run);

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> next_{0};
  // ParallelFor job state: bits 0-15 workers inside the job, bit 16 closed (no more joins),
  // 17+ job number.
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* fn_ = nullptr;
  int n_ = 0;
  std::atomic<int> run_left_{0};  // workers still inside a Run
  alignas(64) std::atomic<int> barrier_count_{0};
  alignas(64) std::atomic<uint32_t> barrier_gen_{0};
  std::atomic<int> barrier_sleepers_{0};
};

}  // namespace modelcar::llm

#endif  // MODELCAR_LLM_OPS_THREAD_POOL_H_

// A fixed set of threads running submitted jobs, with a bounded wait queue: a job is refused
// (TrySubmit false) when `max_queued` jobs already wait for a worker, so overload is answered at
// once instead of piling up. Used by http::Server for request handlers.
//
// Thread safety: all methods are thread-safe. Jobs must not call Shutdown().
#ifndef MODELCAR_HTTP_WORKER_POOL_H_
#define MODELCAR_HTTP_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace modelcar::http::internal {

class WorkerPool {
 public:
  // Starts `threads` workers (at least 1).
  WorkerPool(size_t threads, size_t max_queued);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` unless `max_queued` jobs are already waiting for a worker (jobs that a worker
  // not running one is about to take do not count) or Shutdown() began. Returns whether it was
  // queued.
  bool TrySubmit(std::function<void()> job);

  // Stops accepting jobs, runs every queued job, joins the workers. Idempotent.
  void Shutdown();

  // Jobs waiting for a worker, and workers running a job (for tests and metrics).
  size_t queued() const;
  size_t busy() const;

 private:
  void Run();

  const size_t max_queued_;
  const size_t threads_count_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t busy_ = 0;                          // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::mutex join_mu_;                       // held by Shutdown()
  std::vector<std::thread> threads_;         // guarded by join_mu_ after construction
};

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_WORKER_POOL_H_

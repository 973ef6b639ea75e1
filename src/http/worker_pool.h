// Up to a fixed number of threads running submitted jobs, with a bounded wait queue: a job is
// refused (TrySubmit false) when `max_queued` jobs already wait for a worker, so overload is
// answered at once instead of piling up. Workers start when a job finds none idle (a server sized
// for hundreds of streams does not spend its start creating threads). Used by http::Server for
// request handlers.
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
  // A pool of at most `threads` workers (at least 1); none run yet.
  WorkerPool(size_t threads, size_t max_queued);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` unless `max_queued` jobs are already waiting for a worker (jobs that a worker
  // not running one, started or not, is about to take do not count) or Shutdown() began; starts
  // a worker when no idle one will take it and fewer than `threads` run. Returns whether it was
  // queued.
  bool TrySubmit(std::function<void()> job);

  // Stops accepting jobs, runs every queued job, joins the workers. Idempotent.
  void Shutdown();

  // Jobs waiting for a worker, workers running a job, workers started (for tests and metrics).
  size_t queued() const;
  size_t busy() const;
  size_t started() const;

 private:
  void Run();

  const size_t max_queued_;
  const size_t threads_count_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t busy_ = 0;                          // guarded by mu_
  size_t idle_ = 0;                          // workers waiting for a job; guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::mutex join_mu_;                       // held by Shutdown()
  // Added to under mu_ until stopping_; read by Shutdown() (join_mu_) after it set stopping_.
  std::vector<std::thread> threads_;
};

}  // namespace modelcar::http::internal

#endif  // MODELCAR_HTTP_WORKER_POOL_H_

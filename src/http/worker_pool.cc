// WorkerPool: a mutex-guarded deque and a condition variable; workers start on demand.
#include "http/worker_pool.h"

#include <system_error>

namespace modelcar::http::internal {

WorkerPool::WorkerPool(size_t threads, size_t max_queued)
    : max_queued_(max_queued), threads_count_(threads == 0 ? 1 : threads) {}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    // Workers not running a job take the first jobs of the queue at once: those do not wait.
    if (queue_.size() >= (threads_count_ - busy_) + max_queued_) return false;
    queue_.push_back(std::move(job));
    if (queue_.size() > idle_ && threads_.size() < threads_count_) {
      try {
        threads_.emplace_back([this] { Run(); });
      } catch (const std::system_error&) {  // out of threads: the running workers will do
        if (threads_.empty()) {
          queue_.pop_back();
          return false;
        }
      }
    }
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping and drained
    std::function<void()> job = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    job();
    job = nullptr;  // destroy captures outside the lock
    lock.lock();
    --busy_;
  }
}

void WorkerPool::Shutdown() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t WorkerPool::started() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

size_t WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_;
}

}  // namespace modelcar::http::internal

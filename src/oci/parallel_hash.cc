#include "oci/parallel_hash.h"

namespace modelcar::oci {

ParallelSha256::~ParallelSha256() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ParallelSha256::Begin(std::string_view data) {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = data;
    pending_ = true;
  }
  cv_.notify_all();
}

void ParallelSha256::End() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !pending_; });
}

void ParallelSha256::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || pending_; });
    if (stop_) return;
    std::string_view data = job_;
    lock.unlock();
    hash_.Update(data);
    lock.lock();
    pending_ = false;
    cv_.notify_all();
  }
}

}  // namespace modelcar::oci

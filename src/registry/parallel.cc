#include "registry/parallel.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace modelcar::registry {

Status ParallelFor(size_t n, int jobs, const std::function<Status(size_t)>& task) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto run = [&] {
    for (size_t i; !failed.load() && (i = next.fetch_add(1)) < n;) {
      Status s = task(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first.ok() || (s.code() == Code::kCancelled && first.code() != Code::kCancelled)) {
          first = s;
        }
        failed.store(true);
      }
    }
  };
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(jobs, 1)));
  if (threads <= 1) {
    run();
    return first;
  }
  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) pool.emplace_back(run);
  for (auto& t : pool) t.join();
  return first;
}

}  // namespace modelcar::registry

#include "llm/ops/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace modelcar::llm {
namespace {

TEST(ThreadPoolTest, ParallelForRunsEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {  // 4 oversubscribes 2 cores: late joiners are common
    ThreadPool pool(threads);
    for (int round = 0; round < 2000; ++round) {
      const int n = 1 + round % 37;
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](int i) { hits[i].fetch_add(1); });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << threads << " " << round;
    }
  }
}

// Run gives each thread its index once; Barrier() separates phases: every write of phase k is
// visible to every thread in phase k + 1. Mixed with ParallelFor jobs in between.
TEST(ThreadPoolTest, RunWithBarriers) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    const int n = pool.size();
    for (int round = 0; round < 300; ++round) {
      std::vector<int> slot(n, -1);
      std::vector<std::atomic<int>> ran(n);
      std::atomic<int> errors{0};
      pool.Run([&](int t) {
        ran[t].fetch_add(1);
        for (int phase = 0; phase < 20; ++phase) {
          slot[t] = phase * 100 + t;
          pool.Barrier();
          for (int u = 0; u < n; ++u) {
            if (slot[u] != phase * 100 + u) errors.fetch_add(1);
          }
          pool.Barrier();
        }
      });
      for (auto& r : ran) ASSERT_EQ(r.load(), 1);
      ASSERT_EQ(errors.load(), 0) << threads << " " << round;
      std::atomic<int> sum{0};
      pool.ParallelFor(5, [&](int i) { sum.fetch_add(i); });
      ASSERT_EQ(sum.load(), 10);
    }
  }
}

}  // namespace
}  // namespace modelcar::llm

#include "llm/ops/work_split.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace modelcar::llm::ops {
namespace {

std::vector<int> ClaimAll(WorkSplit& split, int stage, int n, int tid) {
  std::vector<int> got;
  for (int i; (i = split.Claim(stage, n, tid)) >= 0;) got.push_back(i);
  return got;
}

// Alone, a thread takes its own range front to back, then the others' from their backs: one
// ascending stream, then the rest.
TEST(WorkSplitTest, OwnRangeInOrderThenTheOthersFromTheBack) {
  WorkSplit split;
  split.Reset(2, 2);
  EXPECT_EQ(ClaimAll(split, 0, 10, 0), (std::vector<int>{0, 1, 2, 3, 4, 9, 8, 7, 6, 5}));
  EXPECT_EQ(ClaimAll(split, 0, 10, 1), std::vector<int>{});  // all gone
  // Thread 1 of 3 over 7 items owns [2, 4); then thread 2's [4, 7), then thread 0's [0, 2).
  split.Reset(1, 3);
  EXPECT_EQ(ClaimAll(split, 0, 7, 1), (std::vector<int>{2, 3, 6, 5, 4, 1, 0}));
}

// Two threads that both keep claiming: each still takes its own range in order, and together they
// take every item once.
TEST(WorkSplitTest, InterleavedClaimsKeepEachRangeInOrder) {
  WorkSplit split;
  split.Reset(1, 2);
  std::vector<int> a, b;
  for (int i = 0; i < 3; ++i) {
    a.push_back(split.Claim(0, 8, 0));
    b.push_back(split.Claim(0, 8, 1));
  }
  EXPECT_EQ(a, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(b, (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(split.Claim(0, 8, 0), 3);
  EXPECT_EQ(split.Claim(0, 8, 0), 7);  // stolen from thread 1's back
  EXPECT_EQ(split.Claim(0, 8, 1), -1);
}

// Stages are independent, Reset makes them whole again, and fewer items than threads leave some
// ranges empty.
TEST(WorkSplitTest, StagesAndReset) {
  WorkSplit split;
  split.Reset(3, 4);
  EXPECT_EQ(ClaimAll(split, 1, 1, 0), std::vector<int>{0});  // owned by thread 3
  EXPECT_EQ(ClaimAll(split, 2, 0, 2), std::vector<int>{});
  EXPECT_EQ(split.Claim(0, 5, 3), 3);
  split.Reset(3, 4);
  EXPECT_EQ(ClaimAll(split, 1, 1, 2), std::vector<int>{0});
  EXPECT_EQ(split.Claim(0, 5, 3), 3);
}

// Threads claiming concurrently (more threads than cores: one often claims while another is
// descheduled) take every item of every stage exactly once.
TEST(WorkSplitTest, ConcurrentClaimsTakeEveryItemOnce) {
  constexpr int kThreads = 4, kStages = 8;
  WorkSplit split;
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + round % 53;
    split.Reset(kStages, kThreads);
    std::vector<std::atomic<int>> hits(size_t(kStages) * n);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int s = 0; s < kStages; ++s) {
          for (int i; (i = split.Claim(s, n, t)) >= 0;) hits[size_t(s) * n + i].fetch_add(1);
        }
      });
    }
    for (auto& th : threads) th.join();
    for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << round << " " << i;
  }
}

}  // namespace
}  // namespace modelcar::llm::ops

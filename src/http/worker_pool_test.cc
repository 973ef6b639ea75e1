#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace modelcar::http::internal {
namespace {

TEST(WorkerPoolTest, RefusesBeyondTheQueueAndRunsEverythingAccepted) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> started{0}, ran{0};
  WorkerPool pool(2, 3);
  auto job = [&] {
    ++started;
    released.wait();
    ++ran;
  };
  ASSERT_TRUE(pool.TrySubmit(job));
  ASSERT_TRUE(pool.TrySubmit(job));
  while (started < 2) std::this_thread::yield();  // both workers busy
  EXPECT_TRUE(pool.TrySubmit(job));
  EXPECT_TRUE(pool.TrySubmit(job));
  EXPECT_TRUE(pool.TrySubmit(job));
  EXPECT_FALSE(pool.TrySubmit(job));  // 3 waiting already
  EXPECT_EQ(pool.queued(), 3u);
  EXPECT_EQ(pool.busy(), 2u);
  release.set_value();
  pool.Shutdown();  // runs the queued jobs first
  EXPECT_EQ(ran, 5);
  EXPECT_FALSE(pool.TrySubmit(job));
  pool.Shutdown();  // idempotent
}

TEST(WorkerPoolTest, IdleWorkersDoNotCountAsQueued) {
  WorkerPool pool(4, 0);  // no waiting at all, but four idle workers take jobs
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> started{0};
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(pool.TrySubmit([&] {
      ++started;
      released.wait();
    }));
    while (started < i + 1) std::this_thread::yield();
  }
  EXPECT_FALSE(pool.TrySubmit([] {}));
  release.set_value();
  pool.Shutdown();  // the workers are done with `released` before it goes
}

TEST(WorkerPoolTest, StartsWorkersOnlyWhenJobsNeedThem) {
  WorkerPool pool(300, 0);
  EXPECT_EQ(pool.started(), 0u);
  std::atomic<int> ran{0};
  for (int i = 0; i < 20; ++i) {  // one after another: one worker does them all
    ASSERT_TRUE(pool.TrySubmit([&] { ++ran; }));
    while (ran < i + 1) std::this_thread::yield();
    while (pool.busy() > 0) std::this_thread::yield();
  }
  EXPECT_EQ(pool.started(), 1u);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> waiting{0};
  for (int i = 0; i < 5; ++i) {  // five at once: five workers
    ASSERT_TRUE(pool.TrySubmit([&] {
      ++waiting;
      released.wait();
    }));
  }
  while (waiting < 5) std::this_thread::yield();
  EXPECT_EQ(pool.started(), 5u);
  release.set_value();
  pool.Shutdown();
  EXPECT_EQ(ran, 20);
}

}  // namespace
}  // namespace modelcar::http::internal

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

}  // namespace
}  // namespace modelcar::http::internal

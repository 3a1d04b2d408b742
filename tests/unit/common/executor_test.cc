#include "common/executor.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace inplaced {
namespace {

TEST(ThreadPoolExecutorTest, RunsEverySubmittedJob) {
  ThreadPoolExecutor executor(4);
  std::atomic<int> runs{0};
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(executor.Submit([&] { ++runs; }));
  executor.WaitIdle();
  EXPECT_EQ(runs.load(), 100);
  EXPECT_EQ(executor.Pending(), 0u);
}

TEST(ThreadPoolExecutorTest, OneWorkerRunsJobsInSubmissionOrder) {
  ThreadPoolExecutor executor(1);
  std::vector<int> order;  // written by the one worker only
  for (int i = 0; i < 10; ++i) executor.Submit([&order, i] { order.push_back(i); });
  executor.WaitIdle();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(ThreadPoolExecutorTest, SubmitDoesNotBlockWhileEveryWorkerIsBusy) {
  ThreadPoolExecutor executor(1);
  absl::Notification release;
  ASSERT_TRUE(executor.Submit([&] { release.WaitForNotification(); }));
  // The one worker is (or is about to be) blocked: these return at once and stay queued.
  EXPECT_TRUE(executor.Submit([] {}));
  EXPECT_TRUE(executor.Submit([] {}));
  EXPECT_EQ(executor.Pending(), 3u);
  release.Notify();
  executor.WaitIdle();
  EXPECT_EQ(executor.Pending(), 0u);
}

TEST(ThreadPoolExecutorTest, NeverRunsMoreJobsThanWorkersAtOnce) {
  ThreadPoolExecutor executor(2);
  absl::Mutex mu;
  int running = 0;
  int most = 0;
  absl::Notification release;
  for (int i = 0; i < 6; ++i) {
    executor.Submit([&] {
      {
        absl::MutexLock lock(&mu);
        most = std::max(most, ++running);
      }
      release.WaitForNotification();
      absl::MutexLock lock(&mu);
      --running;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 2; }, &running));
  }
  // Both workers are blocked in a job: the other four wait in the queue.
  EXPECT_EQ(executor.Pending(), 6u);
  release.Notify();
  executor.WaitIdle();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(most, 2);
}

TEST(ThreadPoolExecutorTest, StartsAWorkerOnlyWhenAJobFindsNoneIdleAndKeepsIt) {
  ThreadPoolExecutor executor(3);
  EXPECT_EQ(executor.Workers(), 0u);  // idle from the start: no thread

  executor.Submit([] {});
  executor.WaitIdle();
  EXPECT_EQ(executor.Workers(), 1u);
  // The worker waits idle: the next jobs, one at a time, reuse it.
  for (int i = 0; i < 5; ++i) {
    executor.Submit([] {});
    executor.WaitIdle();
  }
  EXPECT_EQ(executor.Workers(), 1u);

  // Jobs that block at once need a worker each, up to the bound.
  absl::Notification release;
  for (int i = 0; i < 5; ++i) executor.Submit([&] { release.WaitForNotification(); });
  EXPECT_EQ(executor.Workers(), 3u);
  release.Notify();
  executor.WaitIdle();
  EXPECT_EQ(executor.Workers(), 3u);
}

TEST(ThreadPoolExecutorTest, JobMaySubmitAFollowUpThatWaitIdleAwaits) {
  ThreadPoolExecutor executor(1);
  std::atomic<bool> follow_up_ran{false};
  executor.Submit([&] { executor.Submit([&] { follow_up_ran = true; }); });
  executor.WaitIdle();
  EXPECT_TRUE(follow_up_ran.load());
}

TEST(ThreadPoolExecutorTest, SubmitAfterShutdownIsDroppedAndNeverRuns) {
  ThreadPoolExecutor executor(2);
  executor.Shutdown();
  bool ran = false;
  EXPECT_FALSE(executor.Submit([&] { ran = true; }));
  EXPECT_EQ(executor.Pending(), 0u);
  executor.WaitIdle();
  EXPECT_FALSE(ran);
}

TEST(ThreadPoolExecutorTest, ShutdownRunsQueuedJobsToTheirEndBeforeReturning) {
  ThreadPoolExecutor executor(1);
  absl::Notification release;
  std::atomic<int> runs{0};
  executor.Submit([&] { release.WaitForNotification(); });
  for (int i = 0; i < 5; ++i) executor.Submit([&] { ++runs; });
  std::thread stopper([&] { executor.Shutdown(); });
  // Once a submission is refused, Shutdown has begun; the five jobs are still queued behind the
  // blocked one.
  while (executor.Submit([] {})) {
  }
  EXPECT_EQ(runs.load(), 0);
  release.Notify();
  stopper.join();
  EXPECT_EQ(runs.load(), 5);
  EXPECT_EQ(executor.Pending(), 0u);
}

TEST(ThreadPoolExecutorTest, ConcurrentShutdownsAllReturnAfterTheJobsEnded) {
  ThreadPoolExecutor executor(2);
  std::atomic<int> runs{0};
  for (int i = 0; i < 20; ++i) executor.Submit([&] { ++runs; });
  std::thread first([&] { executor.Shutdown(); });
  std::thread second([&] { executor.Shutdown(); });
  first.join();
  second.join();
  executor.Shutdown();
  EXPECT_EQ(runs.load(), 20);
}

TEST(ThreadPoolExecutorTest, ZeroWorkersIsTakenAsOne) {
  ThreadPoolExecutor executor(0);
  std::atomic<bool> ran{false};
  executor.Submit([&] { ran = true; });
  executor.WaitIdle();
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace inplaced

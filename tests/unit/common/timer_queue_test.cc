#include "common/timer_queue.h"

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace inplaced {
namespace {

// What the callbacks ran, in order.
class Ran {
 public:
  std::function<void()> Record(std::string name) {
    return [this, name] {
      absl::MutexLock lock(&mu_);
      names_.push_back(name);
    };
  }
  void WaitFor(size_t count) {
    absl::MutexLock lock(&mu_);
    const auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return names_.size() >= count; };
    mu_.Await(absl::Condition(&enough));
  }
  std::vector<std::string> names() {
    absl::MutexLock lock(&mu_);
    return names_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
};

TEST(TimerQueueTest, RunsCallbacksInTimeOrderAndEqualTimesInTheOrderScheduled) {
  Ran ran;
  TimerQueue timers;
  const absl::Time later = absl::Now() + absl::Milliseconds(60);
  timers.Schedule(later, ran.Record("b"));
  timers.Schedule(absl::Now() + absl::Milliseconds(20), ran.Record("a"));
  timers.Schedule(later, ran.Record("c"));
  ran.WaitFor(3);
  EXPECT_EQ(ran.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(timers.Pending(), 0u);
}

TEST(TimerQueueTest, AnEarlierTimerScheduledWhileTheThreadSleepsForALaterOneRunsFirst) {
  Ran ran;
  TimerQueue timers;
  timers.Schedule(absl::Now() + absl::Hours(1), ran.Record("in an hour"));
  // The thread now sleeps until the hour is over; a past time must wake it.
  timers.Schedule(absl::Now() - absl::Seconds(1), ran.Record("past"));
  ran.WaitFor(1);
  EXPECT_EQ(ran.names(), (std::vector<std::string>{"past"}));
  EXPECT_EQ(timers.Pending(), 1u);
}

TEST(TimerQueueTest, CancelDropsACallbackThatHasNotRunAndIgnoresOneThatRan) {
  Ran ran;
  TimerQueue timers;
  auto captured = std::make_shared<int>(0);
  const TimerQueue::Handle pending =
      timers.Schedule(absl::Now() + absl::Hours(1), [captured] { ++*captured; });
  EXPECT_EQ(timers.Pending(), 1u);
  EXPECT_EQ(captured.use_count(), 2);
  timers.Cancel(pending);
  EXPECT_EQ(timers.Pending(), 0u);
  EXPECT_EQ(captured.use_count(), 1) << "the callback is gone, so it can never run";
  const TimerQueue::Handle ran_first = timers.Schedule(absl::Now(), ran.Record("ran"));
  ran.WaitFor(1);
  timers.Cancel(ran_first);  // already ran: no effect
  timers.Schedule(absl::Now(), ran.Record("after"));
  ran.WaitFor(2);
  EXPECT_EQ(ran.names(), (std::vector<std::string>{"ran", "after"}));
}

TEST(TimerQueueTest, ACallbackMayScheduleAnother) {
  Ran ran;
  TimerQueue timers;
  timers.Schedule(absl::Now(), [&] {
    ran.Record("first")();
    timers.Schedule(absl::Now(), ran.Record("second"));
  });
  ran.WaitFor(2);
  EXPECT_EQ(ran.names(), (std::vector<std::string>{"first", "second"}));
}

TEST(TimerQueueTest, ShutdownDropsWhatHasNotRunAndLaterSchedulesAreDropped) {
  Ran ran;
  TimerQueue timers;
  timers.Schedule(absl::Now() + absl::Hours(1), ran.Record("dropped"));
  EXPECT_EQ(timers.Pending(), 1u);
  timers.Shutdown();  // does not wait for the hour
  EXPECT_EQ(timers.Pending(), 0u);
  timers.Schedule(absl::Now(), ran.Record("after shutdown"));
  EXPECT_EQ(timers.Pending(), 0u);
  timers.Shutdown();  // idempotent
  EXPECT_TRUE(ran.names().empty());
}

TEST(TimerQueueTest, ShutdownLetsARunningCallbackFinish) {
  TimerQueue timers;
  absl::Notification started, release;
  bool finished = false;
  timers.Schedule(absl::Now(), [&] {
    started.Notify();
    release.WaitForNotification();
    finished = true;
  });
  started.WaitForNotification();
  std::thread stopper([&] { timers.Shutdown(); });
  release.Notify();
  stopper.join();
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace inplaced

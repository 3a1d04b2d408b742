#include "common/tick_loop.h"

#include <algorithm>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace inplaced {
namespace {

// Records the reasons of every tick; each tick asks for the next entry of `waits` (the last one
// repeats) and may be held at a gate.
class Recorder {
 public:
  explicit Recorder(std::vector<absl::Duration> waits) : waits_(std::move(waits)) {}

  absl::Duration Tick(uint32_t reasons) {
    absl::MutexLock lock(&mu_);
    reasons_.push_back(reasons);
    mu_.Await(absl::Condition(
        +[](bool* held) { return !*held; }, &held_));
    const size_t index = std::min(reasons_.size(), waits_.size()) - 1;
    return waits_[index];
  }

  // Ticks from now on stay in their tick until Release().
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    held_ = false;
  }
  // Blocks until `count` ticks have begun.
  void WaitForStarted(size_t count) {
    absl::MutexLock lock(&mu_);
    auto started = [this, count]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return reasons_.size() >= count; };
    mu_.Await(absl::Condition(&started));
  }
  std::vector<uint32_t> reasons() {
    absl::MutexLock lock(&mu_);
    return reasons_;
  }

 private:
  const std::vector<absl::Duration> waits_;
  absl::Mutex mu_;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<uint32_t> reasons_ ABSL_GUARDED_BY(mu_);
};

class TickLoopTest : public ::testing::Test {
 protected:
  fakes::FakeClock clock_;
};

TEST_F(TickLoopTest, StartTicksAtOnce) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Start();
  loop.WaitForTicks(1);
  EXPECT_EQ(recorder.reasons(), std::vector<uint32_t>{0});
}

TEST_F(TickLoopTest, NothingTicksBeforeStart) {
  Recorder recorder({absl::InfiniteDuration()});
  {
    TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
    loop.Wake(1);
  }
  EXPECT_TRUE(recorder.reasons().empty());
}

TEST_F(TickLoopTest, WakesBeforeStartGoToTheFirstTick) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Wake(2);
  loop.Start();
  loop.WaitForTicks(1);
  EXPECT_EQ(recorder.reasons(), std::vector<uint32_t>{2});
}

TEST_F(TickLoopTest, WakeTicksAgainWithTheReasonsGatheredDuringTheTick) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  recorder.Hold();
  loop.Start();
  recorder.WaitForStarted(1);
  loop.Wake(1);
  loop.Wake(4);
  loop.Wake(1);
  recorder.Release();
  loop.WaitForTicks(2);
  EXPECT_EQ(recorder.reasons(), (std::vector<uint32_t>{0, 5}));
}

TEST_F(TickLoopTest, TicksAgainWithNoReasonOnceTheAskedWaitRanOut) {
  // The first tick asks for no wait, the second for an endless one.
  Recorder recorder({absl::ZeroDuration(), absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Start();
  loop.WaitForTicks(2);
  EXPECT_EQ(recorder.reasons(), (std::vector<uint32_t>{0, 0}));
}

TEST_F(TickLoopTest, ShutdownDuringAnEndlessWaitReturnsWithoutAnotherTick) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Start();
  loop.WaitForTicks(1);
  loop.Shutdown();
  EXPECT_EQ(recorder.reasons().size(), 1u);
  EXPECT_EQ(loop.ticks(), 1u);
}

TEST_F(TickLoopTest, ShutdownLetsTheRunningTickFinish) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  recorder.Hold();
  loop.Start();
  recorder.WaitForStarted(1);
  std::thread stopper([&] { loop.Shutdown(); });
  recorder.Release();
  stopper.join();
  // The held tick returned (it was counted) and no other began.
  EXPECT_EQ(loop.ticks(), 1u);
  EXPECT_EQ(recorder.reasons().size(), 1u);
}

TEST_F(TickLoopTest, StartAndShutdownAreIdempotentAndStartAfterShutdownDoesNothing) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Start();
  loop.Start();
  loop.WaitForTicks(1);
  loop.Shutdown();
  loop.Shutdown();
  loop.Start();
  loop.Wake(1);
  EXPECT_EQ(recorder.reasons().size(), 1u);
}

TEST_F(TickLoopTest, ShutdownBeforeStartNeverTicks) {
  Recorder recorder({absl::InfiniteDuration()});
  TickLoop loop(clock_, [&](uint32_t reasons) { return recorder.Tick(reasons); });
  loop.Shutdown();
  loop.Start();
  EXPECT_TRUE(recorder.reasons().empty());
  EXPECT_EQ(loop.ticks(), 0u);
}

TEST_F(TickLoopTest, LastTickIsTheClockTimeWhenTheTickReturned) {
  TickLoop loop(clock_, [&](uint32_t) {
    clock_.Advance(absl::Seconds(3));  // the tick took three (fake) seconds
    return absl::InfiniteDuration();
  });
  EXPECT_EQ(loop.last_tick(), absl::InfinitePast());
  const absl::Time started = clock_.Now();
  loop.Start();
  loop.WaitForTicks(1);
  EXPECT_EQ(loop.last_tick(), started + absl::Seconds(3));
}

}  // namespace
}  // namespace inplaced

#include "tests/fakes/fake_clock.h"

#include <thread>

#include "gtest/gtest.h"

namespace inplaced::fakes {
namespace {

TEST(FakeClockTest, NowMovesOnlyWhenAdvanced) {
  FakeClock clock;
  const absl::Time start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(3));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
  clock.SetTime(start);  // Backwards: ignored.
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
  clock.SetTime(start + absl::Seconds(10));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(10));
}

TEST(FakeClockTest, SleepUntilBlocksUntilTimeIsAdvancedPastDeadline) {
  FakeClock clock;
  const absl::Time deadline = clock.Now() + absl::Seconds(5);
  absl::Time woke_at;
  std::thread sleeper([&] {
    clock.SleepUntil(deadline);
    woke_at = clock.Now();
  });
  clock.WaitForSleepers(1);
  clock.Advance(absl::Seconds(4));
  EXPECT_EQ(clock.Sleepers(), 1);  // Still before the deadline: the sleeper cannot have left.
  clock.Advance(absl::Seconds(1));
  sleeper.join();
  EXPECT_EQ(woke_at, deadline);
  EXPECT_EQ(clock.Sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilPastDeadlineReturnsAtOnce) {
  FakeClock clock;
  clock.SleepUntil(clock.Now());
  clock.SleepUntil(clock.Now() - absl::Seconds(1));
  EXPECT_EQ(clock.Sleepers(), 0);
}

TEST(FakeClockTest, SleepUntilOrWokenReturnsFalseWhenCancelled) {
  FakeClock clock;
  Cancellation wake;
  bool reached = true;
  std::thread sleeper(
      [&] { reached = SleepUntilOrWoken(clock, clock.Now() + absl::Hours(1), &wake); });
  clock.WaitForSleepers(1);
  wake.Cancel();
  sleeper.join();
  EXPECT_FALSE(reached);
}

TEST(FakeClockTest, SleepUntilOrWokenAlreadyCancelledDoesNotBlock) {
  FakeClock clock;
  Cancellation wake;
  wake.Cancel();
  EXPECT_FALSE(SleepUntilOrWoken(clock, clock.Now() + absl::Hours(1), &wake));
}

TEST(FakeClockTest, SleepUntilOrWokenReachesDeadline) {
  FakeClock clock;
  Cancellation wake;
  bool reached = false;
  std::thread sleeper(
      [&] { reached = SleepUntilOrWoken(clock, clock.Now() + absl::Seconds(2), &wake); });
  clock.WaitForSleepers(1);
  clock.Advance(absl::Seconds(2));
  sleeper.join();
  EXPECT_TRUE(reached);
}

}  // namespace
}  // namespace inplaced::fakes

#pragma once

#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/clock.h"

namespace inplaced::fakes {

// A Clock whose time only moves when the test says so.
//
// Now() returns the fake time. SleepUntil() blocks the calling thread (on a real condition
// variable) until a test thread moves the time to or past the deadline with Advance()/SetTime().
// Sleepers() and WaitForSleepers() let a test wait until a background thread is parked in
// SleepUntil() before it advances the time, so tests are deterministic without real sleeps.
//
// Thread-safe. Time never goes backwards: SetTime() to an earlier time is ignored.
class FakeClock final : public Clock {
 public:
  // 2023-11-14T22:13:20Z: a fixed, realistic start so that timestamps are never 0.
  static constexpr int64_t kDefaultStartUnixSeconds = 1700000000;

  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(kDefaultStartUnixSeconds));
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() override;
  void SleepUntil(absl::Time deadline) override;

  // Like SleepUntil(), but also returns early once `wake` (may be null) is cancelled. Returns true
  // when the deadline was reached, false when woken. Counts as a sleeper while blocked.
  bool SleepUntilOrWoken(absl::Time deadline, Cancellation* wake);

  // Moves the time forward by `delta` (negative deltas are ignored) and wakes due sleepers.
  void Advance(absl::Duration delta);
  // Sets the time to `time` if it is later than Now() and wakes due sleepers.
  void SetTime(absl::Time time);

  // The number of threads blocked in SleepUntil()/SleepUntilOrWoken() on a deadline still in the
  // future (a sleeper whose deadline has passed but that has not run yet is not counted).
  int Sleepers() const;
  // Blocks (in real time, without a timeout) until Sleepers() >= count. After an Advance() that
  // wakes a looping thread, WaitForSleepers(1) returns once it went back to sleep on a later
  // deadline.
  void WaitForSleepers(int count) const;

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // Deadlines of the threads in SleepUntil().
  std::multiset<absl::Time> deadlines_ ABSL_GUARDED_BY(mu_);

  int SleepersLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
};

// Sleeps on `clock` until `deadline` or until `wake` (may be null) is cancelled, whichever comes
// first. Returns true when the deadline was reached, false when woken. A FakeClock uses
// SleepUntilOrWoken(); any other clock is taken to follow real time (RealClock) and is waited on
// with a real deadline.
bool SleepUntilOrWoken(Clock& clock, absl::Time deadline, Cancellation* wake);

}  // namespace inplaced::fakes

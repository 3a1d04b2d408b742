#pragma once

#include "absl/time/time.h"

namespace inplaced {

// The time seam: everything that reads the time or waits goes through a Clock, so tests drive time
// with a FakeClock (tests/fakes/fake_clock.h) and never sleep.
//
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current wall-clock time.
  virtual absl::Time Now() = 0;

  // Blocks the calling thread until Now() >= deadline.
  virtual void SleepUntil(absl::Time deadline) = 0;
};

}  // namespace inplaced

#pragma once

// Waiting for a condition in suites that run real processes.

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace inplaced::testing {

// Polls `condition` every 50 ms for up to `timeout` (real time: these suites run real processes).
template <typename Fn>
bool Eventually(Fn condition, absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

}  // namespace inplaced::testing

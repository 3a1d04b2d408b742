#include "common/real_clock.h"

#include "absl/time/clock.h"

namespace inplaced {

absl::Time RealClock::Now() { return absl::Now(); }

void RealClock::SleepUntil(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left > absl::ZeroDuration()) absl::SleepFor(left);
}

}  // namespace inplaced

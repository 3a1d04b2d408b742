#pragma once

// The time and cancellation bounds of one running hook, shared by the action implementations.

#include <algorithm>

#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/clock.h"

namespace inplaced::daemon {

// Not owning: `clock` and `cancel` (may be null) outlive the hook. Cheap to copy.
struct HookBudget {
  Clock* clock;
  absl::Time deadline;
  Cancellation* cancel;

  absl::Duration Remaining() const {
    return std::max(deadline - clock->Now(), absl::ZeroDuration());
  }
  bool Expired() const { return clock->Now() >= deadline; }
  bool Cancelled() const { return cancel != nullptr && cancel->IsCancelled(); }
};

}  // namespace inplaced::daemon

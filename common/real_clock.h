#pragma once

#include "common/clock.h"

namespace inplaced {

// The system clock. Stateless: one instance may be shared by every component.
class RealClock final : public Clock {
 public:
  absl::Time Now() override;
  void SleepUntil(absl::Time deadline) override;
};

}  // namespace inplaced

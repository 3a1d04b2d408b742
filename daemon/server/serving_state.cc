#include "daemon/server/serving_state.h"

namespace inplaced::daemon {

ServingPhase ServingState::phase() const {
  absl::MutexLock lock(&mu_);
  return phase_;
}

void ServingState::SetServing() {
  absl::MutexLock lock(&mu_);
  if (phase_ == ServingPhase::kStarting) phase_ = ServingPhase::kServing;
}

void ServingState::SetStopping() {
  absl::MutexLock lock(&mu_);
  phase_ = ServingPhase::kStopping;
}

ServingPhase ServingState::WaitForChange(ServingPhase seen, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return phase_ != seen; };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return phase_;
}

}  // namespace inplaced::daemon

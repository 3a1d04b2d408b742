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

ServingState::ActiveCall::ActiveCall(ServingState& state) : state_(state) {
  absl::MutexLock lock(&state_.mu_);
  ++state_.active_calls_;
}

ServingState::ActiveCall::~ActiveCall() {
  absl::MutexLock lock(&state_.mu_);
  --state_.active_calls_;
}

bool ServingState::WaitForNoActiveCalls(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return active_calls_ == 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&idle), timeout);
}

int ServingState::active_calls() const {
  absl::MutexLock lock(&mu_);
  return active_calls_;
}

}  // namespace inplaced::daemon

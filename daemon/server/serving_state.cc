#include "daemon/server/serving_state.h"

#include "absl/strings/str_cat.h"

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

void ServingState::SetMaxWatchStreams(int max) {
  absl::MutexLock lock(&mu_);
  max_watch_streams_ = max;
}

int ServingState::open_watch_streams() const {
  absl::MutexLock lock(&mu_);
  return open_watch_streams_;
}

ServingState::WatchStreamSlot::WatchStreamSlot(ServingState& state) : state_(state) {
  absl::MutexLock lock(&state_.mu_);
  if (state_.max_watch_streams_ > 0 && state_.open_watch_streams_ >= state_.max_watch_streams_) {
    status_ = absl::ResourceExhaustedError(
        absl::StrCat("too many open watch streams: ", state_.open_watch_streams_, " of at most ",
                     state_.max_watch_streams_,
                     " (setting max_watch_streams); close one or poll with Get/List instead"));
    return;
  }
  ++state_.open_watch_streams_;
}

ServingState::WatchStreamSlot::~WatchStreamSlot() {
  if (!status_.ok()) return;
  absl::MutexLock lock(&state_.mu_);
  --state_.open_watch_streams_;
}

}  // namespace inplaced::daemon

#pragma once

// Whether the daemon serves its API: STARTING until the engine has loaded its state, SERVING, then
// STOPPING once shutdown began (terminal). Shared by the health service (reports it) and the API
// services (answer UNAVAILABLE unless SERVING). Thread-safe.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace inplaced::daemon {

enum class ServingPhase { kStarting, kServing, kStopping };

class ServingState {
 public:
  ServingState() = default;
  ServingState(const ServingState&) = delete;
  ServingState& operator=(const ServingState&) = delete;

  ServingPhase phase() const;
  bool serving() const { return phase() == ServingPhase::kServing; }

  // STARTING -> SERVING. Ignored once STOPPING.
  void SetServing();
  // Any phase -> STOPPING (terminal). Idempotent.
  void SetStopping();

  // Blocks until the phase differs from `seen` or `timeout` passes; returns the phase then. For
  // streams that report changes (health Watch) while polling for their own cancellation.
  ServingPhase WaitForChange(ServingPhase seen, absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  ServingPhase phase_ ABSL_GUARDED_BY(mu_) = ServingPhase::kStarting;
};

}  // namespace inplaced::daemon

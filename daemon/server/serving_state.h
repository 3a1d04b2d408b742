#pragma once

// Whether the daemon serves its API: STARTING until the engine has loaded its state, SERVING, then
// STOPPING once shutdown began (terminal). Shared by the health service (reports it) and the API
// services (answer UNAVAILABLE unless SERVING). Also counts the calls being handled, so that
// shutdown waits for those and not for idle client connections (gRPC's Server::Shutdown waits for
// every connection to close until its deadline, and an idle client does not read the GOAWAY), and
// caps the open watch streams of both services together (each holds its watch's queue while open).
// Thread-safe.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
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

  // Marks one call as being handled for its lifetime (create one at the start of every handler).
  class ActiveCall {
   public:
    explicit ActiveCall(ServingState& state);
    ActiveCall(const ActiveCall&) = delete;
    ActiveCall& operator=(const ActiveCall&) = delete;
    ~ActiveCall();

   private:
    ServingState& state_;
  };

  // Blocks until no call is being handled or `timeout` passes; returns whether none is.
  bool WaitForNoActiveCalls(absl::Duration timeout) const;
  int active_calls() const;

  // The most watch streams (WatchRecreateRequests and WatchNodeImage together) open at once; 0:
  // no cap. Streams already open stay open when it is lowered.
  void SetMaxWatchStreams(int max);
  int open_watch_streams() const;

  // One open watch stream for its lifetime (create one at the start of a watch handler): takes a
  // slot if one is free, else status() is RESOURCE_EXHAUSTED saying so.
  class WatchStreamSlot {
   public:
    explicit WatchStreamSlot(ServingState& state);
    WatchStreamSlot(const WatchStreamSlot&) = delete;
    WatchStreamSlot& operator=(const WatchStreamSlot&) = delete;
    ~WatchStreamSlot();

    const absl::Status& status() const { return status_; }

   private:
    ServingState& state_;
    absl::Status status_;
  };

 private:
  mutable absl::Mutex mu_;
  ServingPhase phase_ ABSL_GUARDED_BY(mu_) = ServingPhase::kStarting;
  int active_calls_ ABSL_GUARDED_BY(mu_) = 0;
  int max_watch_streams_ ABSL_GUARDED_BY(mu_) = 0;
  int open_watch_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace inplaced::daemon

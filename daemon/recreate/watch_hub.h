#pragma once

// Fan-out of recreate request changes to WatchRecreateRequests subscribers.
//
// The engine publishes every change (ADDED on create, MODIFIED on each status update, DELETED on
// delete or TTL expiry); each subscriber receives the changes that match its filters (namespace,
// spec.pod_name, name) through a RecreateWatch.
//
// Publish never blocks on a slow reader: per subscriber, undelivered events of the same request are
// coalesced into its latest state, keeping the position of the oldest undelivered one. An undelivered
// ADDED stays ADDED (the reader has not seen the request yet). A DELETED is never coalesced away: it
// replaces the undelivered event of that request, and an ADDED of a request recreated under the same
// name after it is queued behind it. A subscriber's backlog is therefore bounded by the number of
// requests (plus deletions it has not read).

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "daemon/recreate/recreate_manager.h"

namespace inplaced::daemon {

class WatchSubscriber;  // watch_hub.cc

// Thread-safe. Watches it hands out may outlive the hub (they then end with UNAVAILABLE).
class WatchHub {
 public:
  WatchHub() = default;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;
  // Ends every open watch with UNAVAILABLE (as Shutdown()).
  ~WatchHub();

  // Sends a change of `request` to every subscriber whose filters match it. `type` is ADDED,
  // MODIFIED or DELETED (for DELETED, `request` is its last state). Never blocks on readers.
  void Publish(::inplaced::v1::WatchEventType type, const ::inplaced::v1::RecreateRequest& request);

  // Opens a watch with the filters of `request` (validated by the caller). `initial` = the requests
  // that exist now; the caller collects them under its own lock and calls Subscribe under that same
  // lock, so that no change is lost or duplicated between them. Unless request.skip_initial_state(),
  // the watch first yields one ADDED per matching request of `initial` (in the given order) and then
  // one SYNCED. After Shutdown() the returned watch has already ended with UNAVAILABLE.
  std::unique_ptr<RecreateWatch> Subscribe(const ::inplaced::v1::WatchRecreateRequestsRequest& request,
                                           const std::vector<::inplaced::v1::RecreateRequest>& initial);

  // Ends every watch with UNAVAILABLE (a blocked Next() returns false); later Subscribe calls return
  // an already-ended watch. Idempotent.
  void Shutdown();

  // The number of open (not ended, not destroyed) watches. For tests and metrics.
  int ActiveWatches();

 private:
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Lock order: mu_, then a subscriber's own lock. Expired entries are pruned on Publish/Subscribe.
  std::vector<std::weak_ptr<WatchSubscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
};

// Whether `request` passes the filters of a WatchRecreateRequestsRequest (empty filter = any).
bool MatchesWatchFilter(const ::inplaced::v1::WatchRecreateRequestsRequest& filter,
                        const ::inplaced::v1::RecreateRequest& request);

}  // namespace inplaced::daemon

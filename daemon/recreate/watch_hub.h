#pragma once

// Fan-out of recreate request changes to WatchRecreateRequests subscribers: the shared
// WatchFanout (common/watch_fanout.h) keyed by "namespace/name", with the API's filters and
// messages.
//
// The engine publishes every change (ADDED on create, MODIFIED on each status update, DELETED on
// delete or TTL expiry); each subscriber receives the changes that match its filters (namespace,
// spec.pod_name, name) through a RecreateWatch. Publish never blocks on a slow reader: undelivered
// events of one request are coalesced into its latest state (WatchFanout's rules: an undelivered
// ADDED stays ADDED, a DELETED is never coalesced away and a recreate under the same name queues
// behind it).

#include <memory>

#include "api/inplaced/v1/recreate.pb.h"
#include "common/watch_fanout.h"
#include "daemon/recreate/recreate_manager.h"

namespace inplaced::daemon {

// Thread-safe. Watches it hands out may outlive the hub (they then end with UNAVAILABLE).
class WatchHub {
 public:
  WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;
  // Ends every open watch with UNAVAILABLE (as Shutdown()).
  ~WatchHub() = default;

  // Sends a change of `request` to every subscriber whose filters match it. `type` is ADDED,
  // MODIFIED or DELETED (for DELETED, `request` is its last state). Never blocks on readers.
  void Publish(::inplaced::v1::WatchEventType type, const ::inplaced::v1::RecreateRequest& request);

  // Opens a watch with the filters of `request` (validated by the caller). `for_each_request`
  // visits the requests that exist now; the caller calls Subscribe under its own lock, so that no
  // change is lost or duplicated between them. Unless request.skip_initial_state() (then nothing
  // is visited), the watch first yields one ADDED per matching request (in the visiting order; each
  // filtered and copied once) and then one SYNCED. After Shutdown() the returned watch has already
  // ended with UNAVAILABLE.
  std::unique_ptr<RecreateWatch> Subscribe(
      const ::inplaced::v1::WatchRecreateRequestsRequest& request,
      const ForEachObject<::inplaced::v1::RecreateRequest>& for_each_request);

  // Ends every watch with UNAVAILABLE (a blocked Next() returns false); later Subscribe calls
  // return an already-ended watch. Idempotent.
  void Shutdown() { fanout_.Shutdown(); }

  // The number of open (not ended, not destroyed) watches. For tests and metrics.
  int ActiveWatches() { return fanout_.ActiveWatches(); }

 private:
  WatchFanout<::inplaced::v1::RecreateRequest> fanout_;
};

// Whether `request` passes the filters of a WatchRecreateRequestsRequest (empty filter = any).
bool MatchesWatchFilter(const ::inplaced::v1::WatchRecreateRequestsRequest& filter,
                        const ::inplaced::v1::RecreateRequest& request);

}  // namespace inplaced::daemon

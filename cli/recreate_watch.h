#pragma once

// Following recreate requests through WatchRecreateRequests: `inplacectl watch` and `recreate
// --wait`. On a terminal the table is redrawn in place after every change; elsewhere one line per
// event.

#include <map>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "cli/daemon_client.h"

namespace inplaced::cli {

// The latest state of every request a watch has shown, and whether they are all done. Pure: fed
// with watch events, unit-tested without a daemon.
class RecreateTracker {
 public:
  void Apply(const v1::WatchRecreateRequestsResponse& event);

  // The initial state has arrived (SYNCED).
  bool synced() const { return synced_; }
  // Synced, at least one request seen, and every one seen is completed or deleted.
  bool AllDone() const;
  // kExitOk when every request seen completed with all containers Succeeded, else kExitFailed (a
  // container Failed, a request ended early, or one was deleted before it completed).
  int ExitCode() const;
  // Every request seen, by (namespace, name), with its last state (deleted ones included).
  std::vector<v1::RecreateRequest> Requests() const;

 private:
  struct Entry {
    v1::RecreateRequest request;
    bool deleted = false;
  };
  bool synced_ = false;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

struct FollowOptions {
  v1::WatchRecreateRequestsRequest filter;
  bool until_done = false;                       // stop once RecreateTracker::AllDone
  absl::Time deadline = absl::InfiniteFuture();  // give up then (exit 1, "timed out")
  bool live = false;                             // redraw a table instead of printing lines
  bool wide = false;
  bool show_namespace = true;
};

// Watches until `options` says to stop, writing to `out`. Returns the exit code (RecreateTracker's
// when until_done, kExitFailed on timeout) or the watch's error (the daemon unreachable or shut
// down).
absl::StatusOr<int> FollowRecreates(DaemonClient& client, const FollowOptions& options,
                                    std::ostream& out);

}  // namespace inplaced::cli

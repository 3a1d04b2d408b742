#pragma once

// What inplacectl shows of recreate requests: phase names, the table of `list`/`get`/`watch`, the
// line per watch event, and whether a request ended well. Pure functions of API messages and a
// time.

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::cli {

// "Pending", "Recreating", "Completed" (Kruise's words); "Unknown" for UNSPECIFIED.
std::string RecreatePhaseName(v1::RecreatePhase phase);
// "Pending", "Recreating", "Succeeded", "Failed"; "Unknown" for UNSPECIFIED.
std::string ContainerPhaseName(v1::ContainerRecreatePhase phase);

// Where a request stands for a script: still running, or completed with every container Succeeded,
// or completed otherwise (a container Failed, or the request ended early with a message).
enum class RecreateOutcome { kRunning, kSucceeded, kFailed };
RecreateOutcome OutcomeOf(const v1::RecreateRequest& request);

// "1/2" succeeded/total containers, with " (1 failed)" when any failed.
std::string ContainersCell(const v1::RecreateStatus& status);

// The table NAME POD PHASE CONTAINERS AGE, with NAMESPACE first when `show_namespace`; `wide` adds
// POD-UID, STATES (container=phase,...) and MESSAGE. Rows in the given order.
std::string RecreateTable(const std::vector<v1::RecreateRequest>& requests, bool show_namespace,
                          bool wide, absl::Time now);

// One line for a watch event: "MODIFIED demo/upgrade-web pod=web phase=Recreating app=Succeeded
// sidecar=Recreating", then ` message="..."` when the request has one.
std::string WatchEventLine(v1::WatchEventType type, const v1::RecreateRequest& request);

// A sentence for the end of a wait: "demo/upgrade-web: Completed, 2/2 containers Succeeded" or
// "demo/upgrade-web: Completed: sidecar Failed: kill container error: ...".
std::string OutcomeLine(const v1::RecreateRequest& request);

}  // namespace inplaced::cli

#pragma once

// The recreate state machine: how one request advances, as pure functions of (the persisted record,
// the node snapshot, the time, what the engine is doing). No I/O, no clock, no locks: the engine
// (recreate_engine.h) feeds it and carries out its decisions, so every rule is table-testable.
//
// One step (Advance) does, in this order:
//   1. a completed request: nothing, except deletion once ttl_seconds_after_finished has passed;
//   2. active_deadline_seconds from creation passed: COMPLETED "recreating has exceeded the
//      activeDeadlineSeconds", every non-terminal container FAILED with the same message;
//   3. the pod: found by status.pod_uid (else spec.pod_uid, else namespace/name, recording its
//   UID);
//      not on the node, or none of its sandboxes READY (kubelet stopped the pod: its containers
//      are never restarted again, whatever order kubelet then removes them and the sandbox in):
//      COMPLETED "pod has gone";
//   4. missing status contexts (old container ID / restart count) are filled from the pod;
//   5. an older request of the same pod has not completed (input.blocked_by): PENDING, says which;
//   6. strategy.unready_grace_period_seconds set: PENDING until AcknowledgeUnready, then until
//      unready_at + grace;
//   7. RECREATING; each container in spec order (ordered_recreate: the next one only once the
//   previous
//      Succeeded; FAIL policy: the request completes at the first Failed container):
//        - not in the pod: FAILED "not found container on Node";
//        - not recreated yet (same ID and restart count), or force_recreate and not killed by the
//          daemon: a kill of the current running instance (KillAction), its kill step persisted
//          first;
//        - recreated (by the daemon's kill, or on its own): SUCCEEDED once the new instance has run
//        for
//          min_started_seconds (runtime StartedAt) and, with readiness source CONTROLLER, was
//          reported ready under its new ID;
//   8. every container terminal: COMPLETED.
// Kills interrupted by a daemon restart (a kill step other than NONE/STOP_DONE with no kill in
// flight) are resumed, as kubelet would: a kill only decided (QUEUED) is decided again from scratch
// (whole preStop hook, whole grace) while the same instance runs; a preStop that started is never
// run again (INTERRUPTED "daemon restarted while the hook ran") and the stop follows with the rest
// of the grace; a StopContainer already sent is never sent again: once stop_sent_at + its timeout
// has passed and the same instance still runs, it is killed with StopContainer(timeout=0). An
// instance that exited needs nothing more.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/inplaced/internal/recreate_record.pb.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "cri/snapshot.h"

namespace inplaced::daemon {

// Messages the API documents (tests and callers match on them).
inline constexpr absl::string_view kPodGoneMessage = "pod has gone";
inline constexpr absl::string_view kDeadlineExceededMessage =
    "recreating has exceeded the activeDeadlineSeconds";
inline constexpr absl::string_view kContainerNotFoundMessage = "not found container on Node";
inline constexpr absl::string_view kKillErrorPrefix = "kill container error: ";
inline constexpr absl::string_view kRestartedDuringHookMessage =
    "daemon restarted while the hook ran; it is not run again";
// Kubelet's default terminationGracePeriodSeconds and minimum StopContainer timeout.
inline constexpr int64_t kDefaultGracePeriodSeconds = 30;
inline constexpr int64_t kMinStopTimeoutSeconds = 2;

// Parses kubelet's preStopHandler annotation (ParseKubeletPreStopHandler in production).
using PreStopParser = std::function<absl::StatusOr<std::optional<::inplaced::v1::LifecycleHandler>>(
    absl::string_view)>;

struct StepInput {
  absl::Time now;
  // The name of the older, not completed request of the same pod this one waits behind; empty when
  // this request is its pod's head.
  std::string blocked_by;
  // Names of this request's containers whose kill (preStop + StopContainer) runs on the kill pool.
  absl::flat_hash_set<std::string> kills_in_flight;
  // Null: kubelet annotations are not parsed (no annotation hook).
  PreStopParser parse_pre_stop;
};

// A kill for the engine to run on its pool, after it persisted StepResult::record: the preStop hook
// when `pre_stop` is set (MarkHookStarted persisted first), then StopContainer(container_id,
// timeout of MarkStopSent, persisted first). With `final_kill`: only StopContainer(timeout=0) of
// an instance whose stop was sent by an earlier daemon and whose timeout has passed.
struct KillAction {
  int container_index = 0;
  std::string container_name;
  std::string container_id;
  std::string pod_sandbox_id;
  int64_t grace_period_seconds = kDefaultGracePeriodSeconds;
  absl::Time started_at;  // the grace period counts from here
  std::optional<::inplaced::v1::LifecycleHandler> pre_stop;
  // For named ports: the request's ports, else kubelet's ports annotation, parsed
  // (ParseKubeletPorts; none when it does not parse).
  std::vector<::inplaced::v1::ContainerPort> ports;
  bool final_kill = false;
};

struct StepResult {
  ::inplaced::internal::RecreateRecord record;
  // Kills to start (their kill steps are already in `record`).
  std::vector<KillAction> kills;
  // ttl_seconds_after_finished passed: delete the request.
  bool remove = false;
  // `record` differs from the input: persist and publish it.
  bool changed = false;
  // The earliest time a wait of this request ends by itself (unready window, min_started_seconds,
  // active_deadline_seconds, ttl_seconds_after_finished): the engine ticks then at the latest.
  std::optional<absl::Time> wake_at;
};

// The record of a request accepted at `now`: metadata (namespace, name, `uid`, creation_time), the
// spec (the caller applied the defaults), status PENDING with one PENDING state per container (old
// container ID and restart count from its status context, if any), one kill at NONE per container.
::inplaced::internal::RecreateRecord NewRecord(
    const ::inplaced::v1::CreateRecreateRequestRequest& request, const std::string& uid,
    absl::Time now, uint64_t sequence);

// One step of `record` against `snapshot` (see the file comment).
StepResult Advance(const ::inplaced::internal::RecreateRecord& record,
                   const cri::NodeSnapshot& snapshot, const StepInput& input);

// The IDs of the container instances whose ContainerStatus (StartedAt) the next Advance needs: the
// current instance of each non-terminal container of a request that is not completed, when that
// instance replaced the old one or the kill target. The engine passes them to cri::FillStatus.
std::vector<std::string> ContainersToInspect(const ::inplaced::internal::RecreateRecord& record,
                                             const cri::NodeSnapshot& snapshot);

// The request's pod in the snapshot: by status.pod_uid, else spec.pod_uid (and then its
// namespace/name must match), else by namespace/spec.pod_name. Null when the pod is not on the
// node.
const cri::PodInfo* FindRequestPod(const ::inplaced::v1::RecreateRequest& request,
                                   const cri::NodeSnapshot& snapshot);

// Whether kubelet still runs `pod`: one of its sandboxes is READY. A pod whose sandboxes are all
// NOTREADY was stopped (deleted, evicted, or its sandbox is being replaced, which restarts every
// container anyway): a request of it cannot succeed.
bool PodIsRunning(const cri::PodInfo& pod);

// Why `container` cannot be recreated, or "" when it can. Only regular containers
// (pod.spec.containers, kubelet's io.kubernetes.container.type "container", or no type) can, as in
// Kruise: init containers have run to completion and are never restarted, ephemeral containers are
// never restarted either, so a kill of either would leave the request waiting for its deadline.
std::string NotRecreatableReason(const cri::ContainerInfo& container);

// Fills the old container ID and restart count of every container whose spec has no status context
// and whose old ID is still unknown, from the pod's current instance (the status context "at
// acceptance").
void FillMissingContexts(::inplaced::internal::RecreateRecord* record, const cri::PodInfo& pod);

// The StopContainer timeout after a kill that began at `started_at` with `grace_period_seconds`:
// what remains of the grace at `now` in whole seconds (elapsed time rounded down), at least 2.
int64_t StopTimeoutSeconds(int64_t grace_period_seconds, absl::Time started_at, absl::Time now);

// The kill worker is about to start the preStop hook of container `index`: PRESTOP_STARTED, hook
// RUNNING since `now`, the grace period counting from `now`. False (nothing changed) unless the
// kill is QUEUED.
bool MarkHookStarted(::inplaced::internal::RecreateRecord* record, int index, absl::Time now);

// The preStop hook of container `index` finished with `outcome` (SUCCEEDED, FAILED, TIMED_OUT) and
// `message` (PreStopRunner's result): records it and moves the kill to PRESTOP_DONE. No-op unless
// the kill is at PRESTOP_STARTED.
void ApplyPreStopResult(::inplaced::internal::RecreateRecord* record, int index,
                        ::inplaced::v1::PreStopOutcome outcome, absl::string_view message,
                        absl::Time now);

// The kill worker is about to send StopContainer to container `index`'s target: STOP_SENT with
// stop_sent_at = killed_at = `now`, and the timeout (StopTimeoutSeconds; the grace counts from now
// when no hook ran), which it returns. nullopt (nothing changed) unless the kill is QUEUED or
// PRESTOP_DONE.
std::optional<int64_t> MarkStopSent(::inplaced::internal::RecreateRecord* record, int index,
                                    absl::Time now);

// The StopContainer just marked sent failed UNAVAILABLE (it never reached the runtime): back to
// PRESTOP_DONE, so the next tick sends it once the runtime answers.
void MarkStopNotSent(::inplaced::internal::RecreateRecord* record, int index);

// StopContainer of container `index` returned `status`: STOP_DONE; an error makes the container
// FAILED "kill container error: <error>" unless it is already terminal.
void ApplyStopResult(::inplaced::internal::RecreateRecord* record, int index,
                     const absl::Status& status, absl::Time now);

// The bare CRI ID of a status context ID ("containerd://abc" -> "abc").
std::string BareContainerId(absl::string_view id);

// Whether the request has completed.
inline bool IsCompleted(const ::inplaced::internal::RecreateRecord& record) {
  return record.request().status().phase() == ::inplaced::v1::RECREATE_PHASE_COMPLETED;
}

}  // namespace inplaced::daemon

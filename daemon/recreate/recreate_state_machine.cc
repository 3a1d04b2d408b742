#include "daemon/recreate/recreate_state_machine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "cri/kubelet_labels.h"
#include "daemon/prestop/kubelet_handler.h"
#include "google/protobuf/util/message_differencer.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;

bool IsTerminal(const api::ContainerRecreateState& state) {
  return state.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED ||
         state.phase() == api::CONTAINER_RECREATE_PHASE_FAILED;
}

std::string FormatRfc3339(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_sec, time, absl::UTCTimeZone());
}

void SetState(api::ContainerRecreateState* state, api::ContainerRecreatePhase phase,
              absl::string_view message) {
  state->set_phase(phase);
  state->set_message(std::string(message));
}

// The record always has one container state and one kill per spec container (the engine creates it
// so; this only guards against a hand-edited store).
void EnsureShape(internal::RecreateRecord* record) {
  api::RecreateRequest& request = *record->mutable_request();
  const int n = request.spec().containers_size();
  while (request.status().container_states_size() < n) {
    const int i = request.status().container_states_size();
    api::ContainerRecreateState* state = request.mutable_status()->add_container_states();
    state->set_name(request.spec().containers(i).name());
    state->set_phase(api::CONTAINER_RECREATE_PHASE_PENDING);
  }
  while (record->kills_size() < n) record->add_kills();
}

// Everything one Advance call works on.
class Stepper {
 public:
  Stepper(const cri::NodeSnapshot& snapshot, const StepInput& input, StepResult* out)
      : snapshot_(snapshot),
        input_(input),
        out_(out),
        request_(*out->record.mutable_request()),
        status_(*request_.mutable_status()),
        strategy_(request_.spec().strategy()) {}

  void Run() {
    if (IsCompleted(out_->record)) {
      CheckTtl();
      return;
    }
    if (request_.spec().has_active_deadline_seconds()) {
      WakeAt(FromProtoTime(request_.metadata().creation_time()) +
             absl::Seconds(request_.spec().active_deadline_seconds()));
    }
    if (request_.spec().has_active_deadline_seconds() &&
        input_.now >= FromProtoTime(request_.metadata().creation_time()) +
                          absl::Seconds(request_.spec().active_deadline_seconds())) {
      for (api::ContainerRecreateState& state : *status_.mutable_container_states()) {
        if (!IsTerminal(state)) {
          SetState(&state, api::CONTAINER_RECREATE_PHASE_FAILED, kDeadlineExceededMessage);
        }
      }
      Complete(kDeadlineExceededMessage);
      return;
    }
    pod_ = FindRequestPod(request_, snapshot_);
    if (pod_ == nullptr || !PodIsRunning(*pod_)) {
      Complete(kPodGoneMessage);
      return;
    }
    if (status_.pod_uid().empty()) status_.set_pod_uid(pod_->uid);
    FillMissingContexts(&out_->record, *pod_);

    if (!input_.blocked_by.empty()) {
      status_.set_phase(api::RECREATE_PHASE_PENDING);
      status_.set_message(
          absl::StrCat("waiting for request ", input_.blocked_by,
                       " of the same pod to complete (one request per pod runs at a "
                       "time, in creation order)"));
      return;
    }
    if (!UnreadyWindowPassed()) return;
    status_.set_phase(api::RECREATE_PHASE_RECREATING);
    status_.set_message("");
    WalkContainers();
  }

 private:
  void Complete(absl::string_view message) {
    status_.set_phase(api::RECREATE_PHASE_COMPLETED);
    *status_.mutable_completion_time() = ToProtoTime(input_.now);
    status_.set_message(std::string(message));
  }

  void CheckTtl() {
    if (!request_.spec().has_ttl_seconds_after_finished()) return;
    const absl::Time expiry = FromProtoTime(status_.completion_time()) +
                              absl::Seconds(request_.spec().ttl_seconds_after_finished());
    if (input_.now >= expiry) {
      out_->remove = true;
    } else {
      WakeAt(expiry);
    }
  }

  void WakeAt(absl::Time time) {
    if (!out_->wake_at.has_value() || time < *out_->wake_at) out_->wake_at = time;
  }

  bool AnyKillStarted() const {
    for (const internal::ContainerKill& kill : out_->record.kills()) {
      if (kill.step() != internal::KILL_STEP_NONE) return true;
    }
    return false;
  }

  // The unready gate applies before the first kill only (a restarted daemon resumes kills already
  // made).
  bool UnreadyWindowPassed() {
    if (!strategy_.has_unready_grace_period_seconds() || AnyKillStarted()) return true;
    if (!status_.has_unready_acknowledged_at()) {
      status_.set_phase(api::RECREATE_PHASE_PENDING);
      status_.set_message(
          "waiting for AcknowledgeUnready (strategy.unready_grace_period_seconds is set: nothing "
          "is "
          "killed before the pod was made unready)");
      return false;
    }
    const absl::Time end = FromProtoTime(status_.unready_acknowledged_at()) +
                           absl::Seconds(strategy_.unready_grace_period_seconds());
    if (input_.now < end) {
      WakeAt(end);
      status_.set_phase(api::RECREATE_PHASE_PENDING);
      status_.set_message(
          absl::StrCat("waiting for the unready grace period to end at ", FormatRfc3339(end)));
      return false;
    }
    return true;
  }

  void WalkContainers() {
    const bool fail_fast = strategy_.failure_policy() != api::FAILURE_POLICY_IGNORE;
    const int n = request_.spec().containers_size();
    bool all_terminal = true;
    for (int i = 0; i < n; ++i) {
      api::ContainerRecreateState& state = *status_.mutable_container_states(i);
      if (!IsTerminal(state)) Evaluate(i);
      if (state.phase() == api::CONTAINER_RECREATE_PHASE_FAILED && fail_fast) {
        MarkNotAttempted(i + 1, state.name());
        Complete("");
        return;
      }
      if (!IsTerminal(state)) {
        all_terminal = false;
        // Ordered: the later containers wait; they are not killed before this one Succeeded.
        if (strategy_.ordered_recreate()) break;
      }
    }
    if (all_terminal) Complete("");
  }

  void MarkNotAttempted(int from, const std::string& failed_name) {
    for (int j = from; j < request_.spec().containers_size(); ++j) {
      api::ContainerRecreateState& state = *status_.mutable_container_states(j);
      if (state.phase() == api::CONTAINER_RECREATE_PHASE_PENDING &&
          out_->record.kills(j).step() == internal::KILL_STEP_NONE) {
        state.set_message(absl::StrCat("not attempted: container ", failed_name,
                                       " failed and failure_policy is FAIL"));
      }
    }
  }

  void Evaluate(int i) {
    api::ContainerRecreateState& state = *status_.mutable_container_states(i);
    internal::ContainerKill& kill = *out_->record.mutable_kills(i);
    const std::string& name = request_.spec().containers(i).name();

    if (input_.kills_in_flight.contains(name)) {
      state.set_phase(api::CONTAINER_RECREATE_PHASE_RECREATING);
      return;
    }
    if (ResumeInterruptedKill(i)) return;

    const cri::ContainerInfo* current = pod_->CurrentContainer(name);
    if (current == nullptr) {
      SetState(&state, api::CONTAINER_RECREATE_PHASE_FAILED, kContainerNotFoundMessage);
      return;
    }
    if (std::string reason = NotRecreatableReason(*current); !reason.empty()) {
      SetState(&state, api::CONTAINER_RECREATE_PHASE_FAILED, reason);
      return;
    }
    state.set_restart_count(static_cast<int32_t>(current->restart_count));
    const bool recreated =
        (!state.old_container_id().empty() && current->id != state.old_container_id()) ||
        current->restart_count > state.old_restart_count();
    const bool running = current->state == cri::criv1::CONTAINER_RUNNING;

    if (kill.step() == internal::KILL_STEP_STOP_DONE) {
      // Killed by the daemon: the instance that replaces the target is the one to follow.
      if (current->id == kill.target_container_id()) {
        SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING,
                 "waiting for kubelet to start the new container");
        return;
      }
      CheckSucceeded(state, *current);
      return;
    }
    if (recreated && !strategy_.force_recreate()) {
      // Restarted on its own since the status context: no kill (Kruise counts it as killed).
      state.set_is_killed(true);
      CheckSucceeded(state, *current);
      return;
    }
    if (!running) {
      if (!strategy_.force_recreate()) {
        // The old instance exited by itself: kubelet restarts it.
        state.set_is_killed(true);
        SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING,
                 "the container exited; waiting for kubelet to restart it");
      } else {
        SetState(
            &state, api::CONTAINER_RECREATE_PHASE_PENDING,
            "waiting for the container to run (force_recreate kills its running instance once)");
      }
      return;
    }
    StartKill(i, *current);
  }

  // A kill step left by a daemon that stopped mid-kill (no kill in flight for it). Returns true
  // when it decided something for this container (a kill, or a timed wait): nothing more to
  // evaluate this step.
  bool ResumeInterruptedKill(int i) {
    api::ContainerRecreateState& state = *status_.mutable_container_states(i);
    internal::ContainerKill& kill = *out_->record.mutable_kills(i);
    if (kill.step() == internal::KILL_STEP_NONE || kill.step() == internal::KILL_STEP_STOP_DONE) {
      return false;
    }
    const cri::ContainerInfo* target = nullptr;
    for (const cri::ContainerInfo& instance :
         pod_->Instances(request_.spec().containers(i).name())) {
      if (instance.id == kill.target_container_id()) target = &instance;
    }
    const bool target_runs = target != nullptr && target->state == cri::criv1::CONTAINER_RUNNING;
    api::PreStopStatus& pre_stop = *state.mutable_pre_stop();
    if (kill.step() == internal::KILL_STEP_QUEUED) {
      // Decided, nothing run or sent: decided again from scratch (whole hook, whole grace) while
      // the same instance is the one running.
      const cri::ContainerInfo* current =
          pod_->CurrentContainer(request_.spec().containers(i).name());
      if (target_runs && current == target) {
        kill.Clear();
        StartKill(i, *target);
        return true;
      }
      if (pre_stop.outcome() == api::PRE_STOP_OUTCOME_QUEUED) {
        pre_stop.set_outcome(api::PRE_STOP_OUTCOME_SKIPPED);
        pre_stop.set_message("the container was no longer running");
      }
      kill.set_step(internal::KILL_STEP_STOP_DONE);
      state.set_is_killed(true);
      return false;
    }
    if (kill.step() == internal::KILL_STEP_PRESTOP_STARTED) {
      // The hook may have run, wholly, partly or not at all: never run it again, and say so.
      pre_stop.set_outcome(api::PRE_STOP_OUTCOME_INTERRUPTED);
      pre_stop.set_message(std::string(kRestartedDuringHookMessage));
      *pre_stop.mutable_finished_at() = ToProtoTime(input_.now);
      kill.set_step(internal::KILL_STEP_PRESTOP_DONE);
    }
    if (!target_runs) {
      // Exited (or removed): whatever was sent took effect; follow its replacement.
      kill.set_step(internal::KILL_STEP_STOP_DONE);
      state.set_is_killed(true);
      return false;
    }
    state.set_phase(api::CONTAINER_RECREATE_PHASE_RECREATING);
    if (kill.step() == internal::KILL_STEP_PRESTOP_DONE) {
      // The stop was never sent: send it now, with what remains of the grace period.
      out_->kills.push_back(NewAction(i, *target));
      return true;
    }
    // STOP_SENT: the instance got its stop signal (or may have). Never signal it again: wait for
    // the timeout that stop carried, then kill it with timeout 0 (SIGKILL), as kubelet would.
    const absl::Time deadline = StopDeadline(kill, state);
    if (input_.now < deadline) {
      WakeAt(deadline);
      state.set_message(absl::StrCat("waiting for the stop sent to ", kill.target_container_id(),
                                     " to end by ", FormatRfc3339(deadline),
                                     " (then it is killed)"));
      return true;
    }
    KillAction action = NewAction(i, *target);
    action.final_kill = true;
    out_->kills.push_back(std::move(action));
    return true;
  }

  // When a stop already sent has had its whole timeout.
  static absl::Time StopDeadline(const internal::ContainerKill& kill,
                                 const api::ContainerRecreateState& state) {
    if (kill.has_stop_sent_at()) {
      return FromProtoTime(kill.stop_sent_at()) + absl::Seconds(kill.stop_timeout_seconds());
    }
    // A record written before stop_sent_at existed: the whole grace from the kill's start.
    const absl::Time sent =
        state.has_killed_at() ? FromProtoTime(state.killed_at()) : FromProtoTime(kill.started_at());
    return sent + absl::Seconds(std::max(kMinStopTimeoutSeconds, kill.grace_period_seconds()));
  }

  KillAction NewAction(int i, const cri::ContainerInfo& target) const {
    const internal::ContainerKill& kill = out_->record.kills(i);
    const api::RecreateContainer& spec = request_.spec().containers(i);
    KillAction action;
    action.container_index = i;
    action.container_name = spec.name();
    action.container_id = kill.target_container_id();
    action.pod_sandbox_id =
        kill.pod_sandbox_id().empty() ? target.pod_sandbox_id : kill.pod_sandbox_id();
    action.grace_period_seconds = kill.grace_period_seconds();
    action.started_at = FromProtoTime(kill.started_at());
    action.ports.assign(spec.ports().begin(), spec.ports().end());
    if (action.ports.empty()) {
      // kubelet's ports annotation, parsed once here for the hook; unparsable means no named ports.
      absl::StatusOr<std::vector<api::ContainerPort>> ports = ParseKubeletPorts(target.ports_json);
      if (ports.ok()) action.ports = *std::move(ports);
    }
    return action;
  }

  void StartKill(int i, const cri::ContainerInfo& current) {
    api::ContainerRecreateState& state = *status_.mutable_container_states(i);
    internal::ContainerKill& kill = *out_->record.mutable_kills(i);
    const api::RecreateContainer& spec = request_.spec().containers(i);

    int64_t grace = kDefaultGracePeriodSeconds;
    if (strategy_.has_termination_grace_period_seconds()) {
      grace = strategy_.termination_grace_period_seconds();
    } else if (current.termination_grace_period_seconds.has_value()) {
      grace = *current.termination_grace_period_seconds;
    }
    kill.set_target_container_id(current.id);
    kill.set_grace_period_seconds(grace);
    *kill.mutable_started_at() = ToProtoTime(input_.now);
    kill.set_pod_sandbox_id(current.pod_sandbox_id);
    state.set_grace_period_seconds(grace);
    SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING, "");

    api::PreStopStatus& pre_stop = *state.mutable_pre_stop();
    pre_stop.Clear();
    std::optional<api::LifecycleHandler> hook;
    if (spec.has_pre_stop()) {
      hook = spec.pre_stop();
      pre_stop.set_source(api::PRE_STOP_SOURCE_REQUEST);
    } else if (input_.parse_pre_stop && !current.pre_stop_handler_json.empty()) {
      pre_stop.set_source(api::PRE_STOP_SOURCE_KUBELET_ANNOTATION);
      absl::StatusOr<std::optional<api::LifecycleHandler>> parsed =
          input_.parse_pre_stop(current.pre_stop_handler_json);
      if (!parsed.ok()) {
        // Not fatal, like a failed hook: the kill goes on.
        pre_stop.set_outcome(api::PRE_STOP_OUTCOME_FAILED);
        pre_stop.set_message(
            absl::StrCat("invalid preStopHandler annotation: ", parsed.status().message()));
      } else {
        hook = *std::move(parsed);
      }
    }

    KillAction action = NewAction(i, current);
    // Only decided here (QUEUED): the kill worker persists PRESTOP_STARTED right before the hook
    // starts and STOP_SENT right before StopContainer, so a restart knows what really happened.
    kill.set_step(internal::KILL_STEP_QUEUED);
    if (hook.has_value() && grace > 0) {
      pre_stop.set_outcome(api::PRE_STOP_OUTCOME_QUEUED);
      action.pre_stop = std::move(hook);
    } else if (hook.has_value()) {
      pre_stop.set_outcome(api::PRE_STOP_OUTCOME_SKIPPED);
      pre_stop.set_message("termination grace period is 0");
    } else if (pre_stop.outcome() == api::PRE_STOP_OUTCOME_UNSPECIFIED) {
      pre_stop.set_outcome(api::PRE_STOP_OUTCOME_NO_HOOK);
      pre_stop.set_source(api::PRE_STOP_SOURCE_UNSPECIFIED);
    }
    out_->kills.push_back(std::move(action));
  }

  void CheckSucceeded(api::ContainerRecreateState& state, const cri::ContainerInfo& current) {
    state.set_new_container_id(current.id);
    if (current.state != cri::criv1::CONTAINER_RUNNING) {
      SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING,
               absl::StrCat("the new container ", current.id, " is not running"));
      return;
    }
    if (!current.has_status || current.started_at == 0) {
      SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING,
               "waiting for the new container's start time");
      return;
    }
    const absl::Time started = FromUnixNanosTime(current.started_at);
    *state.mutable_restarted_at() = ToProtoTime(started);
    const absl::Time stable_at = started + absl::Seconds(strategy_.min_started_seconds());
    if (input_.now < stable_at) {
      WakeAt(stable_at);
      SetState(
          &state, api::CONTAINER_RECREATE_PHASE_RECREATING,
          absl::StrCat("waiting for min_started_seconds: stable at ", FormatRfc3339(stable_at)));
      return;
    }
    if (request_.spec().readiness_source() == api::READINESS_SOURCE_CONTROLLER) {
      const api::ContainerReadinessReport& report = state.last_readiness_report();
      if (!state.has_last_readiness_report() || report.container_id() != current.id ||
          !report.ready()) {
        SetState(&state, api::CONTAINER_RECREATE_PHASE_RECREATING,
                 absl::StrCat("waiting for a ready report (ReportReadiness) for container ",
                              current.id));
        return;
      }
    }
    SetState(&state, api::CONTAINER_RECREATE_PHASE_SUCCEEDED, "");
  }

  const cri::NodeSnapshot& snapshot_;
  const StepInput& input_;
  StepResult* out_;
  api::RecreateRequest& request_;
  api::RecreateStatus& status_;
  const api::RecreateStrategy strategy_;
  const cri::PodInfo* pod_ = nullptr;
};

}  // namespace

bool PodIsRunning(const cri::PodInfo& pod) {
  // The current sandbox is the READY one when there is one (cri/snapshot.h).
  return pod.sandbox.state == ::runtime::v1::SANDBOX_READY;
}

const cri::PodInfo* FindRequestPod(const ::inplaced::v1::RecreateRequest& request,
                                   const cri::NodeSnapshot& snapshot) {
  const std::string& uid =
      request.status().pod_uid().empty() ? request.spec().pod_uid() : request.status().pod_uid();
  if (uid.empty())
    return snapshot.FindPod(request.metadata().namespace_(), request.spec().pod_name());
  const cri::PodInfo* pod = snapshot.FindPodByUid(uid);
  if (pod == nullptr || pod->pod_namespace != request.metadata().namespace_() ||
      pod->name != request.spec().pod_name()) {
    return nullptr;
  }
  return pod;
}

std::string NotRecreatableReason(const cri::ContainerInfo& container) {
  if (container.type == cri::kubelet::kContainerTypeInit ||
      container.type == cri::kubelet::kContainerTypeEphemeral) {
    return absl::StrCat(
        "container \"", container.name, "\" is an ", container.type,
        " container: only regular containers (pod.spec.containers) can be recreated");
  }
  return "";
}

void FillMissingContexts(::inplaced::internal::RecreateRecord* record, const cri::PodInfo& pod) {
  EnsureShape(record);
  api::RecreateRequest& request = *record->mutable_request();
  for (int i = 0; i < request.spec().containers_size(); ++i) {
    const api::RecreateContainer& spec = request.spec().containers(i);
    api::ContainerRecreateState& state = *request.mutable_status()->mutable_container_states(i);
    if (spec.has_status_context() || !state.old_container_id().empty()) continue;
    const cri::ContainerInfo* current = pod.CurrentContainer(spec.name());
    if (current == nullptr) continue;
    state.set_old_container_id(current->id);
    state.set_old_restart_count(static_cast<int32_t>(current->restart_count));
    state.set_restart_count(static_cast<int32_t>(current->restart_count));
  }
}

::inplaced::internal::RecreateRecord NewRecord(
    const ::inplaced::v1::CreateRecreateRequestRequest& request, const std::string& uid,
    absl::Time now, uint64_t sequence) {
  internal::RecreateRecord record;
  record.set_sequence(sequence);
  api::RecreateRequest& out = *record.mutable_request();
  out.mutable_metadata()->set_namespace_(request.namespace_());
  out.mutable_metadata()->set_name(request.name());
  out.mutable_metadata()->set_uid(uid);
  *out.mutable_metadata()->mutable_creation_time() = ToProtoTime(now);
  *out.mutable_spec() = request.spec();
  api::RecreateStatus& status = *out.mutable_status();
  status.set_phase(api::RECREATE_PHASE_PENDING);
  status.set_pod_uid(request.spec().pod_uid());
  for (const api::RecreateContainer& container : request.spec().containers()) {
    api::ContainerRecreateState& state = *status.add_container_states();
    state.set_name(container.name());
    state.set_phase(api::CONTAINER_RECREATE_PHASE_PENDING);
    if (container.has_status_context()) {
      state.set_old_container_id(BareContainerId(container.status_context().container_id()));
      state.set_old_restart_count(container.status_context().restart_count());
      state.set_restart_count(container.status_context().restart_count());
    }
    record.add_kills();
  }
  return record;
}

StepResult Advance(const ::inplaced::internal::RecreateRecord& record,
                   const cri::NodeSnapshot& snapshot, const StepInput& input) {
  StepResult out;
  out.record = record;
  EnsureShape(&out.record);
  Stepper(snapshot, input, &out).Run();
  out.changed = !google::protobuf::util::MessageDifferencer::Equals(out.record, record);
  return out;
}

std::vector<std::string> ContainersToInspect(const ::inplaced::internal::RecreateRecord& record,
                                             const cri::NodeSnapshot& snapshot) {
  std::vector<std::string> ids;
  if (IsCompleted(record)) return ids;
  const cri::PodInfo* pod = FindRequestPod(record.request(), snapshot);
  if (pod == nullptr) return ids;
  const api::RecreateRequest& request = record.request();
  for (int i = 0;
       i < request.spec().containers_size() && i < request.status().container_states_size(); ++i) {
    const api::ContainerRecreateState& state = request.status().container_states(i);
    if (IsTerminal(state)) continue;
    const cri::ContainerInfo* current = pod->CurrentContainer(state.name());
    if (current == nullptr || current->state != cri::criv1::CONTAINER_RUNNING) continue;
    const std::string target = i < record.kills_size() ? record.kills(i).target_container_id() : "";
    const bool replaced = current->id != state.old_container_id() ||
                          current->restart_count > state.old_restart_count();
    if (replaced && current->id != target) ids.push_back(current->id);
  }
  return ids;
}

int64_t StopTimeoutSeconds(int64_t grace_period_seconds, absl::Time started_at, absl::Time now) {
  const int64_t elapsed = std::max<int64_t>(0, absl::ToInt64Seconds(now - started_at));
  return std::max(kMinStopTimeoutSeconds, grace_period_seconds - elapsed);
}

bool MarkHookStarted(::inplaced::internal::RecreateRecord* record, int index, absl::Time now) {
  if (index < 0 || index >= record->kills_size()) return false;
  internal::ContainerKill& kill = *record->mutable_kills(index);
  if (kill.step() != internal::KILL_STEP_QUEUED) return false;
  api::PreStopStatus& pre_stop = *record->mutable_request()
                                      ->mutable_status()
                                      ->mutable_container_states(index)
                                      ->mutable_pre_stop();
  pre_stop.set_outcome(api::PRE_STOP_OUTCOME_RUNNING);
  *pre_stop.mutable_started_at() = ToProtoTime(now);
  kill.set_step(internal::KILL_STEP_PRESTOP_STARTED);
  // The grace period counts from the hook's real start (kubelet), not from the decision.
  *kill.mutable_started_at() = ToProtoTime(now);
  return true;
}

void ApplyPreStopResult(::inplaced::internal::RecreateRecord* record, int index,
                        ::inplaced::v1::PreStopOutcome outcome, absl::string_view message,
                        absl::Time now) {
  if (index < 0 || index >= record->kills_size()) return;
  internal::ContainerKill& kill = *record->mutable_kills(index);
  if (kill.step() != internal::KILL_STEP_PRESTOP_STARTED) return;
  api::ContainerRecreateState& state =
      *record->mutable_request()->mutable_status()->mutable_container_states(index);
  api::PreStopStatus& pre_stop = *state.mutable_pre_stop();
  pre_stop.set_outcome(outcome);
  pre_stop.set_message(std::string(message));
  *pre_stop.mutable_finished_at() = ToProtoTime(now);
  kill.set_step(internal::KILL_STEP_PRESTOP_DONE);
}

std::optional<int64_t> MarkStopSent(::inplaced::internal::RecreateRecord* record, int index,
                                    absl::Time now) {
  if (index < 0 || index >= record->kills_size()) return std::nullopt;
  internal::ContainerKill& kill = *record->mutable_kills(index);
  if (kill.step() == internal::KILL_STEP_QUEUED) {
    // No hook ran: the grace period counts from the stop.
    *kill.mutable_started_at() = ToProtoTime(now);
  } else if (kill.step() != internal::KILL_STEP_PRESTOP_DONE) {
    return std::nullopt;
  }
  const int64_t timeout =
      StopTimeoutSeconds(kill.grace_period_seconds(), FromProtoTime(kill.started_at()), now);
  kill.set_step(internal::KILL_STEP_STOP_SENT);
  *kill.mutable_stop_sent_at() = ToProtoTime(now);
  kill.set_stop_timeout_seconds(timeout);
  api::ContainerRecreateState& state =
      *record->mutable_request()->mutable_status()->mutable_container_states(index);
  *state.mutable_killed_at() = ToProtoTime(now);
  state.set_is_killed(true);
  return timeout;
}

void MarkStopNotSent(::inplaced::internal::RecreateRecord* record, int index) {
  if (index < 0 || index >= record->kills_size()) return;
  internal::ContainerKill& kill = *record->mutable_kills(index);
  if (kill.step() != internal::KILL_STEP_STOP_SENT) return;
  kill.set_step(internal::KILL_STEP_PRESTOP_DONE);
  kill.clear_stop_sent_at();
  kill.set_stop_timeout_seconds(0);
}

void ApplyStopResult(::inplaced::internal::RecreateRecord* record, int index,
                     const absl::Status& status, absl::Time now) {
  if (index < 0 || index >= record->kills_size()) return;
  internal::ContainerKill& kill = *record->mutable_kills(index);
  kill.set_step(internal::KILL_STEP_STOP_DONE);
  api::ContainerRecreateState& state =
      *record->mutable_request()->mutable_status()->mutable_container_states(index);
  state.set_is_killed(true);
  if (!state.has_killed_at()) *state.mutable_killed_at() = ToProtoTime(now);
  if (!status.ok() && !IsTerminal(state)) {
    SetState(&state, api::CONTAINER_RECREATE_PHASE_FAILED,
             absl::StrCat(kKillErrorPrefix, status.message()));
  }
}

std::string BareContainerId(absl::string_view id) {
  const size_t pos = id.find("://");
  if (pos == absl::string_view::npos) return std::string(id);
  return std::string(id.substr(pos + 3));
}

}  // namespace inplaced::daemon

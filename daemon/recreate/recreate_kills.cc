#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/log_safe.h"
#include "common/proto_time.h"
#include "daemon/recreate/recreate_engine.h"
#include "spdlog/spdlog.h"

// The recreate engine's kills: queueing the kills a tick decided on the executor, and running one
// (preStop hook, then StopContainer), each step durable before the side effect it announces.

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;

// The metrics label of a finished hook's outcome.
const char* OutcomeLabel(api::PreStopOutcome outcome) {
  switch (outcome) {
    case api::PRE_STOP_OUTCOME_SUCCEEDED:
      return "succeeded";
    case api::PRE_STOP_OUTCOME_TIMED_OUT:
      return "timed_out";
    default:
      return "failed";
  }
}

}  // namespace

void RecreateEngine::DispatchKillsLocked(const Key& key, Entry& entry,
                                         std::vector<KillAction> kills) {
  for (KillAction& action : kills) {
    const std::string container_name = action.container_name;
    entry.kills_in_flight.insert(container_name);
    // Queued at once: the kill starts once the write holding its step is durable (AwaitKillStep),
    // while this tick goes on with the next requests; Submit never blocks.
    const bool queued = kills_.Submit(
        [this, job = KillJob{key, entry.record.request().metadata().uid(), entry.removed,
                             std::move(action), entry.last_write}] { RunKill(job); });
    // Not queued only once shut down (impossible while this tick holds mu_ with stopping_ false);
    // the persisted step is resumed by the next start.
    if (!queued) entry.kills_in_flight.erase(container_name);
  }
}

void RecreateEngine::RunKill(const KillJob& job) {
  const KillAction& action = job.action;
  const int index = action.container_index;
  const auto finish = [&](Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (entry != nullptr) entry->kills_in_flight.erase(action.container_name);
  };
  // Nothing happens before the decision is durable.
  if (!AwaitKillStep(job, job.decided)) return;
  // Deleted (or shutting down) before the kill started: no new kill after Delete returned, none
  // during a shutdown (the step stays QUEUED: the next daemon starts it whole). Checked without
  // mu_, so that kills start while a tick holds it.
  if (job.removed->load() || shutting_down_.load()) {
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
    return;
  }
  int64_t timeout = 0;
  DurableRef stop_sent;  // null for a final kill (its step is already durable)
  if (action.pre_stop.has_value()) {
    absl::Time started_at;
    DurableRef hook_started;
    {
      absl::MutexLock lock(&mu_);
      Entry* entry = FindJobLocked(job);
      if (entry == nullptr || stopping_) {
        finish(entry);
        return;
      }
      // PRESTOP_STARTED is durable before the hook starts, and only then.
      internal::RecreateRecord record = entry->record;
      if (!MarkHookStarted(&record, index, clock_.Now())) {
        finish(entry);
        return;
      }
      hook_started = CommitLocked(job.key, *entry, std::move(record));
      started_at = FromProtoTime(entry->record.kills(index).started_at());
      absl::MutexLock hooks_lock(&hooks_mu_);
      ++hooks_running_;
    }
    if (!AwaitKillStep(job, hook_started)) {
      absl::MutexLock hooks_lock(&hooks_mu_);
      --hooks_running_;
      return;
    }
    PreStopTarget target;
    target.container_id = action.container_id;
    target.pod_sandbox_id = action.pod_sandbox_id;
    target.ports = action.ports;
    const absl::Time deadline = started_at + absl::Seconds(action.grace_period_seconds);
    spdlog::info("prestop_started ns={} name={} container={} id={} deadline={}", job.key.first,
                 job.key.second, action.container_name, action.container_id,
                 absl::FormatTime(deadline));
    const absl::Time hook_start = clock_.Now();
    const PreStopResult result = prestop_.Run(*action.pre_stop, target, deadline, &hooks_cancel_);
    const absl::Duration hook_duration = clock_.Now() - hook_start;
    // Cancelled only by a shutdown whose hook bound passed: the hook may or may not have done its
    // work, so nothing is recorded; the next start reports it INTERRUPTED.
    const bool interrupted = hooks_cancel_.IsCancelled();
    {
      absl::MutexLock hooks_lock(&hooks_mu_);
      --hooks_running_;
    }
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry == nullptr) {
      finish(entry);
      return;
    }
    if (interrupted) {
      spdlog::warn(
          "prestop_interrupted ns={} name={} container={} id={} reason=\"daemon shutting down; the "
          "hook is reported INTERRUPTED and not run again\"",
          job.key.first, job.key.second, action.container_name, action.container_id);
      finish(entry);
      return;
    }
    spdlog::info("prestop_finished ns={} name={} container={} outcome={} message=\"{}\"",
                 job.key.first, job.key.second, action.container_name,
                 api::PreStopOutcome_Name(result.outcome), LogSafe(result.message));
    metrics_.PreStopFinished(OutcomeLabel(result.outcome), hook_duration);
    internal::RecreateRecord record = entry->record;
    ApplyPreStopResult(&record, index, result.outcome, result.message, clock_.Now());
    // Shutting down: the hook's result is kept, the stop is left to the next daemon (it sends it
    // with the rest of the grace period).
    std::optional<int64_t> stop_timeout;
    if (!stopping_) stop_timeout = MarkStopSent(&record, index, clock_.Now());
    stop_sent = CommitLocked(job.key, *entry, std::move(record));
    if (!stop_timeout.has_value()) {
      finish(entry);
      return;
    }
    timeout = *stop_timeout;
  } else if (action.final_kill) {
    timeout = 0;
  } else {
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry == nullptr || stopping_) {
      finish(entry);
      return;
    }
    // STOP_SENT (with when and which timeout) is durable before the call: it is never sent twice.
    internal::RecreateRecord record = entry->record;
    const std::optional<int64_t> stop_timeout = MarkStopSent(&record, index, clock_.Now());
    if (!stop_timeout.has_value()) {
      finish(entry);
      return;
    }
    stop_sent = CommitLocked(job.key, *entry, std::move(record));
    timeout = *stop_timeout;
  }
  // STOP_SENT is durable before the call.
  if (!AwaitKillStep(job, stop_sent)) return;
  spdlog::info("container_killed ns={} name={} container={} id={} grace={} timeout={}{}",
               job.key.first, job.key.second, action.container_name, action.container_id,
               action.grace_period_seconds, timeout,
               action.final_kill ? " (the stop sent by an earlier daemon timed out)" : "");
  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id(action.container_id);
  stop.set_timeout(timeout);
  // A container removed since the snapshot answers OK: cri::Runtime's Stop is idempotent for absent
  // containers (cri/errors.h absorbs the containerd releases that answer NOT_FOUND), so it counts
  // as stopped like any other.
  if (stops_cancel_.IsCancelled() && !action.final_kill) {
    // The shutdown began between the STOP_SENT commit and the call: it is not sent, so the next
    // daemon sends it (with the rest of the grace) instead of waiting for a stop never received.
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr) {
      internal::RecreateRecord record = entry->record;
      MarkStopNotSent(&record, index);
      CommitLocked(job.key, *entry, std::move(record));
    }
    finish(entry);
    return;
  }
  const absl::Status stopped = runtime_.StopContainerCancellable(stop, &stops_cancel_);
  if (stops_cancel_.IsCancelled()) {
    // Shutting down: the runtime finishes this stop by itself; the next daemon sees STOP_SENT and
    // waits for its timeout (never a second SIGTERM).
    spdlog::info(
        "container_kill_abandoned ns={} name={} container={} id={} (shutting down; the runtime "
        "finishes the stop)",
        job.key.first, job.key.second, action.container_name, action.container_id);
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
    return;
  }
  if (stopped.code() == absl::StatusCode::kUnavailable) {
    // The runtime is down or restarting (the call did not get through): back to PRESTOP_DONE, and
    // the first tick that reaches the runtime again sends the stop if this instance still runs.
    spdlog::warn(
        "container_kill_deferred ns={} name={} container={} id={} error=\"{}\" (retried once the "
        "runtime answers)",
        job.key.first, job.key.second, action.container_name, action.container_id,
        stopped.ToString());
    metrics_.KillFinished("deferred");
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr && !action.final_kill) {
      internal::RecreateRecord record = entry->record;
      MarkStopNotSent(&record, index);
      CommitLocked(job.key, *entry, std::move(record));
    }
    finish(entry);
    return;
  }
  metrics_.KillFinished(stopped.ok() ? "stopped" : "failed");
  if (!stopped.ok()) {
    spdlog::warn("container_kill_failed ns={} name={} container={} id={} error=\"{}\"",
                 job.key.first, job.key.second, action.container_name, action.container_id,
                 stopped.ToString());
  }
  {
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr) {
      internal::RecreateRecord record = entry->record;
      ApplyStopResult(&record, index, stopped, clock_.Now());
      CommitLocked(job.key, *entry, std::move(record));
    }
    finish(entry);
  }
  Wake(kWakeKill);
}

bool RecreateEngine::AwaitKillStep(const KillJob& job, const DurableRef& write) {
  if (write == nullptr) return true;
  // Not bounded: the committer answers every write, at the latest when Shutdown abandons it.
  write->done.WaitForNotification();
  if (write->status.ok()) return true;
  spdlog::warn(
      "container_kill_not_started ns={} name={} container={} id={} (its step was not persisted: "
      "{}; the next daemon resumes from the stored step)",
      job.key.first, job.key.second, job.action.container_name, job.action.container_id,
      write->status.ToString());
  absl::MutexLock lock(&mu_);
  if (Entry* entry = FindJobLocked(job); entry != nullptr) {
    entry->kills_in_flight.erase(job.action.container_name);
  }
  return false;
}

void RecreateEngine::WaitForKills() {
  kills_.WaitIdle();
  committer_.Flush();
}

size_t RecreateEngine::KillsInFlight() { return kills_.Pending(); }

}  // namespace inplaced::daemon

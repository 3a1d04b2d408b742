#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "daemon/recreate/recreate_engine.h"
#include "spdlog/spdlog.h"

// The recreate engine's kills: queueing the kills a tick decided on the executor, and running one
// (preStop hook, then StopContainer) with its outcome persisted.

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
    // Queued at once (its step is persisted): the kill starts while this tick persists the next
    // requests; Submit never blocks.
    const bool queued =
        kills_.Submit([this, job = KillJob{key, entry.record.request().metadata().uid(),
                                           entry.removed, std::move(action)}] { RunKill(job); });
    // Not queued only once shut down (impossible while this tick holds mu_ with stopping_ false);
    // the persisted step is resumed by the next start.
    if (!queued) entry.kills_in_flight.erase(container_name);
  }
}

void RecreateEngine::RunKill(const KillJob& job) {
  const KillAction& action = job.action;
  const auto finish = [&](Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (entry != nullptr) entry->kills_in_flight.erase(action.container_name);
  };
  // Deleted (or shutting down) before the kill started: no new kill after Delete returned. Checked
  // without mu_, so that kills start while a tick holds it.
  if (job.removed->load() || shutting_down_.load()) {
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
    return;
  }
  if (action.pre_stop.has_value()) {
    PreStopTarget target;
    target.container_id = action.container_id;
    target.pod_sandbox_id = action.pod_sandbox_id;
    target.ports = action.ports;
    const absl::Time deadline = action.started_at + absl::Seconds(action.grace_period_seconds);
    spdlog::info("prestop_started ns={} name={} container={} id={} deadline={}", job.key.first,
                 job.key.second, action.container_name, action.container_id,
                 absl::FormatTime(deadline));
    const absl::Time hook_start = clock_.Now();
    const PreStopResult result = prestop_.Run(*action.pre_stop, target, deadline, &hooks_cancel_);
    const absl::Duration hook_duration = clock_.Now() - hook_start;
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry == nullptr || stopping_) {
      // Deleted: no StopContainer. Shutting down: the kill step stays PRESTOP_STARTED, so the next
      // start records the hook as skipped and stops the container.
      finish(entry);
      return;
    }
    spdlog::info("prestop_finished ns={} name={} container={} outcome={} message=\"{}\"",
                 job.key.first, job.key.second, action.container_name,
                 api::PreStopOutcome_Name(result.outcome), result.message);
    metrics_.PreStopFinished(OutcomeLabel(result.outcome), hook_duration);
    internal::RecreateRecord record = entry->record;
    ApplyPreStopResult(&record, action.container_index, result.outcome, result.message,
                       clock_.Now());
    const absl::Status committed = CommitLocked(job.key, *entry, std::move(record));
    if (!committed.ok()) {
      // Not persisted: never send a StopContainer the record does not announce. The next tick
      // resumes the kill (the hook counts as skipped).
      spdlog::error("recreate_persist_failed ns={} name={} error=\"{}\"", job.key.first,
                    job.key.second, committed.ToString());
      finish(entry);
      return;
    }
  }
  const int64_t timeout =
      StopTimeoutSeconds(action.grace_period_seconds, action.started_at, clock_.Now());
  spdlog::info("container_killed ns={} name={} container={} id={} grace={} timeout={}",
               job.key.first, job.key.second, action.container_name, action.container_id,
               action.grace_period_seconds, timeout);
  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id(action.container_id);
  stop.set_timeout(timeout);
  // A container removed since the snapshot answers OK: cri::Runtime's Stop is idempotent for absent
  // containers (cri/errors.h absorbs the containerd releases that answer NOT_FOUND), so it counts
  // as stopped like any other.
  const absl::Status stopped = runtime_.StopContainer(stop);
  if (stopped.code() == absl::StatusCode::kUnavailable) {
    // The runtime is down or restarting: the step stays STOP_SENT, and the first tick that reaches
    // the runtime again re-sends the stop if this instance still runs (ResumeInterruptedKill).
    spdlog::warn(
        "container_kill_deferred ns={} name={} container={} id={} error=\"{}\" (retried once the "
        "runtime answers)",
        job.key.first, job.key.second, action.container_name, action.container_id,
        stopped.ToString());
    metrics_.KillFinished("deferred");
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
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
      ApplyStopResult(&record, action.container_index, stopped, clock_.Now());
      const absl::Status committed = CommitLocked(job.key, *entry, std::move(record));
      if (!committed.ok()) {
        spdlog::error("recreate_persist_failed ns={} name={} error=\"{}\"", job.key.first,
                      job.key.second, committed.ToString());
      }
    }
    finish(entry);
  }
  Wake(kWakeKill);
}

void RecreateEngine::WaitForKills() { kills_.WaitIdle(); }

size_t RecreateEngine::KillsInFlight() { return kills_.Pending(); }

}  // namespace inplaced::daemon

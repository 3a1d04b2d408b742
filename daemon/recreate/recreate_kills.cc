#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/log_safe.h"
#include "common/proto_time.h"
#include "daemon/recreate/recreate_engine.h"
#include "spdlog/spdlog.h"

// The recreate engine's kills: queueing the kills a tick decided (FIFO, max_concurrent_kills at a
// time), and running one as a chain of continuations (preStop hook, then StopContainer), each step
// durable before the side effect it announces. No continuation blocks or runs under mu_: each takes
// it briefly, then starts the next asynchronous step (a write's durability, the hook, the stop).

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

struct RecreateEngine::KillRun {
  KillJob job;
  // StopContainer's timeout.
  int64_t timeout = 0;
  // PRESTOP_STARTED's recorded time: the hook's deadline counts from it.
  absl::Time hook_started_at;
  // When the hook was started (its duration's metric).
  absl::Time hook_start;
};

std::vector<std::optional<int64_t>> RecreateEngine::MarkImmediateStopsLocked(
    internal::RecreateRecord* record, const std::vector<KillAction>& kills, absl::Time now) {
  std::vector<std::optional<int64_t>> stop_timeouts(kills.size());
  const size_t limit = static_cast<size_t>(KillLimit());
  for (size_t i = 0; i < kills.size() && !stopping_; ++i) {
    // Every kill queued before this one takes a slot first (TakeStartableKillsLocked is FIFO).
    const size_t slot = static_cast<size_t>(kills_running_) + kill_fifo_.size() + i;
    if (slot >= limit) break;
    if (kills[i].pre_stop.has_value() || kills[i].final_kill) continue;
    // Decided and sent in one durable step: STOP_SENT is still durable before the call (the
    // decision's write holds it), and the stop goes out as soon as that write is, one fsync after
    // the decision instead of two.
    stop_timeouts[i] = MarkStopSent(record, kills[i].container_index, now);
  }
  return stop_timeouts;
}

void RecreateEngine::DispatchKillsLocked(const Key& key, Entry& entry,
                                         std::vector<KillAction> kills,
                                         std::vector<std::optional<int64_t>> stop_timeouts) {
  for (size_t i = 0; i < kills.size(); ++i) {
    entry.kills_in_flight.insert(kills[i].container_name);
    // Started by the caller once mu_ is released (TakeStartableKillsLocked, StartKills): a kill
    // waits for the write holding its step, while this tick goes on with the next requests.
    kill_fifo_.push_back(KillJob{key, entry.record.request().metadata().uid(), entry.removed,
                                 std::move(kills[i]), entry.last_write, stop_timeouts[i]});
  }
}

std::vector<RecreateEngine::KillJob> RecreateEngine::TakeStartableKillsLocked() {
  std::vector<KillJob> start;
  const int limit = KillLimit();
  while (!stopping_ && !kill_fifo_.empty() && kills_running_ < limit) {
    start.push_back(std::move(kill_fifo_.front()));
    kill_fifo_.pop_front();
    ++kills_running_;
  }
  if (kill_fifo_.empty()) {
    kill_limit_logged_ = false;
  } else if (!stopping_ && !kill_limit_logged_) {
    kill_limit_logged_ = true;
    spdlog::warn("recreate_kill_limit_reached limit={} queued={}", limit, kill_fifo_.size());
  }
  return start;
}

void RecreateEngine::StartKills(std::vector<KillJob> jobs) {
  for (KillJob& job : jobs) {
    auto run = std::make_shared<KillRun>();
    run->job = std::move(job);
    // Nothing happens before the decision is durable.
    store::WhenDurable(run->job.decided,
                       [this, run](const absl::Status& durable) { OnKillDecided(run, durable); });
  }
}

void RecreateEngine::OnKillDecided(const KillRunRef& run, const absl::Status& durable) {
  if (!KillStepDurable(run, durable)) return;
  const KillJob& job = run->job;
  const KillAction& action = job.action;
  const int index = action.container_index;
  // Deleted before the kill started: no new kill after Delete returned.
  if (job.removed->load()) {
    AbandonKill(run);
    return;
  }
  if (job.stop_timeout.has_value()) {
    // STOP_SENT is durable with the decision (shutting down, OnStopSentDurable takes it back).
    run->timeout = *job.stop_timeout;
    OnStopSentDurable(run, absl::OkStatus());
    return;
  }
  // Shutting down: no new kill (the step stays QUEUED: the next daemon starts it whole).
  if (shutting_down_.load()) {
    AbandonKill(run);
    return;
  }
  if (action.pre_stop.has_value()) {
    DurableRef hook_started;
    {
      absl::MutexLock lock(&mu_);
      Entry* entry = FindJobLocked(job);
      if (entry == nullptr || stopping_) {
        if (entry != nullptr) entry->kills_in_flight.erase(action.container_name);
        hook_started = nullptr;
      } else {
        // PRESTOP_STARTED is durable before the hook starts, and only then.
        internal::RecreateRecord record = entry->record;
        if (MarkHookStarted(&record, index, clock_.Now())) {
          hook_started = CommitLocked(job.key, *entry, std::move(record));
          run->hook_started_at = FromProtoTime(entry->record.kills(index).started_at());
          absl::MutexLock hooks_lock(&hooks_mu_);
          ++hooks_running_;
        } else {
          entry->kills_in_flight.erase(action.container_name);
        }
      }
    }
    if (hook_started == nullptr) {
      EndKill();
      return;
    }
    store::WhenDurable(hook_started,
                       [this, run](const absl::Status& done) { OnHookStartedDurable(run, done); });
    return;
  }
  if (action.final_kill) {
    // Its step is already durable: StopContainer(timeout=0) at once.
    run->timeout = 0;
    OnStopSentDurable(run, absl::OkStatus());
    return;
  }
  DurableRef stop_sent;
  {
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr && !stopping_) {
      // STOP_SENT (with when and which timeout) is durable before the call: it is never sent twice.
      internal::RecreateRecord record = entry->record;
      const std::optional<int64_t> stop_timeout = MarkStopSent(&record, index, clock_.Now());
      if (stop_timeout.has_value()) {
        stop_sent = CommitLocked(job.key, *entry, std::move(record));
        run->timeout = *stop_timeout;
      }
    }
    if (stop_sent == nullptr && entry != nullptr) {
      entry->kills_in_flight.erase(action.container_name);
    }
  }
  StopOnceDurable(run, std::move(stop_sent));
}

void RecreateEngine::OnHookStartedDurable(const KillRunRef& run, const absl::Status& durable) {
  if (!durable.ok()) {
    {
      absl::MutexLock hooks_lock(&hooks_mu_);
      --hooks_running_;
    }
    KillStepDurable(run, durable);
    return;
  }
  const KillJob& job = run->job;
  const KillAction& action = job.action;
  PreStopTarget target;
  target.container_id = action.container_id;
  target.pod_sandbox_id = action.pod_sandbox_id;
  target.ports = action.ports;
  const absl::Time deadline = run->hook_started_at + absl::Seconds(action.grace_period_seconds);
  spdlog::info("prestop_started ns={} name={} container={} id={} deadline={}", job.key.first,
               job.key.second, action.container_name, action.container_id,
               absl::FormatTime(deadline));
  run->hook_start = clock_.Now();
  prestop_.Start(*action.pre_stop, target, deadline, &hooks_cancel_,
                 [this, run](PreStopResult result) { OnHookDone(run, result); });
}

void RecreateEngine::OnHookDone(const KillRunRef& run, const PreStopResult& result) {
  const KillJob& job = run->job;
  const KillAction& action = job.action;
  const int index = action.container_index;
  const absl::Duration hook_duration = clock_.Now() - run->hook_start;
  // Cancelled only by a shutdown whose hook bound passed: the hook may or may not have done its
  // work, so nothing is recorded; the next start reports it INTERRUPTED.
  const bool interrupted = hooks_cancel_.IsCancelled();
  {
    absl::MutexLock hooks_lock(&hooks_mu_);
    --hooks_running_;
  }
  DurableRef stop_sent;
  {
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr && interrupted) {
      spdlog::warn(
          "prestop_interrupted ns={} name={} container={} id={} reason=\"daemon shutting down; the "
          "hook is reported INTERRUPTED and not run again\"",
          job.key.first, job.key.second, action.container_name, action.container_id);
    } else if (entry != nullptr) {
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
      DurableRef written = CommitLocked(job.key, *entry, std::move(record));
      if (stop_timeout.has_value()) {
        stop_sent = std::move(written);
        run->timeout = *stop_timeout;
      }
    }
    if (stop_sent == nullptr && entry != nullptr) {
      entry->kills_in_flight.erase(action.container_name);
    }
  }
  StopOnceDurable(run, std::move(stop_sent));
}

void RecreateEngine::StopOnceDurable(const KillRunRef& run, DurableRef stop_sent) {
  if (stop_sent == nullptr) {
    EndKill();
    return;
  }
  store::WhenDurable(stop_sent,
                     [this, run](const absl::Status& done) { OnStopSentDurable(run, done); });
}

void RecreateEngine::OnStopSentDurable(const KillRunRef& run, const absl::Status& durable) {
  // STOP_SENT is durable before the call.
  if (!KillStepDurable(run, durable)) return;
  const KillJob& job = run->job;
  const KillAction& action = job.action;
  spdlog::info("container_killed ns={} name={} container={} id={} grace={} timeout={}{}",
               job.key.first, job.key.second, action.container_name, action.container_id,
               action.grace_period_seconds, run->timeout,
               action.final_kill ? " (the stop sent by an earlier daemon timed out)" : "");
  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id(action.container_id);
  stop.set_timeout(run->timeout);
  // A container removed since the snapshot answers OK: cri::Runtime's Stop is idempotent for absent
  // containers (cri/errors.h absorbs the containerd releases that answer NOT_FOUND), so it counts
  // as stopped like any other.
  if (shutting_down_.load() && !action.final_kill) {
    // The shutdown began between the STOP_SENT commit and the call (stops_cancel_ fires after
    // shutting_down_ is set): it is not sent, so the next daemon sends it (with the rest of the
    // grace) instead of waiting for a stop never received.
    {
      absl::MutexLock lock(&mu_);
      Entry* entry = FindJobLocked(job);
      if (entry != nullptr) {
        internal::RecreateRecord record = entry->record;
        MarkStopNotSent(&record, action.container_index);
        CommitLocked(job.key, *entry, std::move(record));
        entry->kills_in_flight.erase(action.container_name);
      }
    }
    EndKill();
    return;
  }
  // No thread waits for the grace period: the runtime calls back (stops_cancel_ abandons the wait
  // at shutdown; the runtime finishes the stop).
  runtime_.StopContainerAsync(stop, &stops_cancel_,
                              [this, run](absl::Status stopped) { OnStopDone(run, stopped); });
}

void RecreateEngine::OnStopDone(const KillRunRef& run, const absl::Status& stopped) {
  const KillJob& job = run->job;
  const KillAction& action = job.action;
  if (stops_cancel_.IsCancelled()) {
    // Shutting down: the runtime finishes this stop by itself; the next daemon sees STOP_SENT and
    // waits for its timeout (never a second SIGTERM).
    spdlog::info(
        "container_kill_abandoned ns={} name={} container={} id={} (shutting down; the runtime "
        "finishes the stop)",
        job.key.first, job.key.second, action.container_name, action.container_id);
    AbandonKill(run);
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
    {
      absl::MutexLock lock(&mu_);
      Entry* entry = FindJobLocked(job);
      if (entry != nullptr && !action.final_kill) {
        internal::RecreateRecord record = entry->record;
        MarkStopNotSent(&record, action.container_index);
        CommitLocked(job.key, *entry, std::move(record));
      }
      if (entry != nullptr) entry->kills_in_flight.erase(action.container_name);
    }
    EndKill();
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
      CommitLocked(job.key, *entry, std::move(record));
      entry->kills_in_flight.erase(action.container_name);
    }
  }
  Wake(kWakeKill);
  EndKill();
}

bool RecreateEngine::KillStepDurable(const KillRunRef& run, const absl::Status& durable) {
  if (durable.ok()) return true;
  const KillJob& job = run->job;
  spdlog::warn(
      "container_kill_not_started ns={} name={} container={} id={} (its step was not persisted: "
      "{}; the next daemon resumes from the stored step)",
      job.key.first, job.key.second, job.action.container_name, job.action.container_id,
      durable.ToString());
  AbandonKill(run);
  return false;
}

void RecreateEngine::AbandonKill(const KillRunRef& run) {
  {
    absl::MutexLock lock(&mu_);
    if (Entry* entry = FindJobLocked(run->job); entry != nullptr) {
      entry->kills_in_flight.erase(run->job.action.container_name);
    }
  }
  EndKill();
}

void RecreateEngine::EndKill() {
  std::vector<KillJob> start;
  {
    absl::MutexLock lock(&mu_);
    --kills_running_;
    start = TakeStartableKillsLocked();
  }
  // Once the last kill of a shutdown has released mu_, Shutdown may return and the engine be
  // destroyed: nothing may touch it then, not even a member call (UBSan's vptr check reads the
  // object). `start` is always empty then (no kill starts while stopping).
  if (!start.empty()) StartKills(std::move(start));
}

void RecreateEngine::WaitForKills() {
  {
    absl::MutexLock lock(&mu_);
    const auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return kill_fifo_.empty() && kills_running_ == 0;
    };
    mu_.Await(absl::Condition(&idle));
  }
  committer_.Flush();
}

size_t RecreateEngine::KillsInFlight() {
  absl::MutexLock lock(&mu_);
  return kill_fifo_.size() + static_cast<size_t>(kills_running_);
}

}  // namespace inplaced::daemon

#include "daemon/recreate/recreate_engine.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/log_safe.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "cri/snapshot.h"
#include "daemon/prestop/kubelet_handler.h"
#include "spdlog/spdlog.h"

// The engine's core: loading, the tick loop, persistence and the per-pod queues. The API methods
// are in recreate_engine_api.cc, the kills in recreate_kills.cc.

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;

// Creates reading their own pod at once (CreateAsync), and so the bound on the List calls a burst
// has in flight at the runtime (two each). A worker holds only the read: the answer waits for
// durability without a thread. More workers do not read faster on a small node; they lengthen the
// runtime's queue of runnable threads, where the StopContainer calls already sent wait too (200
// Creates at once on 2 cores: dispatch p99 <= 5 ms in 22 of 28 bursts, against 15 of 28 with 32
// workers that also waited for durability).
constexpr int kAcceptanceWorkers = 8;

// The containers whose new instance `after` shows running for the first time (restarted_at set).
std::vector<int> NewlyRestarted(const internal::RecreateRecord& before,
                                const internal::RecreateRecord& after) {
  const api::RecreateStatus& was = before.request().status();
  const api::RecreateStatus& is = after.request().status();
  std::vector<int> indexes;
  for (int i = 0; i < is.container_states_size(); ++i) {
    if (!is.container_states(i).has_restarted_at()) continue;
    if (i < was.container_states_size() && was.container_states(i).has_restarted_at()) continue;
    indexes.push_back(i);
  }
  return indexes;
}

// Logs those containers with what woke the tick and how long after the instance's start it was
// seen, and reports the delay to `metrics` by source ("event" when a runtime event woke the tick).
void LogObservedRestarts(const std::pair<std::string, std::string>& key,
                         const internal::RecreateRecord& record, const std::vector<int>& indexes,
                         const std::string& via, bool by_event, absl::Time now, Metrics& metrics) {
  for (const int i : indexes) {
    const api::ContainerRecreateState& state = record.request().status().container_states(i);
    const absl::Duration delay = now - FromProtoTime(state.restarted_at());
    spdlog::info(
        "container_restart_observed ns={} name={} container={} new_id={} via={} delay_ms={}",
        key.first, key.second, state.name(), state.new_container_id(), via,
        absl::ToInt64Milliseconds(delay));
    metrics.RestartObserved(by_event ? "event" : "poll", delay);
  }
}

// "succeeded" when every container's recreate succeeded, else "failed".
const char* CompletionResult(const api::RecreateStatus& status) {
  for (const api::ContainerRecreateState& state : status.container_states()) {
    if (state.phase() != api::CONTAINER_RECREATE_PHASE_SUCCEEDED) return "failed";
  }
  return "succeeded";
}

std::string PodKey(const api::RecreateRequest& request) {
  return absl::StrCat(request.metadata().namespace_(), "/", request.spec().pod_name());
}

// Whether the request waits on something only a poll sees quickly: a container killed (or being
// killed) whose new instance has not been seen running. Waits that end at a known time
// (min_started_seconds, the unready window, deadlines) are timers (StepResult::wake_at), and
// readiness reports and acknowledgements wake the loop themselves.
bool AwaitsKillOrRestart(const internal::RecreateRecord& record) {
  if (record.request().status().phase() != api::RECREATE_PHASE_RECREATING) return false;
  for (const api::ContainerRecreateState& state : record.request().status().container_states()) {
    if (state.phase() == api::CONTAINER_RECREATE_PHASE_RECREATING && !state.has_restarted_at()) {
      return true;
    }
  }
  return false;
}

// Whether the request's next change may come from the node before its timer, so that the loop
// reads the node every slow poll for it. Not for a completed request, one queued behind the head of
// its pod (it starts in the tick that completes the head), nor one whose every container is done or
// runs the new instance it was seen restarted as (what is left is min_started_seconds, a timer, or
// a readiness report, a call): a crash meanwhile is judged the same when the timer comes, since
// Succeeded needs the instance running then to have run long enough.
bool WatchesTheNode(const internal::RecreateRecord& record, const std::string& blocked_by,
                    const cri::PodInfo* pod) {
  const api::RecreateStatus& status = record.request().status();
  if (IsCompleted(record) || !blocked_by.empty()) return false;
  if (status.phase() != api::RECREATE_PHASE_RECREATING || pod == nullptr) return true;
  for (const api::ContainerRecreateState& state : status.container_states()) {
    if (state.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED ||
        state.phase() == api::CONTAINER_RECREATE_PHASE_FAILED) {
      continue;
    }
    const cri::ContainerInfo* current = pod->CurrentContainer(state.name());
    const bool new_instance_runs = state.has_restarted_at() && current != nullptr &&
                                   current->id == state.new_container_id() &&
                                   current->state == cri::criv1::CONTAINER_RUNNING;
    if (!new_instance_runs) return true;
  }
  return false;
}

const char* PhaseName(api::RecreatePhase phase) {
  switch (phase) {
    case api::RECREATE_PHASE_PENDING:
      return "pending";
    case api::RECREATE_PHASE_RECREATING:
      return "recreating";
    case api::RECREATE_PHASE_COMPLETED:
      return "completed";
    default:
      return "unspecified";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecreateEngine>> RecreateEngine::Create(
    cri::Runtime& runtime, Clock& clock, store::Store& store, PreStopRunner& prestop, WatchHub& hub,
    RecreateEngineOptions options) {
  std::unique_ptr<RecreateEngine> engine(
      new RecreateEngine(runtime, clock, store, prestop, hub, options));
  RETURN_IF_ERROR(engine->Load());
  return engine;
}

RecreateEngine::RecreateEngine(cri::Runtime& runtime, Clock& clock, store::Store& store,
                               PreStopRunner& prestop, WatchHub& hub, RecreateEngineOptions options)
    : runtime_(runtime),
      clock_(clock),
      store_(store),
      prestop_(prestop),
      hub_(hub),
      options_(options),
      metrics_(options.metrics != nullptr ? *options.metrics : NoMetrics()),
      parse_pre_stop_([](absl::string_view json) { return ParseKubeletPreStopHandler(json); }),
      acceptance_workers_(kAcceptanceWorkers),
      committer_(store),
      loop_(clock, [this](uint32_t wake_reasons) { return LoopTick(wake_reasons); }) {
  if (options_.use_event_stream) {
    ContainerEvents::Callbacks callbacks;
    callbacks.on_event = [this] { Wake(kWakeEvent); };
    callbacks.on_resubscribed = [this] { Wake(kWakeResubscribed); };
    callbacks.on_state = [this](absl::string_view state) { metrics_.EventStreamState(state); };
    events_ = std::make_unique<ContainerEvents>(runtime, clock, std::move(callbacks));
    metrics_.EventStreamState("connecting");
  } else {
    metrics_.EventStreamState("disabled");
  }
}

RecreateEngine::~RecreateEngine() { Shutdown(); }

// "poll" when nothing woke the loop, else the reasons joined with '+', e.g. "event+kill".
std::string RecreateEngine::WakeReasonsName(uint32_t reasons) {
  if (reasons == 0) return "poll";
  std::string name;
  for (const auto& [bit, label] : {std::pair<uint32_t, const char*>{kWakeEvent, "event"},
                                   {kWakeResubscribed, "resubscribed"},
                                   {kWakeKill, "kill"},
                                   {kWakeRequest, "request"}}) {
    if ((reasons & bit) == 0) continue;
    if (!name.empty()) name += '+';
    name += label;
  }
  return name;
}

std::string RecreateEngine::StoreKey(const Key& key) {
  return absl::StrCat(key.first, "/", key.second);
}

absl::Status RecreateEngine::Load() {
  ASSIGN_OR_RETURN(std::vector<store::Record> records, store_.ListAll(kRecreateStoreKind));
  ASSIGN_OR_RETURN(const int64_t store_revision, store_.CurrentRevision());
  absl::MutexLock lock(&mu_);
  // Above every resource_version handed out before: the store's revision grows with each write,
  // and each record carries its own.
  last_resource_version_ = static_cast<uint64_t>(store_revision);
  int resumed = 0;
  for (const store::Record& stored : records) {
    Entry entry;
    if (!entry.record.ParseFromString(stored.value) || !entry.record.request().has_metadata()) {
      spdlog::error("recreate_record_unreadable key={} revision={}", stored.key, stored.revision);
      continue;
    }
    api::RecreateMetadata& metadata = *entry.record.mutable_request()->mutable_metadata();
    metadata.set_resource_version(
        std::max(metadata.resource_version(), static_cast<uint64_t>(stored.revision)));
    last_resource_version_ = std::max(last_resource_version_, metadata.resource_version());
    for (const internal::ContainerKill& kill : entry.record.kills()) {
      if (kill.step() == internal::KILL_STEP_NONE || kill.step() == internal::KILL_STEP_STOP_DONE)
        continue;
      ++resumed;
      spdlog::info("recreate_kill_resumed key={} container_id={} step={}", stored.key,
                   kill.target_container_id(), internal::KillStep_Name(kill.step()));
    }
    next_sequence_ = std::max(next_sequence_, entry.record.sequence() + 1);
    const Key key{entry.record.request().metadata().namespace_(),
                  entry.record.request().metadata().name()};
    InsertLocked(key, std::move(entry));
  }
  spdlog::info("recreate_state_loaded requests={} open={} interrupted_kills={}", requests_.size(),
               open_requests_, resumed);
  return absl::OkStatus();
}

void RecreateEngine::InsertLocked(const Key& key, Entry entry) {
  const uint64_t sequence = entry.record.sequence();
  const bool open = !IsCompleted(entry.record);
  const std::string pod = PodKey(entry.record.request());
  requests_[key] = std::move(entry);
  by_sequence_[sequence] = key;
  if (open) {
    pod_queues_[pod][sequence] = key;
    ++open_requests_;
  }
}

void RecreateEngine::Dequeue(const Key& key, const Entry& entry) {
  const std::string pod = PodKey(entry.record.request());
  auto queue = pod_queues_.find(pod);
  if (queue == pod_queues_.end()) return;
  if (queue->second.erase(entry.record.sequence()) > 0) --open_requests_;
  if (queue->second.empty()) pod_queues_.erase(queue);
}

std::string RecreateEngine::BlockedByLocked(const Key& key, const Entry& entry) {
  auto queue = pod_queues_.find(PodKey(entry.record.request()));
  if (queue == pod_queues_.end() || queue->second.empty()) return "";
  const Key& head = queue->second.begin()->second;
  return head == key ? "" : head.second;
}

void RecreateEngine::Start() {
  loop_.Start();
  if (events_ != nullptr) events_->Start();
}

void RecreateEngine::Shutdown() {
  absl::MutexLock shutdown_lock(&shutdown_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // Kills waiting for a slot never start: they stay QUEUED, the next daemon starts them whole.
    for (const KillJob& job : kill_fifo_) {
      if (Entry* entry = FindJobLocked(job); entry != nullptr) {
        entry->kills_in_flight.erase(job.action.container_name);
      }
    }
    kill_fifo_.clear();
  }
  shutting_down_ = true;
  if (events_ != nullptr) events_->Shutdown();
  loop_.Shutdown();
  // In-flight stops are abandoned at once; running hooks get their bound (real time: this is the
  // daemon's own deadline, e.g. within a DaemonSet's termination grace).
  stops_cancel_.Cancel();
  int unfinished = 0;
  {
    absl::MutexLock lock(&hooks_mu_);
    const auto none_running = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(hooks_mu_) {
      return hooks_running_ == 0;
    };
    if (hooks_running_ > 0) {
      spdlog::info("recreate_shutdown_waiting_for_hooks running={} bound_ms={}", hooks_running_,
                   absl::ToInt64Milliseconds(options_.shutdown_hook_timeout));
    }
    hooks_mu_.AwaitWithTimeout(absl::Condition(&none_running), options_.shutdown_hook_timeout);
    unfinished = hooks_running_;
  }
  if (unfinished > 0) {
    spdlog::warn("recreate_shutdown_hooks_cancelled count={} (reported INTERRUPTED on restart)",
                 unfinished);
  }
  hooks_cancel_.Cancel();
  // Every kill chain ends soon now: hooks and stops are cancelled, no new step starts. Their last
  // steps are queued on the committer while it still writes; bounded, since a chain may wait for a
  // write a failing store holds back (the committer's shutdown answers it).
  const auto no_kill_running = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return kills_running_ == 0;
  };
  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&no_kill_running), options_.store_write_timeout);
  }
  committer_.Shutdown(options_.store_write_timeout);
  // Creates still queued answer UNAVAILABLE (not accepting); running ones end with their read.
  // Every accepted Create was answered by the committer by now (durable or abandoned): the bounds
  // left on the timers have nothing to answer.
  acceptance_workers_.Shutdown();
  answer_timers_.Shutdown();
  {
    // Every write is answered now and every call cancelled: the continuations still running end
    // at once; none may touch the engine after Shutdown returns.
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&no_kill_running));
  }
  spdlog::info("recreate_engine_stopped");
}

absl::Duration RecreateEngine::LoopTick(uint32_t wake_reasons) {
  const absl::Status status = Tick(wake_reasons);
  const std::string error = status.ok() ? "" : status.ToString();
  if (!error.empty() && error != last_tick_error_) {
    // Logged once per distinct error: a runtime that is down would otherwise flood the log.
    spdlog::warn("recreate_tick_failed error=\"{}\"", error);
  }
  last_tick_error_ = error;
  absl::MutexLock lock(&mu_);
  pulse_open_requests_ = open_requests_;
  return PollIntervalLocked();
}

absl::Duration RecreateEngine::PollInterval() {
  absl::MutexLock lock(&mu_);
  return PollIntervalLocked();
}

absl::Duration RecreateEngine::PollIntervalLocked() {
  absl::Duration interval = fast_poll_      ? options_.fast_poll
                            : watches_node_ ? options_.slow_poll
                                            : options_.resync_poll;
  // A timed wait (unready window, min_started_seconds, deadline, TTL) ending sooner is not
  // overslept by up to a poll.
  if (next_wake_.has_value()) {
    interval = std::min(interval, std::max(absl::ZeroDuration(), *next_wake_ - clock_.Now()));
  }
  return interval;
}

RecreateEngine::Pulse RecreateEngine::LastPulse() const {
  Pulse pulse;
  pulse.last_tick = last_tick();
  pulse.open_requests = pulse_open_requests_;
  return pulse;
}

RecreateEngine::Stats RecreateEngine::GetStats() {
  absl::MutexLock lock(&mu_);
  Stats stats;
  stats.advances = advances_;
  for (const auto& [key, entry] : requests_) {
    const api::RecreateRequest& request = entry.record.request();
    switch (request.status().phase()) {
      case api::RECREATE_PHASE_RECREATING:
        ++stats.recreating;
        break;
      case api::RECREATE_PHASE_COMPLETED:
        ++stats.completed;
        break;
      default:  // PENDING (and a record not advanced yet)
        ++stats.pending;
        stats.oldest_pending_created = std::min(stats.oldest_pending_created,
                                                FromProtoTime(request.metadata().creation_time()));
        break;
    }
  }
  return stats;
}

absl::Status RecreateEngine::CheckAcceptingLocked() {
  if (stopping_) return absl::UnavailableError("inplaced is shutting down");
  return absl::OkStatus();
}

RecreateEngine::Entry* RecreateEngine::FindLocked(const Key& key) {
  auto it = requests_.find(key);
  return it == requests_.end() ? nullptr : &it->second;
}

RecreateEngine::Entry* RecreateEngine::FindJobLocked(const KillJob& job) {
  Entry* entry = FindLocked(job.key);
  if (entry == nullptr || entry->record.request().metadata().uid() != job.uid) return nullptr;
  return entry;
}

RecreateEngine::DurableRef RecreateEngine::CommitLocked(const Key& key, Entry& entry,
                                                        internal::RecreateRecord record) {
  record.mutable_request()->mutable_metadata()->set_resource_version(NextResourceVersionLocked());
  entry.last_write = QueueWriteLocked(
      store::Write::Update(kRecreateStoreKind, StoreKey(key), record.SerializeAsString()));
  const api::RecreateStatus& before = entry.record.request().status();
  const api::RecreateRequest& request = record.request();
  const api::RecreatePhase old_phase = before.phase();
  const api::RecreatePhase new_phase = request.status().phase();
  for (int i = 0;
       i < request.status().container_states_size() && i < before.container_states_size(); ++i) {
    const api::ContainerRecreateState& was = before.container_states(i);
    const api::ContainerRecreateState& now = request.status().container_states(i);
    if (now.pre_stop().outcome() == api::PRE_STOP_OUTCOME_INTERRUPTED &&
        was.pre_stop().outcome() != api::PRE_STOP_OUTCOME_INTERRUPTED) {
      // Never silent: the hook may have run only partly, and it is not run again.
      spdlog::warn(
          "prestop_interrupted ns={} name={} container={} id={} started_at={} message=\"{}\"",
          key.first, key.second, now.name(), record.kills(i).target_container_id(),
          absl::FormatTime(FromProtoTime(now.pre_stop().started_at())), now.pre_stop().message());
    }
    if (was.phase() != now.phase() && (now.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED ||
                                       now.phase() == api::CONTAINER_RECREATE_PHASE_FAILED)) {
      spdlog::info("container_recreate_{} ns={} name={} container={} new_id={} message=\"{}\"",
                   now.phase() == api::CONTAINER_RECREATE_PHASE_SUCCEEDED ? "succeeded" : "failed",
                   key.first, key.second, now.name(), now.new_container_id(),
                   LogSafe(now.message()));
    }
  }
  if (old_phase != new_phase) {
    if (new_phase == api::RECREATE_PHASE_RECREATING) {
      spdlog::info("recreate_started ns={} name={} pod={} pod_uid={}", key.first, key.second,
                   LogSafe(request.spec().pod_name()), LogSafe(request.status().pod_uid()));
    } else {
      spdlog::info("recreate_{} ns={} name={} pod={} message=\"{}\"", PhaseName(new_phase),
                   key.first, key.second, LogSafe(request.spec().pod_name()),
                   LogSafe(request.status().message()));
    }
  }
  if (new_phase == api::RECREATE_PHASE_COMPLETED && old_phase != api::RECREATE_PHASE_COMPLETED) {
    Dequeue(key, entry);
    metrics_.RecreateCompleted(CompletionResult(request.status()),
                               FromProtoTime(request.status().completion_time()) -
                                   FromProtoTime(request.metadata().creation_time()));
  }
  entry.record = std::move(record);
  entry.unchanged.reset();
  hub_.Publish(api::WATCH_EVENT_TYPE_MODIFIED, entry.record.request());
  return entry.last_write;
}

RecreateEngine::DurableRef RecreateEngine::RemoveLocked(const Key& key, absl::string_view reason) {
  auto it = requests_.find(key);
  if (it == requests_.end()) return nullptr;
  DurableRef write = QueueWriteLocked(store::Write::Delete(kRecreateStoreKind, StoreKey(key)));
  Entry& entry = it->second;
  entry.removed->store(true);
  if (!IsCompleted(entry.record)) Dequeue(key, entry);
  by_sequence_.erase(entry.record.sequence());
  spdlog::info("recreate_deleted ns={} name={} reason={}", key.first, key.second,
               std::string(reason));
  hub_.Publish(api::WATCH_EVENT_TYPE_DELETED, entry.record.request());
  requests_.erase(it);
  return write;
}

RecreateEngine::DurableRef RecreateEngine::QueueWriteLocked(store::Write write) {
  return store::SubmitDurable(committer_, std::move(write), "recreate_persist_failed");
}

StepResult RecreateEngine::AdvanceLocked(const Entry& entry, const cri::NodeSnapshot& snapshot,
                                         StepInput input) {
  input.kills_in_flight = entry.kills_in_flight;
  input.parse_pre_stop = parse_pre_stop_;
  ++advances_;
  return Advance(entry.record, snapshot, input);
}

bool RecreateEngine::ApplyStepLocked(const Key& key, Entry& entry, StepResult result,
                                     absl::Time now, uint32_t wake_reasons) {
  if (result.remove) {
    RemoveLocked(key, "ttl_seconds_after_finished");
    return false;
  }
  std::vector<std::optional<int64_t>> stop_timeouts =
      MarkImmediateStopsLocked(&result.record, result.kills, now);
  const bool stops_marked = std::any_of(stop_timeouts.begin(), stop_timeouts.end(),
                                        [](const auto& timeout) { return timeout.has_value(); });
  if (result.changed || stops_marked) {
    const std::vector<int> restarted = NewlyRestarted(entry.record, result.record);
    CommitLocked(key, entry, std::move(result.record));
    LogObservedRestarts(key, entry.record, restarted, WakeReasonsName(wake_reasons),
                        (wake_reasons & kWakeEvent) != 0, now, metrics_);
  }
  DispatchKillsLocked(key, entry, std::move(result.kills), std::move(stop_timeouts));
  return true;
}

absl::Status RecreateEngine::TickOnce() {
  const absl::Status ticked = Tick(/*wake_reasons=*/0);
  committer_.Flush();
  return ticked;
}

absl::Status RecreateEngine::Tick(uint32_t wake_reasons) {
  bool any_open = false;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckAcceptingLocked());
    if (requests_.empty()) {
      fast_poll_ = false;
      watches_node_ = false;
      next_wake_.reset();
      return absl::OkStatus();
    }
    any_open = open_requests_ > 0;
  }
  // Completed requests only need their TTL checked, which does not look at the node: an idle daemon
  // makes no CRI call.
  cri::NodeSnapshot snapshot;
  if (any_open) {
    ASSIGN_OR_RETURN(snapshot, cri::TakeSnapshot(runtime_));
  }
  std::vector<std::string> inspect;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [pod, queue] : pod_queues_) {
      if (queue.empty()) continue;
      const Entry* head = FindLocked(queue.begin()->second);
      if (head == nullptr) continue;
      std::vector<std::string> ids = ContainersToInspect(head->record, snapshot);
      inspect.insert(inspect.end(), ids.begin(), ids.end());
    }
  }
  if (any_open) {
    // ContainerStatus once per new running instance (StatusCache). A failed one leaves that
    // container without a start time: it is simply not judged Succeeded on this tick.
    const absl::Status filled = status_cache_.Fill(runtime_, inspect, &snapshot);
    if (!filled.ok()) spdlog::debug("recreate_fill_status_failed error=\"{}\"", filled.ToString());
  }

  std::vector<KillJob> start;
  {
    absl::MutexLock lock(&mu_);
    // Everything this tick decides is written in one batch (one fsync).
    store::GroupCommitter::Hold hold(committer_);
    RETURN_IF_ERROR(CheckAcceptingLocked());
    const absl::Time now = clock_.Now();
    bool fast = false;
    bool watch_node = false;
    std::optional<absl::Time> next_wake;
    const auto wake_at = [&next_wake](const std::optional<absl::Time>& at) {
      if (at.has_value() && (!next_wake.has_value() || *at < *next_wake)) next_wake = at;
    };
    // Creation order, so that a head completing in this tick lets its successor start in the same
    // tick.
    std::vector<Key> order;
    order.reserve(by_sequence_.size());
    for (const auto& [sequence, key] : by_sequence_) order.push_back(key);
    for (const Key& key : order) {
      Entry* entry = FindLocked(key);
      if (entry == nullptr) continue;
      // Created after the snapshot decision: judged by the next tick, never against an empty
      // snapshot.
      if (!any_open && !IsCompleted(entry->record)) continue;
      StepInput input;
      input.now = now;
      input.blocked_by = IsCompleted(entry->record) ? "" : BlockedByLocked(key, *entry);
      const cri::PodInfo* pod = FindRequestPod(entry->record.request(), snapshot);
      const size_t pod_hash = pod == nullptr ? 0 : absl::Hash<cri::PodInfo>()(*pod);
      if (const std::optional<Entry::Unchanged>& last = entry->unchanged;
          last.has_value() && entry->kills_in_flight.empty() && last->pod_hash == pod_hash &&
          last->blocked_by == input.blocked_by &&
          (!last->wake_at.has_value() || now < *last->wake_at)) {
        wake_at(last->wake_at);
        fast = fast || AwaitsKillOrRestart(entry->record);
        watch_node = watch_node || WatchesTheNode(entry->record, input.blocked_by, pod);
        continue;
      }
      StepResult result = AdvanceLocked(*entry, snapshot, input);
      wake_at(result.wake_at);
      entry->unchanged.reset();
      if (!result.changed && !result.remove && result.kills.empty() &&
          entry->kills_in_flight.empty()) {
        entry->unchanged = Entry::Unchanged{pod_hash, input.blocked_by, result.wake_at};
      }
      if (!ApplyStepLocked(key, *entry, std::move(result), now, wake_reasons)) continue;
      fast = fast || AwaitsKillOrRestart(entry->record) || !entry->kills_in_flight.empty();
      watch_node = watch_node || WatchesTheNode(entry->record, input.blocked_by, pod);
    }
    fast_poll_ = fast;
    watches_node_ = watch_node;
    next_wake_ = next_wake;
    start = TakeStartableKillsLocked();
  }
  // Outside mu_: a kill's first continuation may run at once and take it.
  StartKills(std::move(start));
  return absl::OkStatus();
}

}  // namespace inplaced::daemon

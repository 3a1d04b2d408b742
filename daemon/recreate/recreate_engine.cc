#include "daemon/recreate/recreate_engine.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "cri/snapshot.h"
#include "daemon/page_token.h"
#include "daemon/prestop/kubelet_handler.h"
#include "spdlog/spdlog.h"

namespace inplaced::daemon {
namespace {

namespace v1 = ::inplaced::v1;
namespace internal = ::inplaced::internal;

// Resubscribing is cheap (one call that fails fast while the runtime is down), and every second
// without a stream is a second of polling only.
constexpr absl::Duration kEventBackoffStart = absl::Milliseconds(100);
constexpr absl::Duration kEventBackoffMax = absl::Seconds(1);

// Why the loop ran a tick: bits of RecreateEngine::Wake's `reason`.
enum WakeReason : uint32_t {
  kWakeRequest = 1 << 0,       // an API call changed a request
  kWakeKill = 1 << 1,          // a kill finished
  kWakeEvent = 1 << 2,         // a runtime container event
  kWakeResubscribed = 1 << 3,  // the event stream is back after a break
};

// "poll" when nothing woke the loop, else the reasons joined with '+', e.g. "event+kill".
std::string WakeReasonsName(uint32_t reasons) {
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

// The containers whose new instance `after` shows running for the first time (restarted_at set).
std::vector<int> NewlyRestarted(const internal::RecreateRecord& before, const internal::RecreateRecord& after) {
  const v1::RecreateStatus& was = before.request().status();
  const v1::RecreateStatus& is = after.request().status();
  std::vector<int> indexes;
  for (int i = 0; i < is.container_states_size(); ++i) {
    if (!is.container_states(i).has_restarted_at()) continue;
    if (i < was.container_states_size() && was.container_states(i).has_restarted_at()) continue;
    indexes.push_back(i);
  }
  return indexes;
}

// Logs those containers with what woke the tick and how long after the instance's start it was seen.
void LogObservedRestarts(const std::pair<std::string, std::string>& key, const internal::RecreateRecord& record,
                         const std::vector<int>& indexes, uint32_t wake_reasons, absl::Time now) {
  for (const int i : indexes) {
    const v1::ContainerRecreateState& state = record.request().status().container_states(i);
    spdlog::info("container_restart_observed ns={} name={} container={} new_id={} via={} delay_ms={}", key.first,
                 key.second, state.name(), state.new_container_id(), WakeReasonsName(wake_reasons),
                 absl::ToInt64Milliseconds(now - FromProtoTime(state.restarted_at())));
  }
}

std::string StoreKey(const std::string& namespace_name, const std::string& name) {
  return absl::StrCat(namespace_name, "/", name);
}

std::string PodKey(const v1::RecreateRequest& request) {
  return absl::StrCat(request.metadata().namespace_(), "/", request.spec().pod_name());
}

bool HasReadinessWait(const internal::RecreateRecord& record) {
  return record.request().status().phase() == v1::RECREATE_PHASE_RECREATING;
}

const char* PhaseName(v1::RecreatePhase phase) {
  switch (phase) {
    case v1::RECREATE_PHASE_PENDING:
      return "pending";
    case v1::RECREATE_PHASE_RECREATING:
      return "recreating";
    case v1::RECREATE_PHASE_COMPLETED:
      return "completed";
    default:
      return "unspecified";
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RecreateEngine>> RecreateEngine::Create(cri::Runtime& runtime, Clock& clock,
                                                                      store::Store& store,
                                                                      PreStopRunner& prestop, WatchHub& hub,
                                                                      RecreateEngineOptions options) {
  std::unique_ptr<RecreateEngine> engine(new RecreateEngine(runtime, clock, store, prestop, hub, options));
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
      parse_pre_stop_([](absl::string_view json) { return ParseKubeletPreStopHandler(json); }),
      pool_(options.kill_workers) {}

RecreateEngine::~RecreateEngine() { Shutdown(); }

absl::Status RecreateEngine::Load() {
  ASSIGN_OR_RETURN(std::vector<store::Record> records, store_.ListAll(kRecreateStoreKind));
  absl::MutexLock lock(&mu_);
  int resumed = 0;
  for (const store::Record& stored : records) {
    Entry entry;
    if (!entry.record.ParseFromString(stored.value) || !entry.record.request().has_metadata()) {
      spdlog::error("recreate_record_unreadable key={} revision={}", stored.key, stored.revision);
      continue;
    }
    entry.revision = stored.revision;
    entry.record.mutable_request()->mutable_metadata()->set_resource_version(stored.revision);
    for (const internal::ContainerKill& kill : entry.record.kills()) {
      if (kill.step() != internal::KILL_STEP_NONE && kill.step() != internal::KILL_STEP_STOP_DONE) ++resumed;
    }
    next_sequence_ = std::max(next_sequence_, entry.record.sequence() + 1);
    const Key key{entry.record.request().metadata().namespace_(), entry.record.request().metadata().name()};
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
  absl::MutexLock lock(&threads_mu_);
  if (started_ || shut_down_) return;
  started_ = true;
  loop_thread_ = std::thread([this] { Loop(); });
  if (options_.use_event_stream) event_thread_ = std::thread([this] { EventLoop(); });
}

void RecreateEngine::Shutdown() {
  absl::MutexLock threads_lock(&threads_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  stop_threads_ = true;
  Wake(/*reason=*/0);
  {
    absl::MutexLock lock(&stream_mu_);
    if (stream_ != nullptr) stream_->Cancel();
  }
  if (loop_thread_.joinable()) loop_thread_.join();
  if (event_thread_.joinable()) event_thread_.join();
  hooks_cancel_.Cancel();
  pool_.Shutdown();
  spdlog::info("recreate_engine_stopped");
}

void RecreateEngine::Wake(uint32_t reason) {
  absl::MutexLock lock(&wake_mu_);
  woken_ = true;
  wake_reasons_ |= reason;
}

void RecreateEngine::Loop() {
  std::string last_error;
  uint32_t wake_reasons = 0;
  while (!stop_threads_) {
    const absl::Status status = Tick(wake_reasons);
    if (!status.ok() && status.ToString() != last_error) {
      // Logged once per distinct error: a runtime that is down would otherwise flood the log.
      spdlog::warn("recreate_tick_failed error=\"{}\"", status.ToString());
    }
    last_error = status.ok() ? "" : status.ToString();
    absl::Duration interval;
    {
      absl::MutexLock lock(&mu_);
      interval = fast_poll_ ? options_.fast_poll : options_.slow_poll;
      // A timed wait (unready window, min_started_seconds, deadline, TTL) ending sooner is not
      // overslept by up to a slow poll.
      if (next_wake_.has_value()) {
        interval = std::min(interval, std::max(absl::ZeroDuration(), *next_wake_ - clock_.Now()));
      }
      pulse_open_requests_ = open_requests_;
    }
    pulse_tick_unix_nanos_ = absl::ToUnixNanos(clock_.Now());
    absl::MutexLock lock(&wake_mu_);
    wake_mu_.AwaitWithTimeout(absl::Condition(&woken_), interval);
    woken_ = false;
    wake_reasons = std::exchange(wake_reasons_, 0);
  }
}

RecreateEngine::Pulse RecreateEngine::LastPulse() const {
  Pulse pulse;
  const int64_t nanos = pulse_tick_unix_nanos_;
  if (nanos != std::numeric_limits<int64_t>::min()) pulse.last_tick = absl::FromUnixNanos(nanos);
  pulse.open_requests = pulse_open_requests_;
  return pulse;
}

void RecreateEngine::EventLoop() {
  absl::Duration backoff = kEventBackoffStart;
  // Since when the stream has been down after a break (an error end), and how many subscriptions
  // failed since; unset while streaming or before the first subscription.
  std::optional<absl::Time> broken_since;
  int failed_attempts = 0;
  bool subscribed_once = false;
  bool streamed = false;
  while (!stop_threads_) {
    absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> stream = runtime_.GetContainerEvents();
    absl::Status end;
    if (stream.ok()) {
      {
        absl::MutexLock lock(&stream_mu_);
        if (stop_threads_) return;
        stream_ = stream->get();
      }
      if (broken_since.has_value()) {
        spdlog::info("container_events_resubscribed down_ms={} failed_attempts={}",
                     absl::ToInt64Milliseconds(clock_.Now() - *broken_since), failed_attempts);
        broken_since.reset();
        failed_attempts = 0;
      }
      // Whatever happened while no stream was open is only in the snapshot: look now.
      if (subscribed_once) Wake(kWakeResubscribed);
      subscribed_once = true;
      ::runtime::v1::ContainerEventResponse event;
      while ((*stream)->Read(&event)) {
        if (!streamed) spdlog::info("container_events_streaming");
        streamed = true;
        backoff = kEventBackoffStart;
        Wake(kWakeEvent);
      }
      end = (*stream)->Finish();
      absl::MutexLock lock(&stream_mu_);
      stream_ = nullptr;
    } else {
      end = stream.status();
    }
    if (stop_threads_) return;
    if (end.code() == absl::StatusCode::kUnimplemented) {
      spdlog::info("container_events_unsupported fallback=polling");
      return;
    }
    if (!end.ok() && !broken_since.has_value()) {
      // Once per outage; a stream that ends cleanly (CRI-O without pod events) is no outage.
      spdlog::warn("container_events_stream_broken error=\"{}\" (polling; resubscribing with backoff)",
                   end.ToString());
      broken_since = clock_.Now();
    } else {
      if (broken_since.has_value()) ++failed_attempts;
      spdlog::debug("container_events_resubscribe status=\"{}\" backoff_ms={}", end.ToString(),
                    absl::ToInt64Milliseconds(backoff));
    }
    // The backoff is waited in real time: the wake flag doubles as the stop signal.
    {
      absl::MutexLock lock(&wake_mu_);
      wake_mu_.AwaitWithTimeout(absl::Condition(+[](std::atomic<bool>* stop) { return stop->load(); },
                                                &stop_threads_),
                                backoff);
    }
    backoff = std::min(backoff * 2, kEventBackoffMax);
  }
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

absl::StatusOr<RecreateEngine::Entry*> RecreateEngine::FindForCallLocked(const std::string& namespace_name,
                                                                         const std::string& name) {
  RETURN_IF_ERROR(CheckAcceptingLocked());
  Entry* entry = FindLocked({namespace_name, name});
  if (entry == nullptr) {
    return absl::NotFoundError(absl::StrCat("recreate request ", namespace_name, "/", name, " not found"));
  }
  return entry;
}

std::string RecreateEngine::NewUidLocked() {
  // A random (version 4) UUID.
  const uint64_t high = absl::Uniform<uint64_t>(random_);
  const uint64_t low = absl::Uniform<uint64_t>(random_);
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", high >> 32, (high >> 16) & 0xffff, high & 0xfff,
                         0x8000 | ((low >> 48) & 0x3fff), low & 0xffffffffffffULL);
}

absl::Status RecreateEngine::CommitLocked(const Key& key, Entry& entry, internal::RecreateRecord record) {
  ASSIGN_OR_RETURN(const int64_t revision,
                   store_.Update(kRecreateStoreKind, StoreKey(key.first, key.second), record.SerializeAsString(),
                                 entry.revision));
  const v1::RecreateStatus& before = entry.record.request().status();
  const v1::RecreateRequest& request = record.request();
  const v1::RecreatePhase old_phase = before.phase();
  const v1::RecreatePhase new_phase = request.status().phase();
  for (int i = 0; i < request.status().container_states_size() && i < before.container_states_size(); ++i) {
    const v1::ContainerRecreateState& was = before.container_states(i);
    const v1::ContainerRecreateState& now = request.status().container_states(i);
    if (was.phase() != now.phase() && (now.phase() == v1::CONTAINER_RECREATE_PHASE_SUCCEEDED ||
                                       now.phase() == v1::CONTAINER_RECREATE_PHASE_FAILED)) {
      spdlog::info("container_recreate_{} ns={} name={} container={} new_id={} message=\"{}\"",
                   now.phase() == v1::CONTAINER_RECREATE_PHASE_SUCCEEDED ? "succeeded" : "failed", key.first,
                   key.second, now.name(), now.new_container_id(), now.message());
    }
  }
  if (old_phase != new_phase) {
    if (new_phase == v1::RECREATE_PHASE_RECREATING) {
      spdlog::info("recreate_started ns={} name={} pod={} pod_uid={}", key.first, key.second,
                   request.spec().pod_name(), request.status().pod_uid());
    } else {
      spdlog::info("recreate_{} ns={} name={} pod={} message=\"{}\"", PhaseName(new_phase), key.first,
                   key.second, request.spec().pod_name(), request.status().message());
    }
  }
  if (new_phase == v1::RECREATE_PHASE_COMPLETED && old_phase != v1::RECREATE_PHASE_COMPLETED) {
    Dequeue(key, entry);
  }
  entry.record = std::move(record);
  entry.revision = revision;
  entry.record.mutable_request()->mutable_metadata()->set_resource_version(revision);
  hub_.Publish(v1::WATCH_EVENT_TYPE_MODIFIED, entry.record.request());
  return absl::OkStatus();
}

absl::Status RecreateEngine::RemoveLocked(const Key& key, absl::string_view reason) {
  auto it = requests_.find(key);
  if (it == requests_.end()) return absl::OkStatus();
  RETURN_IF_ERROR(
      store_.Delete(kRecreateStoreKind, StoreKey(key.first, key.second), it->second.revision).status());
  Entry& entry = it->second;
  entry.removed->store(true);
  if (!IsCompleted(entry.record)) Dequeue(key, entry);
  by_sequence_.erase(entry.record.sequence());
  spdlog::info("recreate_deleted ns={} name={} reason={}", key.first, key.second, std::string(reason));
  hub_.Publish(v1::WATCH_EVENT_TYPE_DELETED, entry.record.request());
  requests_.erase(it);
  return absl::OkStatus();
}

absl::Status RecreateEngine::TickOnce() { return Tick(/*wake_reasons=*/0); }

absl::Status RecreateEngine::Tick(uint32_t wake_reasons) {
  bool any_open = false;
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckAcceptingLocked());
    if (requests_.empty()) {
      fast_poll_ = false;
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
  if (!inspect.empty()) {
    // A failed ContainerStatus leaves that container without a start time: it is simply not judged
    // Succeeded on this tick.
    const absl::Status filled = cri::FillStatus(runtime_, inspect, &snapshot);
    if (!filled.ok()) spdlog::debug("recreate_fill_status_failed error=\"{}\"", filled.ToString());
  }

  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(CheckAcceptingLocked());
    const absl::Time now = clock_.Now();
    bool fast = false;
    std::optional<absl::Time> next_wake;
    // Creation order, so that a head completing in this tick lets its successor start in the same tick.
    std::vector<Key> order;
    order.reserve(by_sequence_.size());
    for (const auto& [sequence, key] : by_sequence_) order.push_back(key);
    for (const Key& key : order) {
      Entry* entry = FindLocked(key);
      if (entry == nullptr) continue;
      // Created after the snapshot decision: judged by the next tick, never against an empty snapshot.
      if (!any_open && !IsCompleted(entry->record)) continue;
      StepInput input;
      input.now = now;
      input.blocked_by = IsCompleted(entry->record) ? "" : BlockedByLocked(key, *entry);
      input.kills_in_flight = entry->kills_in_flight;
      input.parse_pre_stop = parse_pre_stop_;
      StepResult result = Advance(entry->record, snapshot, input);
      if (result.wake_at.has_value() && (!next_wake.has_value() || *result.wake_at < *next_wake)) {
        next_wake = result.wake_at;
      }
      if (result.remove) {
        const absl::Status removed = RemoveLocked(key, "ttl_seconds_after_finished");
        if (!removed.ok()) spdlog::error("recreate_ttl_delete_failed ns={} name={} error=\"{}\"", key.first,
                                          key.second, removed.ToString());
        continue;
      }
      if (result.changed) {
        const std::vector<int> restarted = NewlyRestarted(entry->record, result.record);
        const absl::Status committed = CommitLocked(key, *entry, std::move(result.record));
        if (!committed.ok()) {
          // Nothing was decided: the next tick tries again from the stored state.
          spdlog::error("recreate_persist_failed ns={} name={} error=\"{}\"", key.first, key.second,
                        committed.ToString());
          continue;
        }
        LogObservedRestarts(key, entry->record, restarted, wake_reasons, now);
      }
      for (KillAction& action : result.kills) {
        const std::string container_name = action.container_name;
        entry->kills_in_flight.insert(container_name);
        // Queued at once (its step is persisted): the kill starts while this tick persists the next
        // requests; Submit never blocks.
        const bool queued = pool_.Submit([this, job = KillJob{key, entry->record.request().metadata().uid(),
                                                              entry->removed, std::move(action)}] {
          RunKill(job);
        });
        // Not queued only once shut down (impossible while this tick holds mu_ with stopping_ false);
        // the persisted step is resumed by the next start.
        if (!queued) entry->kills_in_flight.erase(container_name);
      }
      fast = fast || HasReadinessWait(entry->record) || !entry->kills_in_flight.empty();
    }
    fast_poll_ = fast;
    next_wake_ = next_wake;
  }
  return absl::OkStatus();
}

void RecreateEngine::RunKill(const KillJob& job) {
  const KillAction& action = job.action;
  const auto finish = [&](Entry* entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (entry != nullptr) entry->kills_in_flight.erase(action.container_name);
  };
  // Deleted (or shutting down) before the kill started: no new kill after Delete returned. Checked
  // without mu_, so that kills start while a tick holds it.
  if (job.removed->load() || stop_threads_.load()) {
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
    return;
  }
  if (action.pre_stop.has_value()) {
    PreStopTarget target;
    target.container_id = action.container_id;
    target.pod_sandbox_id = action.pod_sandbox_id;
    target.ports = action.ports;
    if (target.ports.empty() && !action.ports_json.empty()) {
      absl::StatusOr<std::vector<v1::ContainerPort>> ports = ParseKubeletPorts(action.ports_json);
      if (ports.ok()) target.ports = *std::move(ports);
    }
    const absl::Time deadline = action.started_at + absl::Seconds(action.grace_period_seconds);
    spdlog::info("prestop_started ns={} name={} container={} id={} deadline={}", job.key.first, job.key.second,
                 action.container_name, action.container_id, absl::FormatTime(deadline));
    const PreStopResult result = prestop_.Run(*action.pre_stop, target, deadline, &hooks_cancel_);
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry == nullptr || stopping_) {
      // Deleted: no StopContainer. Shutting down: the kill step stays PRESTOP_STARTED, so the next start
      // records the hook as skipped and stops the container.
      finish(entry);
      return;
    }
    spdlog::info("prestop_finished ns={} name={} container={} outcome={} message=\"{}\"", job.key.first,
                 job.key.second, action.container_name, v1::PreStopOutcome_Name(result.outcome),
                 result.message);
    internal::RecreateRecord record = entry->record;
    ApplyPreStopResult(&record, action.container_index, result.outcome, result.message, clock_.Now());
    const absl::Status committed = CommitLocked(job.key, *entry, std::move(record));
    if (!committed.ok()) {
      // Not persisted: never send a StopContainer the record does not announce. The next tick resumes
      // the kill (the hook counts as skipped).
      spdlog::error("recreate_persist_failed ns={} name={} error=\"{}\"", job.key.first, job.key.second,
                    committed.ToString());
      finish(entry);
      return;
    }
  }
  const int64_t timeout = StopTimeoutSeconds(action.grace_period_seconds, action.started_at, clock_.Now());
  spdlog::info("container_killed ns={} name={} container={} id={} grace={} timeout={}", job.key.first,
               job.key.second, action.container_name, action.container_id, action.grace_period_seconds,
               timeout);
  ::runtime::v1::StopContainerRequest stop;
  stop.set_container_id(action.container_id);
  stop.set_timeout(timeout);
  absl::Status stopped = runtime_.StopContainer(stop);
  if (stopped.code() == absl::StatusCode::kNotFound) {
    // Removed since the snapshot: nothing left to stop (the CRI makes Stop idempotent for absent
    // containers; containerd 1.6/1.7.0-1.7.20 answer NOT_FOUND instead).
    spdlog::info("container_already_gone ns={} name={} container={} id={}", job.key.first, job.key.second,
                 action.container_name, action.container_id);
    stopped = absl::OkStatus();
  }
  if (stopped.code() == absl::StatusCode::kUnavailable) {
    // The runtime is down or restarting: the step stays STOP_SENT, and the first tick that reaches the
    // runtime again re-sends the stop if this instance still runs (ResumeInterruptedKill).
    spdlog::warn("container_kill_deferred ns={} name={} container={} id={} error=\"{}\" (retried once the "
                 "runtime answers)",
                 job.key.first, job.key.second, action.container_name, action.container_id, stopped.ToString());
    absl::MutexLock lock(&mu_);
    finish(FindJobLocked(job));
    return;
  }
  if (!stopped.ok()) {
    spdlog::warn("container_kill_failed ns={} name={} container={} id={} error=\"{}\"", job.key.first,
                 job.key.second, action.container_name, action.container_id, stopped.ToString());
  }
  {
    absl::MutexLock lock(&mu_);
    Entry* entry = FindJobLocked(job);
    if (entry != nullptr) {
      internal::RecreateRecord record = entry->record;
      ApplyStopResult(&record, action.container_index, stopped, clock_.Now());
      const absl::Status committed = CommitLocked(job.key, *entry, std::move(record));
      if (!committed.ok()) {
        spdlog::error("recreate_persist_failed ns={} name={} error=\"{}\"", job.key.first, job.key.second,
                      committed.ToString());
      }
    }
    finish(entry);
  }
  Wake(kWakeKill);
}

void RecreateEngine::WaitForKills() { pool_.WaitIdle(); }

size_t RecreateEngine::KillsInFlight() { return pool_.Pending(); }

absl::StatusOr<v1::CreateRecreateRequestResponse> RecreateEngine::Create(
    const v1::CreateRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateCreateRecreateRequest(request, options_.limits));
  v1::CreateRecreateRequestRequest normalized = request;
  ApplySpecDefaults(normalized.mutable_spec());
  const Key key{normalized.namespace_(), normalized.name()};

  // The idempotent answer, or the refusal, without touching the runtime.
  const auto existing_or_cap = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)
      -> std::optional<absl::StatusOr<v1::CreateRecreateRequestResponse>> {
    if (absl::Status accepting = CheckAcceptingLocked(); !accepting.ok()) return accepting;
    if (const Entry* entry = FindLocked(key); entry != nullptr) {
      if (!SameSpec(entry->record.request().spec(), normalized.spec())) {
        return absl::AlreadyExistsError(absl::StrCat("recreate request ", key.first, "/", key.second,
                                                     " exists with a different spec"));
      }
      v1::CreateRecreateRequestResponse response;
      *response.mutable_recreate_request() = entry->record.request();
      response.set_created(false);
      return response;
    }
    if (open_requests_ >= options_.max_open_requests) {
      return absl::ResourceExhaustedError(absl::StrCat("too many open recreate requests (limit ",
                                                       options_.max_open_requests, ")"));
    }
    return std::nullopt;
  };
  {
    absl::MutexLock lock(&mu_);
    if (auto answer = existing_or_cap(); answer.has_value()) return *std::move(answer);
  }

  // The status context "at acceptance": one snapshot, outside the lock, only when something is missing.
  bool needs_runtime = normalized.spec().pod_uid().empty();
  for (const v1::RecreateContainer& container : normalized.spec().containers()) {
    needs_runtime = needs_runtime || !container.has_status_context();
  }
  std::optional<cri::NodeSnapshot> snapshot;
  if (needs_runtime) {
    absl::StatusOr<cri::NodeSnapshot> taken = cri::TakeSnapshot(runtime_);
    if (taken.ok()) {
      snapshot = *std::move(taken);
    } else {
      spdlog::warn("recreate_snapshot_failed ns={} name={} error=\"{}\" (the ticks resolve the pod)", key.first,
                   key.second, taken.status().ToString());
    }
  }

  absl::MutexLock lock(&mu_);
  if (auto answer = existing_or_cap(); answer.has_value()) return *std::move(answer);
  internal::RecreateRecord record = NewRecord(normalized, NewUidLocked(), clock_.Now(), next_sequence_);
  v1::RecreateStatus& status = *record.mutable_request()->mutable_status();
  const cri::PodInfo* pod = snapshot.has_value() ? FindRequestPod(record.request(), *snapshot) : nullptr;
  if (pod != nullptr) {
    if (status.pod_uid().empty()) status.set_pod_uid(pod->uid);
    FillMissingContexts(&record, *pod);
    for (v1::ContainerRecreateState& state : *status.mutable_container_states()) {
      if (state.old_container_id().empty()) state.set_message("container not found in the pod at acceptance");
    }
  } else if (snapshot.has_value()) {
    status.set_message(absl::StrCat("pod ", key.first, "/", normalized.spec().pod_name(),
                                    " not found on the node at acceptance"));
  }
  ASSIGN_OR_RETURN(const int64_t revision,
                   store_.Create(kRecreateStoreKind, StoreKey(key.first, key.second), record.SerializeAsString()));
  ++next_sequence_;
  record.mutable_request()->mutable_metadata()->set_resource_version(revision);
  Entry entry;
  entry.record = record;
  entry.revision = revision;
  InsertLocked(key, std::move(entry));
  spdlog::info("recreate_created ns={} name={} pod={} pod_uid={} uid={} containers={}", key.first, key.second,
               normalized.spec().pod_name(), status.pod_uid(), record.request().metadata().uid(),
               normalized.spec().containers_size());
  hub_.Publish(v1::WATCH_EVENT_TYPE_ADDED, record.request());
  Wake(kWakeRequest);
  v1::CreateRecreateRequestResponse response;
  *response.mutable_recreate_request() = record.request();
  response.set_created(true);
  return response;
}

absl::StatusOr<v1::RecreateRequest> RecreateEngine::Get(const v1::GetRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateGetRecreateRequest(request));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Entry * entry, FindForCallLocked(request.namespace_(), request.name()));
  return entry->record.request();
}

absl::StatusOr<v1::ListRecreateRequestsResponse> RecreateEngine::List(
    const v1::ListRecreateRequestsRequest& request) {
  RETURN_IF_ERROR(ValidateListRecreateRequests(request, options_.limits));
  ASSIGN_OR_RETURN(const ListCursor cursor, DecodeListPageToken(request));
  const int page_size = EffectivePageSize(request);
  v1::ListRecreateRequestsResponse response;
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckAcceptingLocked());
  auto it = requests_.begin();
  if (!cursor.namespace_name.empty() || !cursor.name.empty()) {
    it = requests_.upper_bound(Key{cursor.namespace_name, cursor.name});
  }
  for (; it != requests_.end(); ++it) {
    const v1::RecreateRequest& candidate = it->second.record.request();
    if (!request.namespace_().empty() && candidate.metadata().namespace_() != request.namespace_()) continue;
    if (!request.pod_name().empty() && candidate.spec().pod_name() != request.pod_name()) continue;
    if (request.phase() != v1::RECREATE_PHASE_UNSPECIFIED && candidate.status().phase() != request.phase()) {
      continue;
    }
    if (response.recreate_requests_size() == page_size) {
      // One more match exists: this page ends at the previous one.
      const v1::RecreateRequest& last = response.recreate_requests(page_size - 1);
      response.set_next_page_token(
          EncodeListPageToken(request, ListCursor{last.metadata().namespace_(), last.metadata().name()}));
      break;
    }
    *response.add_recreate_requests() = candidate;
  }
  return response;
}

absl::Status RecreateEngine::Delete(const v1::DeleteRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateDeleteRecreateRequest(request));
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Entry*> entry = FindForCallLocked(request.namespace_(), request.name());
  if (!entry.ok()) {
    if (entry.status().code() == absl::StatusCode::kNotFound && request.allow_missing()) return absl::OkStatus();
    return entry.status();
  }
  RETURN_IF_ERROR(RemoveLocked({request.namespace_(), request.name()}, "api"));
  Wake(kWakeRequest);  // the pod's next request may start
  return absl::OkStatus();
}

absl::StatusOr<v1::RecreateRequest> RecreateEngine::AcknowledgeUnready(const v1::AcknowledgeUnreadyRequest& request) {
  RETURN_IF_ERROR(ValidateAcknowledgeUnready(request));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Entry * entry, FindForCallLocked(request.namespace_(), request.name()));
  if (IsCompleted(entry->record)) {
    return absl::FailedPreconditionError(
        absl::StrCat("recreate request ", request.namespace_(), "/", request.name(), " has completed"));
  }
  if (!entry->record.request().status().has_unready_acknowledged_at()) {
    internal::RecreateRecord record = entry->record;
    *record.mutable_request()->mutable_status()->mutable_unready_acknowledged_at() = request.unready_at();
    RETURN_IF_ERROR(CommitLocked({request.namespace_(), request.name()}, *entry, std::move(record)));
    spdlog::info("recreate_unready_acknowledged ns={} name={} unready_at={}", request.namespace_(), request.name(),
                 absl::FormatTime(FromProtoTime(request.unready_at())));
    Wake(kWakeRequest);
  }
  return entry->record.request();
}

absl::StatusOr<v1::RecreateRequest> RecreateEngine::ReportReadiness(const v1::ReportReadinessRequest& request) {
  RETURN_IF_ERROR(ValidateReportReadiness(request, options_.limits));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Entry * entry, FindForCallLocked(request.namespace_(), request.name()));
  if (IsCompleted(entry->record)) {
    return absl::FailedPreconditionError(
        absl::StrCat("recreate request ", request.namespace_(), "/", request.name(), " has completed"));
  }
  internal::RecreateRecord record = entry->record;
  v1::RecreateStatus& status = *record.mutable_request()->mutable_status();
  const google::protobuf::Timestamp now = ToProtoTime(clock_.Now());
  for (int i = 0; i < request.containers_size(); ++i) {
    const v1::ContainerReadiness& report = request.containers(i);
    v1::ContainerRecreateState* state = nullptr;
    for (v1::ContainerRecreateState& candidate : *status.mutable_container_states()) {
      if (candidate.name() == report.name()) state = &candidate;
    }
    if (state == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "containers[%d].name: container \"%s\" is not in the request's spec", i, report.name()));
    }
    v1::ContainerReadinessReport& last = *state->mutable_last_readiness_report();
    last.set_container_id(BareContainerId(report.container_id()));
    last.set_ready(report.ready());
    *last.mutable_reported_at() = now;
  }
  RETURN_IF_ERROR(CommitLocked({request.namespace_(), request.name()}, *entry, std::move(record)));
  Wake(kWakeRequest);
  return entry->record.request();
}

absl::StatusOr<std::unique_ptr<RecreateWatch>> RecreateEngine::Watch(
    const v1::WatchRecreateRequestsRequest& request) {
  RETURN_IF_ERROR(ValidateWatchRecreateRequests(request));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckAcceptingLocked());
  std::vector<v1::RecreateRequest> initial;
  initial.reserve(requests_.size());
  for (const auto& [key, entry] : requests_) initial.push_back(entry.record.request());
  return hub_.Subscribe(request, initial);
}

}  // namespace inplaced::daemon

#pragma once

// RecreateEngine: inplaced's container recreate engine, the implementation of RecreateManager.
//
// State: every request lives in memory (by namespace/name, and per pod in creation order) and in
// the Store (kind "recreate", key "namespace/name", an inplaced.internal.RecreateRecord). A change
// is made in memory and published under the engine's lock, and its write is queued on a
// GroupCommitter (store/group_committer.h), which commits every write ready at that moment with one
// fsync, outside the lock. A side effect starts only once the step announcing it is durable: a
// kill waits for its QUEUED step before it starts, for PRESTOP_STARTED before the hook runs and for
// STOP_SENT before StopContainer; an API call answers once its change is durable. So a daemon
// killed at any point restarts with no acknowledged request lost, no container instance stopped
// twice by two different decisions, and no preStop hook re-run (see recreate_state_machine.h for
// the recovery rules); watchers may see a state up to one group commit before it is durable (a
// crash in that window loses it with the stream, and nothing was acted on).

// Progress: a tick loop (common/tick_loop.h, started by Start) calls TickOnce every fast_poll while
// a request waits on a kill or a restart, every slow_poll while one waits on the node otherwise,
// every resync_poll while every open request waits only on a timer or a call (PollInterval), never
// past the earliest timer, and at once when woken (Create, AcknowledgeUnready, ReportReadiness,
// Delete, a finished kill, a runtime container event, a re-established event subscription: events
// were missed while it was down). The first tick that sees a new instance running logs
// `container_restart_observed` with what woke it (`via=event|poll|...`) and the delay from the
// instance's start. A tick takes ONE node snapshot (one ListPodSandbox + one ListContainers
// whatever the number of requests), ContainerStatus only once per new container instance it follows
// (cri::StatusCache), then advances every request with the pure state machine. The fast poll runs
// only while a kill or a restart is awaited; waits that end at a known time (min_started_seconds,
// windows, deadlines) are timers. One request per pod runs at a time, strictly in creation order;
// requests of different pods run in parallel.
//
// Dispatch: a Create without status contexts reads its own pod (two label-filtered List calls),
// decides the request's first step itself and commits it with the request (GroupCommitter::Hold:
// one batch, one fsync), so its kills start once the request is durable, without waiting for a
// tick to read the node. A tick's writes are one batch too. The API server calls CreateAsync: the
// Create's read runs on one of kAcceptanceWorkers persistent workers, and its answer is a
// continuation of the write (store::WhenDurableWithin), given after the kills the write starts, so
// no thread waits for an fsync and a burst wakes no herd of waiters when a batch is durable.
//
// Kills: a kill is a chain of continuations, not a thread: (its decision durable) -> [PRESTOP_STARTED
// committed -> durable -> PreStopRunner::Start -> result and STOP_SENT committed] -> durable ->
// Runtime::StopContainerAsync -> result committed, the loop woken. A kill without a hook that has a
// free slot records STOP_SENT with its decision (one write, not two): the stop goes out as soon as
// the decision is durable. Each "durable" is a callback of the group committer (store::WhenDurable), each
// call asynchronous, so thousands of kills in flight (a grace period each) hold no thread. The
// continuations run on the committer's, the runtime's or the hook runner's threads: they only take
// mu_ briefly and start the next asynchronous step, never under mu_. At most max_concurrent_kills kills run at once; more wait in a FIFO and start as
// others end (`recreate_kill_limit_reached limit=N queued=M` is logged once per episode).
//
// Events: with use_event_stream, ContainerEvents (container_events.h) reads GetContainerEvents only
// to wake the loop; the snapshot stays the source of truth.
//
// Files: recreate_engine.cc (loading, the tick loop, persistence and the per-pod queues),
// recreate_engine_api.cc (the RecreateManager methods), recreate_kills.cc (dispatching and running
// kills), container_events.cc (the event subscription).
//
// A StopContainer error fails the container ("kill container error: ..."), except UNAVAILABLE: the
// runtime is down or restarting, so the kill step stays STOP_SENT and the first tick that reaches
// the runtime again re-sends StopContainer to the same instance if it still runs (never to a new
// one), with the rest of its grace period. A container removed since the snapshot is no error: the
// runtime seam's StopContainer is idempotent (cri/errors.h), so it counts as stopped.
//
// Every change is published to the WatchHub (ADDED, MODIFIED, DELETED), under the engine's lock, so
// watchers see changes in order. metadata.resource_version comes from the engine's own counter (it
// is persisted in the record and starts above the store's revision after a restart).
//
// Thread-safe. The runtime, clock, store, preStop runner and hub must outlive the engine.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "api/inplaced/internal/recreate_record.pb.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/tick_loop.h"
#include "common/timer_queue.h"
#include "cri/runtime.h"
#include "cri/status_cache.h"
#include "daemon/prestop/prestop_runner.h"
#include "daemon/recreate/container_events.h"
#include "daemon/recreate/recreate_manager.h"
#include "daemon/recreate/recreate_state_machine.h"
#include "daemon/recreate/recreate_validation.h"
#include "daemon/recreate/watch_hub.h"
#include "store/durable_write.h"
#include "store/group_committer.h"
#include "store/store.h"

namespace inplaced::daemon {

// The store kind of recreate records.
inline constexpr char kRecreateStoreKind[] = "recreate";

struct RecreateEngineOptions {
  ValidationLimits limits;       // daemon/recreate_validation.h
  int max_open_requests = 1000;  // not yet completed; more -> RESOURCE_EXHAUSTED
  absl::Duration fast_poll = absl::Milliseconds(100);  // while a request waits on a kill/restart
  absl::Duration slow_poll = absl::Seconds(1);         // while one waits on the node otherwise
  // While every open request waits only on a timer or an API call (min_started_seconds once the
  // restart was seen, a readiness report, a request queued behind such a head): the node is read
  // at the timers and at least this often (a pod deleted meanwhile is seen then).
  absl::Duration resync_poll = absl::Seconds(10);
  // Kills (preStop hook + StopContainer) in flight at once; more wait in a FIFO. No thread is held
  // per kill, so the bound is generous: it only caps a runaway.
  int max_concurrent_kills = 1000;
  bool use_event_stream = true;  // GetContainerEvents for early wake-ups when supported
  Metrics* metrics = nullptr;    // completions, kills, hooks, restarts; null: NoMetrics()
  // Shutdown lets running preStop hooks finish for this long, then cancels them (INTERRUPTED).
  absl::Duration shutdown_hook_timeout = absl::Seconds(10);
  // How long an API call waits for its change to be durable (a failing store is retried meanwhile)
  // before it answers UNAVAILABLE, and how long Shutdown keeps retrying what is still queued.
  absl::Duration store_write_timeout = absl::Seconds(10);
};

class RecreateEngine final : public RecreateManager {
 public:
  // Loads every stored request before returning (interrupted kills are resumed by the first ticks).
  // Errors: the store's (a record that does not parse is logged and skipped, never deleted).
  static absl::StatusOr<std::unique_ptr<RecreateEngine>> Create(cri::Runtime& runtime, Clock& clock,
                                                                store::Store& store,
                                                                PreStopRunner& prestop,
                                                                WatchHub& hub,
                                                                RecreateEngineOptions options);
  ~RecreateEngine() override;
  RecreateEngine(const RecreateEngine&) = delete;
  RecreateEngine& operator=(const RecreateEngine&) = delete;

  // Starts the tick loop and, with use_event_stream, the event subscription. Idempotent; does
  // nothing after Shutdown().
  void Start();
  // Bounded graceful shutdown: stops accepting calls (UNAVAILABLE), stops the loop and the event
  // subscription, starts no new kill (queued ones stay QUEUED: the next daemon starts them with
  // their whole hook), lets running preStop hooks finish for up to shutdown_hook_timeout (their
  // result is persisted; the stop after them is left to the next daemon) and then cancels the rest
  // (left PRESTOP_STARTED: the next daemon reports them INTERRUPTED), and abandons in-flight
  // StopContainer calls (the runtime finishes them; the next daemon waits for their timeout and
  // never sends a second SIGTERM). Every persisted step is durable when it returns. Idempotent.
  void Shutdown();
  // One poll tick (see the file comment), for tests driving time with a FakeClock (no thread
  // needed); returns once its writes are durable. Kills it decides go on asynchronously:
  // WaitForKills() waits for them. Errors: the runtime's list errors (nothing advanced then);
  // UNAVAILABLE after Shutdown.
  absl::Status TickOnce();
  // Blocks until no kill is queued or running and their writes are durable (for tests; a kill
  // waiting on a FakeClock needs the test to advance the clock).
  void WaitForKills();
  // Kills queued (beyond max_concurrent_kills) or running.
  size_t KillsInFlight();
  // The clock's time when the loop's last tick returned (absl::InfinitePast() before the first): a
  // liveness signal (a tick stuck in the runtime or the store shows as a last_tick falling behind).
  absl::Time last_tick() const { return loop_.last_tick(); }

  // Liveness for the daemon's systemd watchdog and status: when the poll loop (Start) last finished
  // a tick (last_tick()) and how many requests were open then. Lock-free, so that it answers while
  // the engine is wedged: a loop that stops ticking shows here.
  struct Pulse {
    absl::Time last_tick = absl::InfinitePast();
    int open_requests = 0;
  };
  Pulse LastPulse() const;

  // The requests' current state for the metrics exporter: how many are in each phase, and since
  // when the oldest PENDING one (not started: queued behind its pod's running request, or waiting
  // for its containers) has existed. Takes the engine's lock.
  struct Stats {
    int pending = 0;
    int recreating = 0;
    int completed = 0;
    absl::Time oldest_pending_created = absl::InfiniteFuture();  // none pending
    // Requests the ticks have run through the state machine so far: only those whose pod, queue
    // or record changed, or whose timer came (a tick costs O(changes)).
    uint64_t advances = 0;
  };
  Stats GetStats();
  // How long the loop waits after the last tick unless woken: fast_poll while a kill or restart is
  // awaited, slow_poll while a request waits on the node otherwise, resync_poll while every open
  // request waits only on timers or calls; never past the earliest timer.
  absl::Duration PollInterval();
  // The runtime event subscription's state (kDisabled without use_event_stream), for the node's
  // capabilities. Lock-free.
  EventStreamState event_stream_state() const {
    return events_ != nullptr ? events_->state() : EventStreamState::kDisabled;
  }

  // RecreateManager (errors as documented there and in recreate.proto).
  absl::StatusOr<::inplaced::v1::CreateRecreateRequestResponse> Create(
      const ::inplaced::v1::CreateRecreateRequestRequest& request) override;
  // Create's read and decision on one of kAcceptanceWorkers persistent workers (started as a burst
  // needs them; a burst beyond them queues in order), its answer once the request is durable or
  // store_write_timeout passed (what Create would answer), from the thread that saw it.
  // UNAVAILABLE once Shutdown began.
  void CreateAsync(const ::inplaced::v1::CreateRecreateRequestRequest& request,
                   CreateDone done) override;
  absl::StatusOr<::inplaced::v1::RecreateRequest> Get(
      const ::inplaced::v1::GetRecreateRequestRequest& request) override;
  absl::StatusOr<::inplaced::v1::ListRecreateRequestsResponse> List(
      const ::inplaced::v1::ListRecreateRequestsRequest& request) override;
  absl::Status Delete(const ::inplaced::v1::DeleteRecreateRequestRequest& request) override;
  absl::StatusOr<::inplaced::v1::RecreateRequest> AcknowledgeUnready(
      const ::inplaced::v1::AcknowledgeUnreadyRequest& request) override;
  absl::StatusOr<::inplaced::v1::RecreateRequest> ReportReadiness(
      const ::inplaced::v1::ReportReadinessRequest& request) override;
  absl::StatusOr<std::unique_ptr<RecreateWatch>> Watch(
      const ::inplaced::v1::WatchRecreateRequestsRequest& request) override;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace, name)

  // Why the loop ran a tick: bits of Wake's `reason`, reported by the restarts the tick observes.
  enum WakeReason : uint32_t {
    kWakeRequest = 1 << 0,       // an API call changed a request
    kWakeKill = 1 << 1,          // a kill finished
    kWakeEvent = 1 << 2,         // a runtime container event
    kWakeResubscribed = 1 << 3,  // the event stream is back after a break
  };

  using DurableRef = store::DurableRef;

  struct Entry {
    ::inplaced::internal::RecreateRecord record;
    // The entry's latest queued write (null when none was queued by this daemon): a kill decided
    // now starts once it is durable.
    DurableRef last_write;
    // Names of containers whose kill is queued or running on the executor.
    absl::flat_hash_set<std::string> kills_in_flight;
    // Set when a tick's Advance changed nothing; reset by every change of `record`. While the
    // inputs are the same and the earliest timer has not come, Advance would decide the same, so a
    // tick skips the request: a tick costs O(changes), not O(open requests).
    struct Unchanged {
      size_t pod_hash = 0;  // absl::Hash of the request's pod in the snapshot (0: not on the node)
      std::string blocked_by;
      std::optional<absl::Time> wake_at;
    };
    std::optional<Unchanged> unchanged;
    // Set (under mu_) when the request is deleted: its queued kills do not start. Shared with them
    // so a kill starts without waiting for mu_ (a tick may hold it while it decides for other
    // requests).
    std::shared_ptr<std::atomic<bool>> removed = std::make_shared<std::atomic<bool>>(false);
  };

  struct KillJob {
    Key key;
    std::string uid;  // the request instance (a request deleted and created again is another one)
    std::shared_ptr<const std::atomic<bool>> removed;
    KillAction action;
    DurableRef decided;  // the write that holds the kill's QUEUED (or resumed) step
    // Set when STOP_SENT (with this StopContainer timeout) was committed with the decision: a kill
    // without a hook that had a free slot sends its stop once the decision is durable.
    std::optional<int64_t> stop_timeout;
  };
  // A kill on its way (recreate_kills.cc): owned by its continuations.
  struct KillRun;
  using KillRunRef = std::shared_ptr<KillRun>;

  RecreateEngine(cri::Runtime& runtime, Clock& clock, store::Store& store, PreStopRunner& prestop,
                 WatchHub& hub, RecreateEngineOptions options);

  static std::string StoreKey(const Key& key);
  // "poll" when nothing woke the loop, else the WakeReason names joined with '+' ("event+kill").
  static std::string WakeReasonsName(uint32_t reasons);

  absl::Status Load();
  // The tick loop's tick: Tick, its error logged once per distinct error; returns how long the loop
  // waits for a wake-up (fast or slow poll, shortened to the earliest timed wait).
  absl::Duration LoopTick(uint32_t wake_reasons);
  // Wakes the loop; `reason` is a WakeReason bit.
  void Wake(uint32_t reason) { loop_.Wake(reason); }
  // TickOnce, woken for `wake_reasons` (0: the poll interval or a timed wait ended).
  absl::Status Tick(uint32_t wake_reasons);

  // Advance of `entry` against `snapshot` with `input` (its time and blocked_by) completed by what
  // the engine knows of it (kills in flight, the preStop parser); counted in Stats::advances.
  StepResult AdvanceLocked(const Entry& entry, const cri::NodeSnapshot& snapshot, StepInput input)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Carries out a step Advance decided for `entry` at `now`: the TTL's removal (returns false: the
  // entry is gone), or its record committed and its kills queued (the caller starts them, outside
  // mu_, with StartKills(TakeStartableKillsLocked())). `wake_reasons`: what woke the tick, for the
  // restarts it observed.
  bool ApplyStepLocked(const Key& key, Entry& entry, StepResult result, absl::Time now,
                       uint32_t wake_reasons) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Kills (recreate_kills.cc). Records STOP_SENT in `record` (the step being committed) for each of
  // `kills` that has no hook and will start at once (a free slot, not stopping): its stop then
  // needs no second write. Returns each kill's StopContainer timeout so recorded, else nullopt.
  std::vector<std::optional<int64_t>> MarkImmediateStopsLocked(
      ::inplaced::internal::RecreateRecord* record, const std::vector<KillAction>& kills,
      absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the kills a step decided for `entry` in the kill FIFO (their steps are persisted, the
  // stops MarkImmediateStopsLocked recorded with `stop_timeouts`, one per kill); never blocks.
  void DispatchKillsLocked(const Key& key, Entry& entry, std::vector<KillAction> kills,
                           std::vector<std::optional<int64_t>> stop_timeouts)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes from the FIFO the kills that may start now (below KillLimit(), not stopping), counting
  // them running; logs the limit when some have to wait.
  std::vector<KillJob> TakeStartableKillsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // max_concurrent_kills, at least 1: the one limit TakeStartableKillsLocked starts kills under and
  // MarkImmediateStopsLocked counts slots against (a stop marked sent must start at once).
  int KillLimit() const { return std::max(1, options_.max_concurrent_kills); }
  void StartKills(std::vector<KillJob> jobs) ABSL_LOCKS_EXCLUDED(mu_);
  // The steps of one kill, each a continuation (none under mu_).
  void OnKillDecided(const KillRunRef& run, const absl::Status& durable) ABSL_LOCKS_EXCLUDED(mu_);
  void OnHookStartedDurable(const KillRunRef& run, const absl::Status& durable)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnHookDone(const KillRunRef& run, const PreStopResult& result) ABSL_LOCKS_EXCLUDED(mu_);
  // The stop once its STOP_SENT write is durable; without one (the entry is gone, the daemon is
  // stopping) the kill ends here.
  void StopOnceDurable(const KillRunRef& run, DurableRef stop_sent) ABSL_LOCKS_EXCLUDED(mu_);
  void OnStopSentDurable(const KillRunRef& run, const absl::Status& durable)
      ABSL_LOCKS_EXCLUDED(mu_);
  void OnStopDone(const KillRunRef& run, const absl::Status& stopped) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the kill step's write is durable; if not (abandoned: shutting down with a failing
  // store), logs it and ends the kill without its side effect.
  bool KillStepDurable(const KillRunRef& run, const absl::Status& durable) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes the kill from its entry's kills_in_flight and ends it.
  void AbandonKill(const KillRunRef& run) ABSL_LOCKS_EXCLUDED(mu_);
  // The kill's last touch of the engine: no longer running; starts the next queued kills.
  void EndKill() ABSL_LOCKS_EXCLUDED(mu_);

  Entry* FindLocked(const Key& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The entry of `job` if it still exists as the same request instance.
  Entry* FindJobLocked(const KillJob& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Entry*> FindForCallLocked(const std::string& namespace_name,
                                           const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FindForCallLocked, FAILED_PRECONDITION when the request has completed (a call that changes it).
  absl::StatusOr<Entry*> FindOpenForCallLocked(const std::string& namespace_name,
                                               const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `record` the entry's record (with the next resource_version), publishes MODIFIED, updates
  // the per-pod queue and logs when the phase changed, and queues its write: returned, and the
  // entry's last_write.
  DurableRef CommitLocked(const Key& key, Entry& entry, ::inplaced::internal::RecreateRecord record)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the request from memory, publishes DELETED and queues the store's delete.
  DurableRef RemoveLocked(const Key& key, absl::string_view reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues `write` on the committer; a refusal or an abandoned write is logged.
  DurableRef QueueWriteLocked(store::Write write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A Create decided: the response to give once `write` (null: nothing was written) is durable.
  struct Accepted {
    ::inplaced::v1::CreateRecreateRequestResponse response;
    DurableRef write;
  };
  // Create up to its answer: validates, reads the pod, records the request and its first step and
  // starts the kills chained to them. An error is the answer itself.
  absl::StatusOr<Accepted> Accept(const ::inplaced::v1::CreateRecreateRequestRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Waits (not under mu_) up to store_write_timeout for `write`: its status, or UNAVAILABLE.
  absl::Status AwaitDurable(const DurableRef& write) {
    return store::AwaitDurable(write, options_.store_write_timeout);
  }
  uint64_t NextResourceVersionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ++last_resource_version_;
  }
  void InsertLocked(const Key& key, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Dequeue(const Key& key, const Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The name of the request this one waits behind in its pod's queue, or "".
  std::string BlockedByLocked(const Key& key, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewUidLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Duration PollIntervalLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckAcceptingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  cri::Runtime& runtime_;
  Clock& clock_;
  store::Store& store_;
  PreStopRunner& prestop_;
  WatchHub& hub_;
  const RecreateEngineOptions options_;
  Metrics& metrics_;
  const PreStopParser parse_pre_stop_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<Key, Entry> requests_ ABSL_GUARDED_BY(mu_);
  // Every request by creation sequence (the order a tick advances them in).
  std::map<uint64_t, Key> by_sequence_ ABSL_GUARDED_BY(mu_);
  // Not completed requests per pod ("namespace/pod_name"), by creation sequence: the first is the
  // head.
  std::map<std::string, std::map<uint64_t, Key>> pod_queues_ ABSL_GUARDED_BY(mu_);
  int open_requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t last_resource_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool fast_poll_ ABSL_GUARDED_BY(mu_) = false;
  // An open request's next change may come from the node before its timer (RecreateEngineOptions::
  // resync_poll otherwise).
  bool watches_node_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t advances_ ABSL_GUARDED_BY(mu_) = 0;  // Stats::advances
  // The earliest end of a timed wait seen by the last tick (the loop ticks then at the latest).
  std::optional<absl::Time> next_wake_ ABSL_GUARDED_BY(mu_);
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
  // Start times of the new instances the ticks follow, read once per instance.
  cri::StatusCache status_cache_;
  // Where CreateAsync reads and decides: a Create blocks while it reads its pod, and a burst of
  // them must not cost a thread start and exit each (the gRPC sync server's way: on 2 cores that
  // churn delayed the kills of a 200-Create burst by tens of ms). Its bound is also the bound on
  // the List calls a burst has in flight at the runtime.
  ThreadPoolExecutor acceptance_workers_;
  // The store_write_timeout bounds of CreateAsync's answers.
  TimerQueue answer_timers_;

  // Set with stopping_ at Shutdown, read by kills that have not started without taking mu_.
  std::atomic<bool> shutting_down_{false};
  // The last tick error logged (touched by the loop's thread only).
  std::string last_tick_error_;
  // LastPulse().open_requests, published by the loop after every tick.
  std::atomic<int> pulse_open_requests_{0};

  // Fired on Shutdown once running hooks had shutdown_hook_timeout to finish: the rest end.
  Cancellation hooks_cancel_;
  // Fired on Shutdown: in-flight StopContainer calls are abandoned (the runtime finishes them).
  Cancellation stops_cancel_;
  // preStop hooks running now (Shutdown waits for them, up to shutdown_hook_timeout).
  absl::Mutex hooks_mu_ ABSL_ACQUIRED_AFTER(mu_);
  int hooks_running_ ABSL_GUARDED_BY(hooks_mu_) = 0;
  // Kills decided but not started (over max_concurrent_kills), in order; and kills started whose
  // chain has not ended (Shutdown waits for none to be left: their continuations touch the engine).
  std::deque<KillJob> kill_fifo_ ABSL_GUARDED_BY(mu_);
  int kills_running_ ABSL_GUARDED_BY(mu_) = 0;
  // The limit was reached and logged; cleared once the FIFO is empty again (one line an episode).
  bool kill_limit_logged_ ABSL_GUARDED_BY(mu_) = false;
  store::GroupCommitter committer_;
  TickLoop loop_;
  std::unique_ptr<ContainerEvents> events_;  // null without use_event_stream

  // Serialises Shutdown() callers: the first one stops everything, the others wait for it.
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace inplaced::daemon

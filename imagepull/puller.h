#pragma once

// ImagePuller: the NodeImage engine. It keeps the desired spec (SetNodeImage), one task per spec
// tag (and per ad hoc PullImage), and runs the pulls on a cri::Runtime under a node-wide
// concurrency limit.
//
// The rules (round-robin slots, dedupe, attempts and backoff, deadlines, spec changes, TTL, the
// reload after a restart) are the pure state machine's, nodeimage_state_machine.h; the puller is
// its effectful shell: it feeds it the API calls, the finished attempts and the ticks, and carries
// out what it returns (StartPull under the operation's Cancellation, cancellations,
// persistence, the watches, logs). See api/inplaced/v1/nodeimage.proto for the API side.
//   * Concurrency: a CRI call that was cancelled still holds its slot until the call returns. Over
//     gRPC a cancelled call returns at once while the runtime stops its pull asynchronously, so the
//     runtime may briefly see one more pull per cancellation.
//   * Persistence: the NodeImage (spec with secrets, status) is one store record (kind
//     "nodeimage", key options.store_key), written on every change. Each accepted ad hoc pull's
//     request (with its secrets) is one more record (kind "nodeimage.adhoc", key: the image as
//     given), durable before PullImage answers and deleted once the pull finished (with or after
//     the write of its final status in the NodeImage record). Create() reloads both: unfinished
//     ad hoc pulls start again. The writes go through a GroupCommitter, as the recreate engine's:
//     queued under the lock in the order of the changes, written and fsynced outside it, one
//     fsync for all that is ready. A pull starts once the state that asks for it is durable;
//     SetNodeImage and PullImage answer then (UNAVAILABLE after store_write_timeout: the change
//     stays and is retried). Reads never wait for the store.
//
// Time: everything reads `clock`. Time-driven steps (attempt timeouts, backoff expiry, deadlines,
// TTL) happen in Tick(); spec changes and pull completions take effect immediately. Production
// calls Start() to run Tick() on a TickLoop at NextWakeTime() (that loop waits in real time: use
// it with a real clock); tests call Tick() themselves after advancing a FakeClock.
//
// Threading: one mutex guards all state; store writes are queued and publications to the watches
// happen under it (so the stored record and every watch follow the in-memory order). A pull holds
// no thread while the runtime pulls (PullImageAsync); its short blocking steps run on an Executor
// of at most max_concurrent_pulls workers, and it reports back under the mutex. All public
// methods are thread-safe. The runtime, clock, store and precheck must outlive the puller.
//
// Secrets: pull secrets live only in the task's credentials, the stored record and the CRI
// requests. Everything returned (GetNodeImage, watches) is redacted; messages are scrubbed
// (pull_attempt.h).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.pb.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "common/executor.h"
#include "common/metrics.h"
#include "common/tick_loop.h"
#include "common/watch_fanout.h"
#include "cri/runtime.h"
#include "imagepull/nodeimage_manager.h"
#include "imagepull/nodeimage_state_machine.h"
#include "imagepull/nodeimage_validation.h"
#include "imagepull/pull_attempt.h"
#include "imagepull/pull_precheck.h"
#include "imagepull/pull_progress_tracker.h"
#include "store/durable_write.h"
#include "store/group_committer.h"
#include "store/store.h"

namespace inplaced::imagepull {

// The store kind of the NodeImage record.
inline constexpr char kNodeImageStoreKind[] = "nodeimage";
// The store kind of the requests of unfinished ad hoc pulls (key: the image as given).
inline constexpr char kAdHocPullStoreKind[] = "nodeimage.adhoc";

struct PullerOptions {
  // Node-wide limit on concurrent pull operations. 1-64.
  int max_concurrent_pulls = 3;
  // The key of the NodeImage record in the store.
  std::string store_key = "node";
  // Input limits (SetNodeImage / PullImage validation).
  NodeImageLimits limits;
  // Longest wait of the background loop between two ticks (a safety net; ticks also happen when
  // the state changes).
  absl::Duration max_tick_interval = absl::Seconds(1);
  // Where finished pull attempts are reported (result, duration); null: NoMetrics().
  Metrics* metrics = nullptr;
  // Byte progress of the pulls (not owned; must outlive the puller). Null: statuses have no
  // pull_progress (phases only).
  PullProgressTracker* progress = nullptr;
  // How often the progress is sampled, and the least time between two published progress changes
  // (a watch sees at most 1 / progress_interval progress updates per second).
  absl::Duration progress_interval = absl::Milliseconds(250);
  // How long SetNodeImage and PullImage wait for their change to be durable before answering
  // UNAVAILABLE (the change stays and its write is retried); also Shutdown's bound on writing
  // what is queued.
  absl::Duration store_write_timeout = absl::Seconds(10);
};

class ImagePuller final : public NodeImageManager {
 public:
  // Loads the NodeImage record from `store` (none: an empty spec at generation 0) and schedules the
  // unfinished pulls, which start right away. `precheck` may be null. INVALID_ARGUMENT for bad
  // options; the store's error when it cannot be read; DATA_LOSS when the record does not parse.
  static absl::StatusOr<std::unique_ptr<ImagePuller>> Create(cri::Runtime& runtime, Clock& clock,
                                                             store::Store& store,
                                                             PullPrecheck* precheck,
                                                             PullerOptions options = {});
  ImagePuller(const ImagePuller&) = delete;
  ImagePuller& operator=(const ImagePuller&) = delete;
  // Shutdown().
  ~ImagePuller() override;

  // SetNodeImage: validates, applies defaults, checks the generation (ABORTED when stale unless
  // request.force), stores the spec and reconciles the tasks. Returns the new redacted NodeImage.
  // Errors: INVALID_ARGUMENT, ABORTED, the store's error (nothing changed then).
  absl::StatusOr<::inplaced::v1::NodeImage> SetNodeImage(
      const ::inplaced::v1::SetNodeImageRequest& request) override;

  // The current NodeImage, redacted.
  ::inplaced::v1::NodeImage GetNodeImage() const override;

  // Starts an ad hoc pull (or returns the unfinished one for the same reference). Returns its
  // status at acceptance. Errors: INVALID_ARGUMENT.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> PullImage(
      const ::inplaced::v1::PullImageRequest& request) override;

  // The status of the ad hoc pull of `image` (as given to PullImage); NOT_FOUND when there is none.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> GetAdHocPull(const std::string& image) const;

  // Blocks until the ad hoc pull of `image` is SUCCEEDED or FAILED and returns its final status
  // (for PullImageRequest.wait). NOT_FOUND when there is no such pull (or it was dropped
  // meanwhile); CANCELLED when `cancel` (may be null; e.g. wired to the RPC's cancellation) fires
  // first; UNAVAILABLE when the puller shuts down. `cancel` must not be one the puller itself
  // cancels.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> WaitAdHocPull(const std::string& image,
                                                                Cancellation* cancel) override;

  // The redacted NodeImage (unless request.skip_initial_state), then the one after each change,
  // in increasing metadata.resource_version (coalesced for a slow reader). Ends with UNAVAILABLE
  // when the puller shuts down.
  absl::StatusOr<std::unique_ptr<::inplaced::Watch<::inplaced::v1::NodeImage>>> Watch(
      const ::inplaced::v1::WatchNodeImageRequest& request) override;

  // Runs the time-driven steps at clock.Now(): attempt timeouts (cancelling CRI calls), deadlines,
  // backoff expiry (starting retries), TTL expiry. Cheap when nothing is due.
  void Tick();
  // When the next time-driven step is due (InfiniteFuture when none).
  absl::Time NextWakeTime() const;

  // Samples the byte progress of the running pulls (options.progress) and publishes what moved,
  // unless the last published progress is younger than options.progress_interval at clock.Now()
  // (the sample is then dropped: the next one carries the news). The progress is not persisted.
  // Start() runs it every progress_interval; tests call it after advancing a FakeClock.
  void SampleProgress();

  // Runs Tick() on a background TickLoop, at NextWakeTime() (at least every
  // options.max_tick_interval) and at once after a change. Idempotent; nothing after Shutdown().
  void Start();
  // Stops the loop, cancels every in-flight pull and waits for the attempts to end; waits and
  // watches end with UNAVAILABLE, later calls answer UNAVAILABLE. The stored state keeps the
  // unfinished tags, which resume on the next Create(). Idempotent.
  void Shutdown();

  // Blocks until every change made before the call is durable (or abandoned). For tests.
  void FlushWrites();

  // The number of pull operations holding a slot (started and not finished).
  int RunningPulls() const;
  // Open WatchNodeImage streams (for metrics).
  int ActiveWatches() { return fanout_.ActiveWatches(); }
  // Blocks (without a timeout) until `done(snapshot, RunningPulls())` is true. The snapshot is
  // redacted.
  void AwaitState(
      const std::function<bool(const ::inplaced::v1::NodeImage&, int running_pulls)>& done) const;

 private:
  ImagePuller(cri::Runtime& runtime, Clock& clock, store::Store& store, PullPrecheck* precheck,
              PullerOptions options);

  // Runs `input` through the state machine at clock.Now(), commits its state and carries out its
  // effects. Refused inputs (Transition::status) change nothing.
  nodeimage::Transition StepLocked(nodeimage::Input input) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  enum class Persistence {
    kDurable,    // a change is written to the store
    kTransient,  // published only (the byte progress)
  };
  // Commits `transition.state` and carries out its effects: logs, cancels, and when changed queues
  // the record's write (kDurable) and publishes the redacted snapshot; the attempts start on the
  // pool once that write is durable. Returns the write (null when none was queued).
  store::DurableRef CommitLocked(nodeimage::Transition& transition,
                                 Persistence persistence = Persistence::kDurable)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts one attempt of operation `id` (StartPull: its blocking steps on the pool, the pull
  // itself holding no thread), unless the puller is shutting down; OnAttemptFinished follows.
  void RunAttempt(uint64_t id, PullJob job, std::shared_ptr<Cancellation> cancel)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The attempt ended (StartPull's done, on a pool or runtime thread).
  void OnAttemptFinished(uint64_t operation, PullOutcome outcome) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues the write of the NodeImage record (unredacted state_).
  store::DurableRef QueueNodeRecordLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the write of an accepted ad hoc pull's request (validated, defaulted, with secrets).
  void QueueAdHocRequestLocked(const ::inplaced::v1::PullImageRequest& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the deletion of the stored requests of ad hoc pulls that finished or are gone, behind
  // the write of their final status.
  void ForgetFinishedAdHocRequestsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The loop's tick: Tick(), then how long to wait for the next one.
  absl::Duration TickAndWait();

  // The progress loop's tick: SampleProgress(), then progress_interval.
  absl::Duration SampleAndWait();

  cri::Runtime& runtime_;
  Clock& clock_;
  store::Store& store_;
  PullPrecheck* const precheck_;
  const PullerOptions options_;
  Metrics& metrics_;

  mutable absl::Mutex mu_;
  nodeimage::State state_ ABSL_GUARDED_BY(mu_);
  // The cancellation of each running operation (by id), fired by a cancel effect or at shutdown.
  std::map<uint64_t, std::shared_ptr<Cancellation>> cancels_ ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Attempts started and not yet finished (Shutdown waits for them: their callbacks use `this`).
  int attempts_running_ ABSL_GUARDED_BY(mu_) = 0;
  // Whether the NodeImage record is in the store (or its creation queued).
  bool node_record_stored_ ABSL_GUARDED_BY(mu_) = false;
  // Images whose ad hoc request record is in the store (or its write queued).
  std::set<std::string> stored_ad_hoc_ ABSL_GUARDED_BY(mu_);
  // When progress was last published (rate limit of SampleProgress).
  absl::Time last_progress_publish_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();

  // Publishes every change under mu_ (so watches see them in order); one object, one key.
  WatchFanout<::inplaced::v1::NodeImage> fanout_{
      [](const ::inplaced::v1::NodeImage&) { return std::string("node"); }};

  // Writes the records: one fsync for every change ready at that moment, outside mu_.
  store::GroupCommitter committer_;
  // Where the attempts' blocking steps run (presence check, precheck, ImageStatus): at most
  // max_concurrent_pulls workers, started as needed; none is held while the runtime pulls.
  std::unique_ptr<Executor> executor_;
  TickLoop loop_;
  // Samples the byte progress (only with options.progress).
  TickLoop progress_loop_;
};

}  // namespace inplaced::imagepull

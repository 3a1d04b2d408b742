#pragma once

// ImagePuller: the NodeImage engine. It keeps the desired spec (SetNodeImage), one task per spec
// tag (and per ad hoc PullImage), and runs the pulls on a cri::Runtime under a node-wide
// concurrency limit.
//
// Semantics (see api/inplaced/v1/nodeimage.proto for the API side):
//   * Concurrency: at most `max_concurrent_pulls` pull operations run at once (default 3; a CRI
//     call that was cancelled still holds its slot until the call returns. Over gRPC a cancelled
//     call returns at once while the runtime stops its pull asynchronously, so the runtime may
//     briefly see one more pull per cancellation). Slots go round-robin over the images (spec
//     order, ad hoc pulls last as one more "image"), so one image with many tags cannot starve the
//     others; within an image, tags go in spec order.
//   * Dedupe: tasks with the same pulled reference, pull policy and credentials share one operation
//     (a task that becomes ready while such an operation runs joins it without taking a slot). The
//     operation is cancelled only when no task waits on it any more.
//   * Attempts: each attempt (presence check under IF_NOT_PRESENT, precheck hook, PullImage per
//     credential then anonymous) is bounded by timeout_seconds (and by what remains of
//     active_deadline_seconds): at that point the task leaves the operation, which is cancelled
//     through its Cancellation when nobody else waits. A failed attempt is retried after 1 s, 2 s,
//     ... 30 s, up to backoff_limit retries. active_deadline_seconds counts from the first
//     attempt's start.
//   * Spec changes: a removed tag or image cancels its task; a changed version restarts it
//     (WAITING); a changed pull policy or secret applies from the next attempt. Finished tags
//     whose ttl_seconds_after_finished passed are removed from spec and status (generation + 1).
//   * Persistence: the NodeImage (spec with secrets, status) is one store record (kind
//     "nodeimage", key options.store_key), written on every change. Create() reloads it: finished tags of the same
//     version stay finished; unfinished ones start again (WAITING, attempts and deadline restart,
//     as in Kruise); unfinished ad hoc pulls become FAILED (their secrets are not kept for them).
//
// Time: everything reads `clock`. Time-driven steps (attempt timeouts, backoff expiry, deadlines,
// TTL) happen in Tick(); spec changes and pull completions take effect immediately. Production
// calls Start() to run Tick() on a background thread at NextWakeTime() (that loop waits in real
// time: use it with a real clock); tests call Tick() themselves after advancing a FakeClock.
//
// Threading: one mutex guards all state; store writes happen under it (so the stored record always
// follows the in-memory order). Pulls run on an internal WorkerPool of max_concurrent_pulls
// threads, which report back under the mutex. Subscriber callbacks run outside that mutex, one at a
// time, on whichever thread made a change (an RPC thread, a worker, the tick thread), and see every
// snapshot in increasing metadata.resource_version. A callback may call the puller's getters but
// must be short (it delays the thread that made the change) and must not call
// Subscribe/Unsubscribe. All public methods are thread-safe. The runtime, clock, store and precheck
// must outlive the puller.
//
// Secrets: pull secrets live only in the task's credentials, the stored record and the CRI
// requests. Everything returned (GetNodeImage, callbacks) is redacted; messages are scrubbed
// (pull_attempt.h).

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
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
#include "cri/runtime.h"
#include "store/store.h"
#include "imagepull/nodeimage_validation.h"
#include "imagepull/pull_attempt.h"
#include "imagepull/pull_precheck.h"
#include "imagepull/worker_pool.h"

namespace inplaced::imagepull {

// The store kind of the NodeImage record.
inline constexpr char kNodeImageStoreKind[] = "nodeimage";

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
};

class ImagePuller {
 public:
  // Called with a redacted snapshot after every change.
  using Subscriber = std::function<void(const ::inplaced::v1::NodeImage&)>;

  // Loads the NodeImage record from `store` (none: an empty spec at generation 0) and schedules the
  // unfinished pulls, which start right away. `precheck` may be null. INVALID_ARGUMENT for bad
  // options; the store's error when it cannot be read; DATA_LOSS when the record does not parse.
  static absl::StatusOr<std::unique_ptr<ImagePuller>> Create(cri::Runtime& runtime, Clock& clock,
                                                             store::Store& store,
                                                             PullPrecheck* precheck,
                                                             PullerOptions options = {});
  ImagePuller(const ImagePuller&) = delete;
  ImagePuller& operator=(const ImagePuller&) = delete;
  // Stops the loop, cancels every in-flight pull and waits for the workers. The stored state keeps
  // the unfinished tags, which resume on the next Create().
  ~ImagePuller();

  // SetNodeImage: validates, applies defaults, checks the generation (ABORTED when stale unless
  // request.force), stores the spec and reconciles the tasks. Returns the new redacted NodeImage.
  // Errors: INVALID_ARGUMENT, ABORTED, the store's error (nothing changed then).
  absl::StatusOr<::inplaced::v1::NodeImage> SetNodeImage(
      const ::inplaced::v1::SetNodeImageRequest& request);

  // The current NodeImage, redacted.
  ::inplaced::v1::NodeImage GetNodeImage() const;

  // Starts an ad hoc pull (or returns the unfinished one for the same reference). Returns its
  // status at acceptance. Errors: INVALID_ARGUMENT.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> PullImage(
      const ::inplaced::v1::PullImageRequest& request);

  // The status of the ad hoc pull of `image` (as given to PullImage); NOT_FOUND when there is none.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> GetAdHocPull(const std::string& image) const;

  // Blocks until the ad hoc pull of `image` is SUCCEEDED or FAILED and returns its final status
  // (for PullImageRequest.wait). NOT_FOUND when there is no such pull (or it was dropped
  // meanwhile); CANCELLED when `cancel` (may be null; e.g. wired to the RPC's cancellation) fires
  // first; UNAVAILABLE when the puller shuts down. `cancel` must not be one the puller itself
  // cancels.
  absl::StatusOr<::inplaced::v1::AdHocPullStatus> WaitAdHocPull(const std::string& image,
                                                                Cancellation* cancel);

  // Registers `subscriber`; returns an id for Unsubscribe. Unsubscribe() returning guarantees the
  // callback is not running and will not run again. A callback must not call Subscribe/Unsubscribe.
  int Subscribe(Subscriber subscriber);
  void Unsubscribe(int id);

  // Runs the time-driven steps at clock.Now(): attempt timeouts (cancelling CRI calls), deadlines,
  // backoff expiry (starting retries), TTL expiry. Cheap when nothing is due.
  void Tick();
  // When the next time-driven step is due (InfiniteFuture when none).
  absl::Time NextWakeTime() const;

  // Runs Tick() on a background thread until Stop() or destruction. Idempotent.
  void Start();
  void Stop();

  // Test hooks. The number of pull operations holding a slot (running on a worker).
  int RunningPulls() const;
  // Blocks (without a timeout) until `done(snapshot, RunningPulls())` is true. The snapshot is
  // redacted.
  void AwaitState(
      const std::function<bool(const ::inplaced::v1::NodeImage&, int running_pulls)>& done) const;

 private:
  struct TaskKey {
    bool ad_hoc = false;
    std::string image;  // ImageSpec.name, or the ad hoc reference as given
    std::string tag;    // ImageTagSpec.tag ("" for ad hoc)
    friend bool operator<(const TaskKey& a, const TaskKey& b) {
      return std::tie(a.ad_hoc, a.image, a.tag) < std::tie(b.ad_hoc, b.image, b.tag);
    }
    friend bool operator==(const TaskKey& a, const TaskKey& b) {
      return a.ad_hoc == b.ad_hoc && a.image == b.image && a.tag == b.tag;
    }
  };
  // One running pull operation (a RunPull on a worker), shared by the tasks waiting on it.
  struct Operation {
    Operation(std::string key_in, PullJob job_in)
        : key(std::move(key_in)), job(std::move(job_in)) {}

    std::string key;  // dedupe key: reference, policy and a hash of the credentials
    PullJob job;
    Cancellation cancel;
    std::set<TaskKey> waiters;
  };

  // One spec tag or ad hoc pull.
  struct Task {
    enum class State { kQueued, kPulling, kFinished };

    Task(TaskKey key_in, PullJob job_in) : key(std::move(key_in)), job(std::move(job_in)) {}

    TaskKey key;
    PullJob job;
    std::string dedupe_key;
    absl::Duration timeout = absl::Seconds(kDefaultPullTimeoutSeconds);
    int backoff_limit = kDefaultBackoffLimit;
    std::optional<absl::Duration> active_deadline;
    std::optional<absl::Duration> ttl;

    ::inplaced::v1::ImageTagStatus status;
    State state = State::kQueued;
    // kQueued: not before this time (backoff).
    absl::Time ready_at = absl::InfinitePast();
    int failed_attempts = 0;
    // The first attempt's start (active_deadline counts from it).
    std::optional<absl::Time> first_start;
    // kPulling: when the current attempt times out.
    absl::Time attempt_deadline = absl::InfiniteFuture();
    std::shared_ptr<Operation> op;  // kPulling only
  };

  ImagePuller(cri::Runtime& runtime, Clock& clock, store::Store& store, PullPrecheck* precheck,
              PullerOptions options);

  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Builds the tasks of the spec, keeping those that continue (same version).
  void ReconcileLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A fresh WAITING task for one spec tag (or an ad hoc pull).
  Task NewTaskLocked(const TaskKey& key, const ImageReference& ref, int64_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the pull inputs of `task` (credentials matched from `secrets`, policy, sandbox, dedupe
  // key).
  static void ApplyInputs(Task& task,
                          const google::protobuf::RepeatedPtrField<std::string>& secrets,
                          const ::inplaced::v1::PullPolicy& policy,
                          ::inplaced::v1::ImagePullPolicy image_pull_policy,
                          const ::inplaced::v1::SandboxConfig& sandbox);
  // Takes `task` off its operation; cancels the operation when nobody else waits on it.
  void DetachLocked(Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts or joins operations for ready tasks within the limit. True when any task started.
  bool ScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The first ready (queued, backoff over) task among `image_tasks`, or null.
  Task* NextReadyTaskLocked(const std::vector<TaskKey>& image_tasks, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tasks grouped per image in round-robin order (spec images, then ad hoc pulls).
  std::vector<std::vector<TaskKey>> ImageOrderLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartAttemptLocked(Task& task, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A failed attempt: retry later, or FAILED.
  void AttemptFailedLocked(Task& task, const std::string& message, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An attempt the runtime never answered (PullOutcome::runtime_unreachable): retried after
  // kRuntimeUnreachableRetry without counting against backoff_limit; the active deadline still
  // applies.
  void RuntimeUnreachableLocked(Task& task, const std::string& message, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // FAILED when the task's active deadline has passed (true), `message` being the last error.
  bool FinishIfPastDeadlineLocked(Task& task, const std::string& message, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(Task& task, bool succeeded, const std::string& message, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Worker side: an operation returned.
  void OnOperationDone(const std::shared_ptr<Operation>& op, PullOutcome outcome);
  // Removes finished tasks whose TTL expired (spec tags also leave the spec). True when any did.
  bool ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ::inplaced::v1::NodeImage SnapshotLocked(bool redact) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the record (unredacted); logs a failure (the in-memory state stays authoritative and the
  // next change writes again).
  absl::Status PersistLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Bumps resource_version, persists, queues the redacted snapshot for Notify() and returns it.
  ::inplaced::v1::NodeImage ChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers the queued snapshots to the subscribers, in order. Call without mu_ held.
  void Notify() ABSL_LOCKS_EXCLUDED(mu_);

  void Loop();

  cri::Runtime& runtime_;
  Clock& clock_;
  store::Store& store_;
  PullPrecheck* const precheck_;
  const PullerOptions options_;

  mutable absl::Mutex mu_;
  ::inplaced::v1::NodeImageSpec spec_ ABSL_GUARDED_BY(mu_);  // with secrets
  ::inplaced::v1::NodeImageMetadata metadata_ ABSL_GUARDED_BY(mu_);
  std::map<TaskKey, Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> ad_hoc_order_ ABSL_GUARDED_BY(mu_);  // ad hoc images, oldest first
  // Joinable operations by dedupe key (a cancelled one is removed here but still holds a slot).
  std::map<std::string, std::shared_ptr<Operation>> operations_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  // Round-robin cursor: the index (in ImageOrderLocked()) of the image served last.
  int cursor_ ABSL_GUARDED_BY(mu_) = -1;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool loop_running_ ABSL_GUARDED_BY(mu_) = false;
  bool loop_stop_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;

  // Snapshots not yet delivered to the subscribers, oldest first.
  std::deque<::inplaced::v1::NodeImage> pending_notifications_ ABSL_GUARDED_BY(mu_);

  absl::Mutex subscribers_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::map<int, Subscriber> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);
  int next_subscriber_id_ ABSL_GUARDED_BY(subscribers_mu_) = 0;

  std::unique_ptr<WorkerPool> pool_;
  std::thread loop_thread_;
};

}  // namespace inplaced::imagepull

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "cri/runtime.h"
#include "tests/fakes/event_queue.h"
#include "tests/fakes/pod_lifecycle.h"
#include "tests/fakes/runtime_profile.h"

namespace inplaced::fakes {

namespace criv1 = ::runtime::v1;

// How a container's process reacts to its stop signal (SIGTERM).
struct StopBehaviour {
  // true: the process exits `term_exit_delay` after the stop signal with `term_exit_code`.
  // false: it ignores the signal and dies of SIGKILL (137) when the stop timeout passes.
  bool honours_term = true;
  absl::Duration term_exit_delay = absl::ZeroDuration();
  int term_exit_code = 143;
};

// A scripted ExecSync answer.
struct ExecResult {
  std::string stdout_text;
  std::string stderr_text;
  int exit_code = 0;
  // How long the command runs (on the runtime's clock).
  absl::Duration duration = absl::ZeroDuration();
  // The command never ends by itself: only the timeout or a cancellation ends the call.
  bool hang = false;
};

// A scripted PullImage outcome for one image reference.
struct PullScript {
  // How long the pull takes (on the runtime's clock).
  absl::Duration duration = absl::ZeroDuration();
  // The pull stalls until cancelled.
  bool hang = false;
  // The first this many pulls of the image stall until cancelled (a daemon stopped mid-pull); the
  // later ones follow the rest of the script.
  int hang_first_pulls = 0;
  // Called (on the pulling thread) when a pull of the image starts to stall.
  std::function<void()> on_hang;
  // Non-OK: the pull fails with this status after `duration`.
  absl::Status failure;
  // Set: the registry wants these credentials (username+password, or auth, or identity/registry
  // token must match); anything else fails like containerd's 401.
  std::optional<criv1::AuthConfig> required_auth;
  uint64_t size_bytes = 8 * 1024 * 1024;
};

struct SignalRecord {
  std::string container_id;
  std::string signal;  // "SIGTERM" or "SIGKILL".
  absl::Time at;
};

struct ExecRecord {
  std::string container_id;
  std::vector<std::string> cmd;
  int64_t timeout_seconds = 0;
};

struct PullRecord {
  std::string image;
  criv1::AuthConfig auth;
};

// Options for AddPods().
struct BulkPodOptions {
  std::string namespace_ = "bulk";
  std::string name_prefix = "pod-";
  std::string image = "registry.local/app:1";
  int64_t termination_grace_period_seconds = 30;
  bool host_network = false;
};

// An in-memory CRI runtime that behaves like containerd or CRI-O (RuntimeProfile) as seen over the
// CRI: inplaced's cri::Runtime and kubelet's PodLifecycle on one node state, stop-signal semantics
// on an injected clock, ExecSync handlers, image pulls with scripted durations and failures, and
// container events.
//
// Blocking calls (StopContainer waiting for an exit, ExecSync, PullImage, injected latency) wait on
// the injected Clock, so with a FakeClock a test advances the time (FakeClock::WaitForSleepers()
// first) to make them progress. Every call is logged (Calls()), may carry an injected latency, and
// fails with the next injected error for its method name if any (consumed once, FIFO).
//
// Thread-safe: one mutex guards the state; no lock is held while a call waits on the clock.
class FakeRuntime final : public cri::Runtime, public PodLifecycle {
 public:
  // `clock` must outlive the runtime. `seed` makes the generated ids reproducible.
  explicit FakeRuntime(Clock& clock, RuntimeProfile profile = RuntimeProfile::Containerd16(),
                       uint64_t seed = 1);
  // Ends every open event stream (Read() returns false, Finish() OK).
  ~FakeRuntime() override;
  FakeRuntime(const FakeRuntime&) = delete;
  FakeRuntime& operator=(const FakeRuntime&) = delete;

  // ---- cri::Runtime ----
  absl::StatusOr<criv1::VersionResponse> Version(const criv1::VersionRequest& request) override;
  absl::StatusOr<criv1::StatusResponse> Status(const criv1::StatusRequest& request) override;
  // NOT_FOUND for unknown ids.
  absl::StatusOr<criv1::PodSandboxStatusResponse> PodSandboxStatus(
      const criv1::PodSandboxStatusRequest& request) override;
  // Filters: id (or unique prefix), state, label_selector (exact, ANDed).
  absl::StatusOr<criv1::ListPodSandboxResponse> ListPodSandbox(
      const criv1::ListPodSandboxRequest& request) override;
  // Signal semantics (cri-reference.md §4.3): timeout 0 kills at once (137; CRI-O signals first);
  // else the stop signal is sent once per container, the call returns when the process exits (143
  // after the container's term_exit_delay if it honours TERM) or is killed at its own timeout
  // (137). Not running → OK. Unknown id → per profile NOT_FOUND or OK.
  absl::Status StopContainer(const criv1::StopContainerRequest& request) override;
  // The same; `cancel` ends the wait with CANCELLED (the stop goes on: the signal was sent and the
  // kill deadline stays).
  absl::Status StopContainerCancellable(const criv1::StopContainerRequest& request,
                                        Cancellation* cancel) override;
  // Filters: id / pod_sandbox_id (or unique prefixes), state, label_selector.
  absl::StatusOr<criv1::ListContainersResponse> ListContainers(
      const criv1::ListContainersRequest& request) override;
  // NOT_FOUND for unknown ids.
  absl::StatusOr<criv1::ContainerStatusResponse> ContainerStatus(
      const criv1::ContainerStatusRequest& request) override;
  // Answers from SetExecHandler() (default: exit 0, no output). Timeout per profile; CANCELLED when
  // `cancel` fires first.
  absl::StatusOr<criv1::ExecSyncResponse> ExecSync(const criv1::ExecSyncRequest& request,
                                                   Cancellation* cancel) override;
  // The asynchronous calls: a tracked thread per call runs the blocking call above
  // (StopContainerCancellable / ExecSync: same log, latency, injected errors and answers) and then
  // `done` (acceptable in a fake; the real runtime holds no thread). The call is logged when its
  // thread starts it. The destructor joins the threads: a test ends its calls first (cancel them,
  // or advance the clock).
  void StopContainerAsync(const criv1::StopContainerRequest& request, Cancellation* cancel,
                          std::function<void(absl::Status)> done) override;
  void ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                     std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) override;
  // Per profile: UNIMPLEMENTED, a stream that ends at once, a shared channel or a broadcast stream.
  absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> GetContainerEvents() override;

  // ImageService. Image references are normalised like containerd ("busybox" →
  // "docker.io/library/busybox:latest").
  absl::StatusOr<criv1::ImageStatusResponse> ImageStatus(
      const criv1::ImageStatusRequest& request) override;
  // Follows SetPullScript() (default: succeeds at once). CANCELLED when `cancel` fires first.
  absl::StatusOr<criv1::PullImageResponse> PullImage(const criv1::PullImageRequest& request,
                                                     Cancellation* cancel) override;
  // PullImage on a tracked thread of its own, like the asynchronous calls above.
  void PullImageAsync(const criv1::PullImageRequest& request, Cancellation* cancel,
                      std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) override;
  absl::StatusOr<criv1::ImageFsInfoResponse> ImageFsInfo(
      const criv1::ImageFsInfoRequest& request) override;

  // ---- PodLifecycle (what kubelet does) ----
  // READY sandbox with a 64-hex id; host-network pods get no IP, others 10.88.x.y.
  absl::StatusOr<criv1::RunPodSandboxResponse> RunPodSandbox(
      const criv1::RunPodSandboxRequest& request) override;
  // NOTREADY; its running containers are killed at once (137). Idempotent.
  absl::Status StopPodSandbox(const criv1::StopPodSandboxRequest& request) override;
  // Removes the sandbox and its containers. Idempotent.
  absl::Status RemovePodSandbox(const criv1::RemovePodSandboxRequest& request) override;
  // NOT_FOUND for an unknown sandbox, FAILED_PRECONDITION for a NOTREADY one, UNKNOWN "failed to
  // reserve container name ..." when (name, attempt) already exists in the sandbox.
  absl::StatusOr<criv1::CreateContainerResponse> CreateContainer(
      const criv1::CreateContainerRequest& request) override;
  // NOT_FOUND unknown; FAILED_PRECONDITION unless CREATED.
  absl::Status StartContainer(const criv1::StartContainerRequest& request) override;
  // Kills a running container first. Idempotent.
  absl::Status RemoveContainer(const criv1::RemoveContainerRequest& request) override;
  // Image references are normalised as in ImageService above.
  absl::StatusOr<criv1::ListImagesResponse> ListImages(
      const criv1::ListImagesRequest& request) override;
  absl::Status RemoveImage(const criv1::RemoveImageRequest& request) override;

  // ---- Test hooks ----
  const RuntimeProfile& profile() const { return profile_; }

  // The next call of `method` (e.g. "StopContainer") fails with `error`; queued FIFO, consumed
  // once.
  void InjectError(absl::string_view method, absl::Status error);
  // Every call of `method` first waits `latency` on the clock.
  void SetLatency(absl::string_view method, absl::Duration latency);
  // Method names in call order.
  std::vector<std::string> Calls() const;
  int CallCount(absl::string_view method) const;
  void ClearCalls();

  // Stop behaviour of containers created from now on, and of one existing container (NOT_FOUND).
  void SetDefaultStopBehaviour(const StopBehaviour& behaviour);
  absl::Status SetStopBehaviour(absl::string_view container_id, const StopBehaviour& behaviour);
  std::vector<SignalRecord> Signals() const;
  // The signals sent to one container, in order ("SIGTERM", "SIGKILL").
  std::vector<std::string> SignalsOf(absl::string_view container_id) const;
  // The container's process exits by itself with `exit_code` (NOT_FOUND unknown,
  // FAILED_PRECONDITION when not running).
  absl::Status ExitContainer(absl::string_view container_id, int exit_code);

  // ExecSync of exactly `cmd` in the container with this id or name answers `result`; an empty
  // `cmd` matches any command. Id matches win over name matches.
  void SetExecHandler(absl::string_view container_id_or_name, std::vector<std::string> cmd,
                      ExecResult result);
  std::vector<ExecRecord> Execs() const;

  void SetPullScript(absl::string_view image, PullScript script);
  std::vector<PullRecord> Pulls() const;
  int InFlightPulls() const;
  int MaxConcurrentPulls() const;
  // Makes an image present without a pull.
  void AddImage(absl::string_view image, uint64_t size_bytes = 8 * 1024 * 1024);
  // ImageFsInfo used bytes; unset: the sum of the image sizes.
  void SetImageFsUsedBytes(uint64_t used_bytes);

  // Creates `pods` READY sandboxes with `containers_per_pod` RUNNING containers each ("c0", "c1",
  // ...), labelled and annotated like kubelet does, without going through the CRI calls (no call
  // log, no injected errors or latency; open event streams still see the events). Returns the
  // sandbox ids.
  std::vector<std::string> AddPods(int pods, int containers_per_pod,
                                   const BulkPodOptions& options = {});

  // Asynchronous calls whose `done` has not returned yet.
  int AsyncCallsInFlight() const;

  // Open event streams (broadcast) or readers of the shared channel.
  int EventSubscribers() const;
  // Ends every open event stream with `status` (Finish() answers it), as a runtime restart does
  // (use UNAVAILABLE); later subscriptions work again. Events pushed in between reach no stream.
  void BreakEventStreams(absl::Status status);

 private:
  struct Sandbox {
    criv1::PodSandboxStatus status;
  };
  struct Container {
    std::string sandbox_id;
    criv1::ContainerStatus status;
    std::string image_id;  // Config digest: Container.image_ref/image_id in listings.
    StopBehaviour behaviour;
    bool stop_signalled = false;
    std::optional<absl::Time> term_exit_at;
    // The earliest SIGKILL deadline of the StopContainer calls in progress.
    std::optional<absl::Time> kill_at;
    // Cancelled when the process exits: wakes StopContainer calls waiting on the clock.
    std::shared_ptr<Cancellation> exited = std::make_shared<Cancellation>();
  };
  struct StoredImage {
    criv1::Image image;
  };

  // Runs `work` on a new tracked thread (joining the finished ones first).
  void SpawnAsync(std::function<void()> work) ABSL_LOCKS_EXCLUDED(async_mu_);

  // Logs the call, waits its latency and pops its injected error.
  absl::Status BeginCall(absl::string_view method) ABSL_LOCKS_EXCLUDED(mu_);

  std::string NewIdLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewSandboxIpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return clock_.Now(); }
  int64_t NowNanos() { return absl::ToUnixNanos(clock_.Now()); }

  std::string CreateSandboxLocked(const criv1::PodSandboxConfig& config, const std::string& handler)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> CreateContainerLocked(const std::string& sandbox_id,
                                                    const criv1::ContainerConfig& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartContainerLocked(Container& container) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExitLocked(Container& container, int exit_code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordSignalLocked(const std::string& id, const std::string& signal)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveContainerLocked(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::shared_ptr<Container> FindContainerLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  criv1::Container ToContainerLocked(const std::string& id, const Container& container) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Events.
  void EmitLocked(const std::string& container_id, const std::string& sandbox_id,
                  criv1::ContainerEventType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasSubscribersLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Images.
  StoredImage* FindImageLocked(const std::string& reference) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StoredImage& StoreImageLocked(const std::string& reference, uint64_t size_bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const RuntimeProfile profile_;

  // The asynchronous calls' threads by serial number, and the serials of those that finished (joined
  // by the next SpawnAsync or the destructor).
  mutable absl::Mutex async_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::map<uint64_t, std::thread> async_threads_ ABSL_GUARDED_BY(async_mu_);
  std::vector<uint64_t> async_finished_ ABSL_GUARDED_BY(async_mu_);
  uint64_t next_async_ ABSL_GUARDED_BY(async_mu_) = 0;
  int async_in_flight_ ABSL_GUARDED_BY(async_mu_) = 0;

  mutable absl::Mutex mu_;
  std::mt19937_64 random_ ABSL_GUARDED_BY(mu_);
  uint32_t next_ip_ ABSL_GUARDED_BY(mu_) = 2;
  std::map<std::string, Sandbox> sandboxes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Container>> containers_ ABSL_GUARDED_BY(mu_);
  StopBehaviour default_behaviour_ ABSL_GUARDED_BY(mu_);
  std::vector<SignalRecord> signals_ ABSL_GUARDED_BY(mu_);

  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<absl::Status>> injected_errors_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Duration> latencies_ ABSL_GUARDED_BY(mu_);

  struct ExecHandler {
    std::string target;  // container id or name
    std::vector<std::string> cmd;
    ExecResult result;
  };
  std::vector<ExecHandler> exec_handlers_ ABSL_GUARDED_BY(mu_);
  std::vector<ExecRecord> execs_ ABSL_GUARDED_BY(mu_);

  // Keyed by image id.
  std::map<std::string, StoredImage> images_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, PullScript> pull_scripts_ ABSL_GUARDED_BY(mu_);  // keyed by normalised ref
  std::vector<PullRecord> pulls_ ABSL_GUARDED_BY(mu_);
  int in_flight_pulls_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_pulls_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<uint64_t> image_fs_used_bytes_ ABSL_GUARDED_BY(mu_);

  // Broadcast: one queue per stream. Shared channel: one queue for every stream.
  std::vector<std::weak_ptr<EventQueue>> subscribers_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<EventQueue> shared_queue_ ABSL_GUARDED_BY(mu_);
};

// Normalises an image reference like containerd: adds "docker.io/", "library/" and ":latest" where
// missing. Digest references keep their digest.
std::string NormalizeImageRef(absl::string_view reference);

}  // namespace inplaced::fakes

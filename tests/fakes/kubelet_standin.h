#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancellation.h"
#include "common/clock.h"
#include "cri/runtime.h"
#include "tests/fakes/pod_lifecycle.h"

namespace inplaced::fakes {

// One container of a PodSpec, as kubelet would turn it into a CRI ContainerConfig.
struct ContainerSpec {
  std::string name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> envs;
  // JSON of a v1.LifecycleHandler, e.g. {"exec":{"command":["sh","-c","sleep 1"]}}.
  std::optional<std::string> pre_stop_handler_json;
  // JSON array of v1.ContainerPort.
  std::optional<std::string> ports_json;
  // Extra container annotations (device-plugin style), added next to kubelet's own.
  std::map<std::string, std::string> annotations;
  // Bind mounts, as kubelet makes them of hostPath (and ConfigMap) volumes.
  struct Mount {
    std::string host_path;
    std::string container_path;
    bool read_only = false;
  };
  std::vector<Mount> mounts;
};

// The part of a Kubernetes pod that kubelet passes to the CRI.
struct PodSpec {
  std::string namespace_;
  std::string name;
  std::string uid;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<int64_t> termination_grace_period_seconds;
  std::vector<ContainerSpec> containers;
  // Empty: /var/log/pods/<namespace>_<name>_<uid>.
  std::string log_directory;
  // Host network (NODE) as in the e2e environment (no CNI there); no hostname is set either way.
  bool host_network = true;
};

struct KubeletStandInOptions {
  // How long after an instance finished its replacement starts (kubelet: 10 s doubling; shortened
  // for e2e speed, and constant: no CrashLoopBackOff growth).
  absl::Duration restart_backoff = absl::Milliseconds(300);
  // Also restart containers of kubelet-labelled sandboxes this stand-in did not create (e.g. pods
  // made with FakeRuntime::AddPods); their config is rebuilt from the runtime's listing.
  bool adopt_all_pods = false;
};

// Plays kubelet against any runtime: reads it through cri::Runtime like inplaced, and creates,
// starts and removes sandboxes and containers through PodLifecycle (FakeRuntime in-process for
// both, or real containerd over cri::GrpcRuntime and GrpcPodLifecycle): runs pods with kubelet's
// labels, annotations and log paths, and restarts exited containers like restartPolicy Always
// (attempt + 1, restartCount annotation, new log path), keeping one dead instance per container
// name.
//
// Thread-safe. Start() runs SyncOnce() on a background thread until Stop() or destruction (the
// thread is joined). The runtime, lifecycle and clock must outlive the stand-in.
class KubeletStandIn {
 public:
  KubeletStandIn(cri::Runtime& runtime, PodLifecycle& lifecycle, Clock& clock,
                 KubeletStandInOptions options = {});
  ~KubeletStandIn();
  KubeletStandIn(const KubeletStandIn&) = delete;
  KubeletStandIn& operator=(const KubeletStandIn&) = delete;

  // RunPodSandbox, then CreateContainer + StartContainer (attempt 0) for each container, in order.
  // Returns the sandbox id. ALREADY_EXISTS if this stand-in already runs namespace/name; on a
  // failed container the sandbox is stopped and removed again and the runtime's error is returned.
  absl::StatusOr<std::string> RunPod(const PodSpec& spec);

  // One kubelet sync (one ListContainers of exited containers when nothing exited, plus one listing
  // per pod with a fresh exit): for every container of the stand-in's pods whose newest instance
  // exited at least restart_backoff ago (ContainerStatus.finished_at), creates and starts attempt +
  // 1; starts instances left CREATED; removes dead instances older than the previous one. Returns
  // the first error met (the other pods are still synced).
  absl::Status SyncOnce();

  // Runs SyncOnce() every `poll_interval` (on the clock) on a background thread. No-op if running.
  void Start(absl::Duration poll_interval);
  // Stops and joins the background thread. Idempotent.
  void Stop();

  // Stops and removes the pod's sandbox (and so its containers) and forgets the pod. NOT_FOUND if
  // the stand-in does not run namespace/name.
  absl::Status RemovePod(absl::string_view namespace_, absl::string_view name);
  // RemovePod() for every pod; returns the first error.
  absl::Status RemoveAll();

  // Containers restarted so far.
  int Restarts() const;
  // The sandbox id of namespace/name, or NOT_FOUND.
  absl::StatusOr<std::string> SandboxId(absl::string_view namespace_, absl::string_view name) const;

 private:
  struct Pod {
    std::string sandbox_id;
    ::runtime::v1::PodSandboxConfig sandbox_config;
    // Attempt-0 config per container name.
    std::map<std::string, ::runtime::v1::ContainerConfig> templates;
  };

  absl::Status SyncPod(const Pod& pod, const std::vector<::runtime::v1::Container>& containers)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Takes over a kubelet-labelled READY sandbox it did not create; false if it is not one.
  absl::StatusOr<bool> Adopt(const std::string& sandbox_id) ABSL_LOCKS_EXCLUDED(mu_);
  void Loop(absl::Duration poll_interval, Cancellation* stop);

  cri::Runtime& runtime_;
  PodLifecycle& lifecycle_;
  Clock& clock_;
  const KubeletStandInOptions options_;

  // Serialises syncs (the background thread and direct callers) so one exit is restarted once.
  absl::Mutex sync_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, Pod> pods_ ABSL_GUARDED_BY(mu_);  // keyed by "namespace/name"
  int restarts_ ABSL_GUARDED_BY(mu_) = 0;
  // Exited instances that already have a newer instance (skipped by SyncOnce).
  std::set<std::string> superseded_ ABSL_GUARDED_BY(sync_mu_);

  absl::Mutex thread_mu_;
  std::unique_ptr<Cancellation> stop_ ABSL_GUARDED_BY(thread_mu_);
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace inplaced::fakes

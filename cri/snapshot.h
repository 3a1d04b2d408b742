#pragma once

// The node snapshot: everything inplaced reads about the node's pods and containers, taken with a
// constant number of CRI calls (one ListPodSandbox + one ListContainers) whatever the number of
// pods or open requests, and indexed for O(1)/O(log n) lookups. Built every poll tick (≈100 ms) on
// nodes with thousands of containers.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/runtime.h"

namespace inplaced::cri {

// One sandbox (one attempt of a pod's sandbox), from ListPodSandbox.
struct SandboxInfo {
  std::string id;
  uint32_t attempt = 0;  // PodSandboxMetadata.attempt: counts sandbox re-creations
  criv1::PodSandboxState state = criv1::SANDBOX_READY;
  int64_t created_at = 0;  // ns since the epoch

  template <typename H>
  friend H AbslHashValue(H state, const SandboxInfo& sandbox) {
    return H::combine(std::move(state), sandbox.id, sandbox.attempt, sandbox.state,
                      sandbox.created_at);
  }
};

// One container instance, from ListContainers plus kubelet's labels and annotations
// (cri/kubelet_labels.h). The fields under "ContainerStatus" are only set by FillStatus.
struct ContainerInfo {
  std::string id;
  std::string pod_sandbox_id;
  // Label io.kubernetes.container.name, else ContainerMetadata.name.
  std::string name;
  uint32_t attempt = 0;  // ContainerMetadata.attempt
  criv1::ContainerState state = criv1::CONTAINER_CREATED;
  int64_t created_at = 0;  // ns since the epoch
  // Annotation io.kubernetes.container.restartCount when it parses, else `attempt`.
  int64_t restart_count = 0;
  std::string image;      // Container.image.image (containerd: the image id kubelet passed)
  std::string image_ref;  // Container.image_ref
  std::string image_id;   // Container.image_id (empty before cri-api v0.30)

  // kubelet's annotations, read here once per listing (empty / nullopt when absent). The two JSON
  // ones stay raw: only a container being killed needs them, and its kill planner parses them then
  // (daemon/prestop/kubelet_handler.h), instead of every tick parsing every container's.
  std::string hash;                   // io.kubernetes.container.hash (hex)
  std::string type;                   // io.kubernetes.container.type: init|container|ephemeral
  std::string pre_stop_handler_json;  // io.kubernetes.container.preStopHandler, raw JSON
  std::string ports_json;             // io.kubernetes.container.ports, raw JSON
  // io.kubernetes.pod.terminationGracePeriod / deletionGracePeriod in seconds, when they parse.
  std::optional<int64_t> termination_grace_period_seconds;
  std::optional<int64_t> deletion_grace_period_seconds;

  // ContainerStatus data, set by FillStatus for the containers it was asked about.
  bool has_status = false;  // ContainerStatus answered; the fields below are valid
  bool gone = false;        // ContainerStatus answered NOT_FOUND: removed since the list
  int64_t started_at = 0;   // ns since the epoch, 0 = not started
  int64_t finished_at = 0;  // ns since the epoch, 0 = not finished
  int32_t exit_code = 0;
  std::string reason;  // e.g. "OOMKilled", "Error", "Completed"
  std::string message;

  // Every field: equal hashes of a pod mean (but for a 64-bit collision) that nothing a decision
  // could read has changed.
  template <typename H>
  friend H AbslHashValue(H state, const ContainerInfo& c) {
    return H::combine(
        std::move(state), c.id, c.pod_sandbox_id, c.name, c.attempt, c.state, c.created_at,
        c.restart_count, c.image, c.image_ref, c.image_id, c.hash, c.type, c.pre_stop_handler_json,
        c.ports_json, c.termination_grace_period_seconds, c.deletion_grace_period_seconds,
        c.has_status, c.gone, c.started_at, c.finished_at, c.exit_code, c.reason, c.message);
  }
};

// One pod: all sandboxes and container instances kubelet made for one pod UID.
struct PodInfo {
  std::string
      pod_namespace;  // PodSandboxMetadata.namespace, else label io.kubernetes.pod.namespace
  std::string name;   // PodSandboxMetadata.name, else label io.kubernetes.pod.name
  std::string uid;    // PodSandboxMetadata.uid, else label io.kubernetes.pod.uid (may be empty)
  // The current sandbox: READY preferred, then the newest created_at.
  SandboxInfo sandbox;
  // All sandboxes of the pod, current first (same order as above).
  std::vector<SandboxInfo> sandboxes;
  // Every container instance of the pod (all sandboxes), ordered by name, then newest first
  // (created_at, then attempt, descending).
  std::vector<ContainerInfo> containers;

  // The current instance of container `name` (the newest created_at), or null. O(log n).
  const ContainerInfo* CurrentContainer(absl::string_view container_name) const;
  // All instances of container `name`, newest first (kubelet keeps the previous exited one). O(log
  // n).
  absl::Span<const ContainerInfo> Instances(absl::string_view container_name) const;
  // The current instance of each container name, ordered by name.
  std::vector<const ContainerInfo*> CurrentContainers() const;

  // absl::Hash<PodInfo>: everything above, so that a caller can tell "this pod is as it was".
  template <typename H>
  friend H AbslHashValue(H state, const PodInfo& pod) {
    return H::combine(std::move(state), pod.pod_namespace, pod.name, pod.uid, pod.sandbox,
                      pod.sandboxes, pod.containers);
  }
};

// An immutable-by-construction, copyable index of the node. Not thread-safe for concurrent
// FillStatus/reads; build one per tick and share it read-only.
class NodeSnapshot {
 public:
  NodeSnapshot() = default;

  // Builds the snapshot from the two list answers (a pure function; no CRI call).
  // Sandboxes are grouped into pods by UID (metadata, else label); a sandbox with neither a UID nor
  // a name is ignored. Containers go to the pod of their sandbox, else (a sandbox created after the
  // sandbox list was taken) to the pod named by their io.kubernetes.pod.uid label; containers of
  // unknown pods are ignored and counted in ignored_containers().
  // `containers` is consumed: its strings move into the snapshot.
  static NodeSnapshot FromLists(const criv1::ListPodSandboxResponse& sandboxes,
                                criv1::ListContainersResponse containers);

  // Every pod, in no particular order.
  const std::vector<PodInfo>& pods() const { return pods_; }

  // The pod named namespace/name, or null. If several pod UIDs share the name (a pod deleted and
  // created again), the one whose current sandbox is READY, then newest, wins.
  const PodInfo* FindPod(absl::string_view pod_namespace, absl::string_view name) const;
  const PodInfo* FindPodByUid(absl::string_view uid) const;
  const PodInfo* FindPodBySandboxId(absl::string_view sandbox_id) const;
  // The container instance with this (full) id, or null.
  const ContainerInfo* FindContainer(absl::string_view container_id) const;
  // The pod holding container `container_id`, or null.
  const PodInfo* FindPodOfContainer(absl::string_view container_id) const;
  // Mutable access for FillStatus.
  ContainerInfo* FindMutableContainer(absl::string_view container_id);

  size_t container_count() const { return container_by_id_.size(); }
  // Containers left out because no known sandbox or pod UID owns them.
  size_t ignored_containers() const { return ignored_containers_; }

 private:
  std::vector<PodInfo> pods_;
  absl::flat_hash_map<std::string, size_t> pod_by_uid_;
  absl::flat_hash_map<std::string, size_t> pod_by_namespaced_name_;  // "namespace/name"
  absl::flat_hash_map<std::string, size_t> pod_by_sandbox_id_;
  // container id -> (pod index, index in PodInfo::containers)
  absl::flat_hash_map<std::string, std::pair<size_t, size_t>> container_by_id_;
  size_t ignored_containers_ = 0;
};

// Takes a snapshot with exactly one ListPodSandbox and one ListContainers call (no filters: the
// cost per tick does not grow with the number of requests). Errors are the runtime's
// (cri/errors.h).
absl::StatusOr<NodeSnapshot> TakeSnapshot(Runtime& runtime);

// A snapshot of one pod by name: ListPodSandbox and ListContainers filtered by kubelet's
// io.kubernetes.pod.namespace / io.kubernetes.pod.name labels, so the runtime sends only that
// pod's sandboxes and containers (a Create's status context costs O(pod), not O(node)). Sandboxes
// and containers not made by kubelet carry no such labels and are not in it: callers fall back to
// TakeSnapshot when what they look for is missing.
absl::StatusOr<NodeSnapshot> TakePodSnapshot(Runtime& runtime, absl::string_view pod_namespace,
                                             absl::string_view pod_name);

// Calls ContainerStatus for each of `container_ids` present in `snapshot` (ids not in it are
// skipped), so the caller bounds the cost to the containers it tracks, and fills their
// ContainerStatus fields (and refreshes `state`). A NOT_FOUND answer marks the container `gone`
// instead of failing. Other errors do not stop the loop; the first one is returned (the containers
// it concerns keep has_status == false).
absl::Status FillStatus(Runtime& runtime, const std::vector<std::string>& container_ids,
                        NodeSnapshot* snapshot);

}  // namespace inplaced::cri

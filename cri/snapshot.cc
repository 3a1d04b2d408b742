#include "cri/snapshot.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "cri/errors.h"
#include "cri/kubelet_labels.h"

namespace inplaced::cri {
namespace {

using StringMap = google::protobuf::Map<std::string, std::string>;

// kubelet's label and annotation keys as std::string, made once: protobuf's Map::find takes a
// std::string, and building one per lookup was a malloc and a free for each of a node's thousands
// of lookups per snapshot.
struct KubeletKeys {
  const std::string container_name{kubelet::kContainerName};
  const std::string restart_count{kubelet::kContainerRestartCount};
  const std::string hash{kubelet::kContainerHash};
  const std::string type{kubelet::kContainerType};
  const std::string pre_stop_handler{kubelet::kContainerPreStopHandler};
  const std::string ports{kubelet::kContainerPorts};
  const std::string termination_grace_period{kubelet::kPodTerminationGracePeriod};
  const std::string deletion_grace_period{kubelet::kPodDeletionGracePeriod};
  const std::string pod_uid{kubelet::kPodUid};
  const std::string pod_name{kubelet::kPodName};
  const std::string pod_namespace{kubelet::kPodNamespace};
};

const KubeletKeys& Keys() {
  static const KubeletKeys* const keys = new KubeletKeys();  // never destroyed (immutable)
  return *keys;
}

absl::string_view Lookup(const StringMap& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? absl::string_view() : absl::string_view(it->second);
}

// The value of `key`, moved out of `map` (the listing is consumed); "" when absent.
std::string Take(StringMap& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? std::string() : std::move(it->second);
}

absl::string_view FirstNonEmpty(absl::string_view a, absl::string_view b) {
  return a.empty() ? b : a;
}

std::optional<int64_t> ParseInt(absl::string_view text) {
  int64_t value = 0;
  if (text.empty() || !absl::SimpleAtoi(text, &value)) return std::nullopt;
  return value;
}

// Current-sandbox order: READY before NOTREADY, then newest, then highest attempt, then id (so the
// choice is deterministic whatever order the runtime lists in).
bool SandboxBefore(const SandboxInfo& a, const SandboxInfo& b) {
  const bool a_ready = a.state == criv1::SANDBOX_READY;
  const bool b_ready = b.state == criv1::SANDBOX_READY;
  return std::forward_as_tuple(b_ready, b.created_at, b.attempt, b.id) <
         std::forward_as_tuple(a_ready, a.created_at, a.attempt, a.id);
}

// Instances order: by name, then newest first.
bool ContainerBefore(const ContainerInfo& a, const ContainerInfo& b) {
  if (a.name != b.name) return a.name < b.name;
  return std::forward_as_tuple(b.created_at, b.attempt, b.id) <
         std::forward_as_tuple(a.created_at, a.attempt, a.id);
}

// Moves the strings out of `container` (consumed): a snapshot copies nothing it can take.
ContainerInfo ToContainerInfo(criv1::Container& container) {
  const KubeletKeys& keys = Keys();
  ContainerInfo info;
  info.id = std::move(*container.mutable_id());
  info.pod_sandbox_id = std::move(*container.mutable_pod_sandbox_id());
  info.name = Take(*container.mutable_labels(), keys.container_name);
  if (info.name.empty()) info.name = std::move(*container.mutable_metadata()->mutable_name());
  info.attempt = container.metadata().attempt();
  info.state = container.state();
  info.created_at = container.created_at();
  StringMap& annotations = *container.mutable_annotations();
  info.restart_count = ParseInt(Lookup(annotations, keys.restart_count)).value_or(info.attempt);
  info.image = std::move(*container.mutable_image()->mutable_image());
  info.image_ref = std::move(*container.mutable_image_ref());
  info.image_id = std::move(*container.mutable_image_id());
  info.hash = Take(annotations, keys.hash);
  info.type = Take(annotations, keys.type);
  info.pre_stop_handler_json = Take(annotations, keys.pre_stop_handler);
  info.ports_json = Take(annotations, keys.ports);
  info.termination_grace_period_seconds =
      ParseInt(Lookup(annotations, keys.termination_grace_period));
  info.deletion_grace_period_seconds = ParseInt(Lookup(annotations, keys.deletion_grace_period));
  return info;
}

struct ContainerLess {
  bool operator()(const ContainerInfo& c, absl::string_view name) const { return c.name < name; }
  bool operator()(absl::string_view name, const ContainerInfo& c) const { return name < c.name; }
};

}  // namespace

absl::Span<const ContainerInfo> PodInfo::Instances(absl::string_view container_name) const {
  auto [first, last] =
      std::equal_range(containers.begin(), containers.end(), container_name, ContainerLess());
  return absl::Span<const ContainerInfo>(containers.data() + (first - containers.begin()),
                                         static_cast<size_t>(last - first));
}

const ContainerInfo* PodInfo::CurrentContainer(absl::string_view container_name) const {
  absl::Span<const ContainerInfo> instances = Instances(container_name);
  return instances.empty() ? nullptr : &instances.front();
}

std::vector<const ContainerInfo*> PodInfo::CurrentContainers() const {
  std::vector<const ContainerInfo*> current;
  for (size_t i = 0; i < containers.size(); ++i) {
    if (i == 0 || containers[i].name != containers[i - 1].name) current.push_back(&containers[i]);
  }
  return current;
}

NodeSnapshot NodeSnapshot::FromLists(const criv1::ListPodSandboxResponse& sandboxes,
                                     criv1::ListContainersResponse containers) {
  const KubeletKeys& keys = Keys();
  NodeSnapshot snapshot;
  // Pods keyed by UID, or by "namespace/name" for a sandbox without one (not made by kubelet).
  absl::flat_hash_map<std::string, size_t> pod_by_key;
  // Per pod, the best sandbox seen so far: the pod's identity fields come from it.
  std::vector<SandboxInfo> identity_source;
  for (const criv1::PodSandbox& sandbox : sandboxes.items()) {
    const criv1::PodSandboxMetadata& metadata = sandbox.metadata();
    const absl::string_view uid =
        FirstNonEmpty(metadata.uid(), Lookup(sandbox.labels(), keys.pod_uid));
    const absl::string_view name =
        FirstNonEmpty(metadata.name(), Lookup(sandbox.labels(), keys.pod_name));
    const absl::string_view pod_namespace =
        FirstNonEmpty(metadata.namespace_(), Lookup(sandbox.labels(), keys.pod_namespace));
    if (uid.empty() && name.empty()) continue;
    const std::string key =
        uid.empty() ? absl::StrCat("name:", pod_namespace, "/", name) : absl::StrCat("uid:", uid);
    auto [it, inserted] = pod_by_key.try_emplace(key, snapshot.pods_.size());
    if (inserted) {
      snapshot.pods_.emplace_back();
      identity_source.emplace_back();
    }
    PodInfo& pod = snapshot.pods_[it->second];
    SandboxInfo info{sandbox.id(), metadata.attempt(), sandbox.state(), sandbox.created_at()};
    if (inserted || SandboxBefore(info, identity_source[it->second])) {
      identity_source[it->second] = info;
      pod.pod_namespace = std::string(pod_namespace);
      pod.name = std::string(name);
      pod.uid = std::string(uid);
    }
    pod.sandboxes.push_back(std::move(info));
    snapshot.pod_by_sandbox_id_.emplace(sandbox.id(), it->second);
  }

  for (size_t i = 0; i < snapshot.pods_.size(); ++i) {
    PodInfo& pod = snapshot.pods_[i];
    std::sort(pod.sandboxes.begin(), pod.sandboxes.end(), SandboxBefore);
    pod.sandbox = pod.sandboxes.front();
    if (!pod.uid.empty()) snapshot.pod_by_uid_.emplace(pod.uid, i);
    auto [it, inserted] = snapshot.pod_by_namespaced_name_.try_emplace(
        absl::StrCat(pod.pod_namespace, "/", pod.name), i);
    if (!inserted && SandboxBefore(pod.sandbox, snapshot.pods_[it->second].sandbox)) it->second = i;
  }

  for (criv1::Container& container : *containers.mutable_containers()) {
    size_t pod_index = 0;
    if (auto it = snapshot.pod_by_sandbox_id_.find(container.pod_sandbox_id());
        it != snapshot.pod_by_sandbox_id_.end()) {
      pod_index = it->second;
    } else if (auto by_uid = snapshot.pod_by_uid_.find(Lookup(container.labels(), keys.pod_uid));
               by_uid != snapshot.pod_by_uid_.end()) {
      // The container's sandbox appeared after ListPodSandbox answered; kubelet's label still says
      // which pod it belongs to.
      pod_index = by_uid->second;
    } else {
      ++snapshot.ignored_containers_;
      continue;
    }
    snapshot.pods_[pod_index].containers.push_back(ToContainerInfo(container));
  }

  for (size_t i = 0; i < snapshot.pods_.size(); ++i) {
    std::vector<ContainerInfo>& pod_containers = snapshot.pods_[i].containers;
    std::sort(pod_containers.begin(), pod_containers.end(), ContainerBefore);
    for (size_t j = 0; j < pod_containers.size(); ++j) {
      snapshot.container_by_id_.emplace(pod_containers[j].id, std::make_pair(i, j));
    }
  }
  return snapshot;
}

const PodInfo* NodeSnapshot::FindPod(absl::string_view pod_namespace,
                                     absl::string_view name) const {
  auto it = pod_by_namespaced_name_.find(absl::StrCat(pod_namespace, "/", name));
  return it == pod_by_namespaced_name_.end() ? nullptr : &pods_[it->second];
}

const PodInfo* NodeSnapshot::FindPodByUid(absl::string_view uid) const {
  auto it = pod_by_uid_.find(uid);
  return it == pod_by_uid_.end() ? nullptr : &pods_[it->second];
}

const PodInfo* NodeSnapshot::FindPodBySandboxId(absl::string_view sandbox_id) const {
  auto it = pod_by_sandbox_id_.find(sandbox_id);
  return it == pod_by_sandbox_id_.end() ? nullptr : &pods_[it->second];
}

const ContainerInfo* NodeSnapshot::FindContainer(absl::string_view container_id) const {
  auto it = container_by_id_.find(container_id);
  if (it == container_by_id_.end()) return nullptr;
  return &pods_[it->second.first].containers[it->second.second];
}

const PodInfo* NodeSnapshot::FindPodOfContainer(absl::string_view container_id) const {
  auto it = container_by_id_.find(container_id);
  return it == container_by_id_.end() ? nullptr : &pods_[it->second.first];
}

ContainerInfo* NodeSnapshot::FindMutableContainer(absl::string_view container_id) {
  auto it = container_by_id_.find(container_id);
  if (it == container_by_id_.end()) return nullptr;
  return &pods_[it->second.first].containers[it->second.second];
}

namespace {

// Sandboxes first: a container created between the two calls then has a sandbox that is either in
// the list or new, and a new one is still matched through the pod UID label.
absl::StatusOr<NodeSnapshot> ListBoth(Runtime& runtime,
                                      const criv1::ListPodSandboxRequest& sandbox_request,
                                      const criv1::ListContainersRequest& container_request) {
  ASSIGN_OR_RETURN(const criv1::ListPodSandboxResponse sandboxes,
                   runtime.ListPodSandbox(sandbox_request));
  ASSIGN_OR_RETURN(criv1::ListContainersResponse containers,
                   runtime.ListContainers(container_request));
  return NodeSnapshot::FromLists(sandboxes, std::move(containers));
}

}  // namespace

absl::StatusOr<NodeSnapshot> TakeSnapshot(Runtime& runtime) {
  return ListBoth(runtime, criv1::ListPodSandboxRequest(), criv1::ListContainersRequest());
}

absl::StatusOr<NodeSnapshot> TakePodSnapshot(Runtime& runtime, absl::string_view pod_namespace,
                                             absl::string_view pod_name) {
  criv1::ListPodSandboxRequest sandbox_request;
  StringMap& sandbox_labels = *sandbox_request.mutable_filter()->mutable_label_selector();
  sandbox_labels[std::string(kubelet::kPodNamespace)] = std::string(pod_namespace);
  sandbox_labels[std::string(kubelet::kPodName)] = std::string(pod_name);
  criv1::ListContainersRequest container_request;
  *container_request.mutable_filter()->mutable_label_selector() = sandbox_labels;
  return ListBoth(runtime, sandbox_request, container_request);
}

absl::Status FillStatus(Runtime& runtime, const std::vector<std::string>& container_ids,
                        NodeSnapshot* snapshot) {
  absl::Status first_error;
  for (const std::string& id : container_ids) {
    ContainerInfo* container = snapshot->FindMutableContainer(id);
    if (container == nullptr) continue;
    criv1::ContainerStatusRequest request;
    request.set_container_id(id);
    absl::StatusOr<criv1::ContainerStatusResponse> response = runtime.ContainerStatus(request);
    if (!response.ok()) {
      // Removed between the list and this call (kubelet's container GC): like kubelet, not an
      // error.
      if (cri::IsNotFound(response.status())) {
        container->gone = true;
      } else if (first_error.ok()) {
        first_error = response.status();
      }
      continue;
    }
    const criv1::ContainerStatus& status = response->status();
    container->has_status = true;
    container->state = status.state();
    container->started_at = status.started_at();
    container->finished_at = status.finished_at();
    container->exit_code = status.exit_code();
    container->reason = status.reason();
    container->message = status.message();
  }
  return first_error;
}

}  // namespace inplaced::cri

#pragma once

// Builds cri::NodeSnapshot values for state machine tests: pods and container instances described
// directly (ids, states, restart counts, start times), turned into the two CRI list answers and
// indexed by cri::NodeSnapshot::FromLists, with the ContainerStatus fields FillStatus would set.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/kubelet_labels.h"
#include "cri/snapshot.h"

namespace inplaced::daemon::testing {

struct InstanceSpec {
  std::string pod_uid;
  std::string name;
  std::string id;
  ::runtime::v1::ContainerState state = ::runtime::v1::CONTAINER_RUNNING;
  int restart_count = 0;
  absl::Time created_at;
  // Unset: FillStatus did not look at it (has_status false).
  std::optional<absl::Time> started_at;
  std::map<std::string, std::string> annotations;
};

struct PodSpecLite {
  std::string pod_namespace = "default";
  std::string name = "web-0";
  std::string uid = "uid-1";
};

class NodeBuilder {
 public:
  NodeBuilder& AddPod(const PodSpecLite& pod) {
    pods_.push_back(pod);
    return *this;
  }
  NodeBuilder& AddInstance(const InstanceSpec& instance) {
    instances_.push_back(instance);
    return *this;
  }

  cri::NodeSnapshot Build() const {
    namespace kubelet = cri::kubelet;
    ::runtime::v1::ListPodSandboxResponse sandboxes;
    for (const PodSpecLite& pod : pods_) {
      ::runtime::v1::PodSandbox* sandbox = sandboxes.add_items();
      sandbox->set_id(SandboxId(pod.uid));
      sandbox->mutable_metadata()->set_name(pod.name);
      sandbox->mutable_metadata()->set_namespace_(pod.pod_namespace);
      sandbox->mutable_metadata()->set_uid(pod.uid);
      sandbox->set_state(::runtime::v1::SANDBOX_READY);
      sandbox->set_created_at(1);
      (*sandbox->mutable_labels())[std::string(kubelet::kPodUid)] = pod.uid;
    }
    ::runtime::v1::ListContainersResponse containers;
    for (const InstanceSpec& instance : instances_) {
      ::runtime::v1::Container* container = containers.add_containers();
      container->set_id(instance.id);
      container->set_pod_sandbox_id(SandboxId(instance.pod_uid));
      container->mutable_metadata()->set_name(instance.name);
      container->mutable_metadata()->set_attempt(instance.restart_count);
      container->set_state(instance.state);
      container->set_created_at(absl::ToUnixNanos(instance.created_at));
      (*container->mutable_labels())[std::string(kubelet::kContainerName)] = instance.name;
      (*container->mutable_labels())[std::string(kubelet::kPodUid)] = instance.pod_uid;
      (*container->mutable_annotations())[std::string(kubelet::kContainerRestartCount)] =
          absl::StrCat(instance.restart_count);
      for (const auto& [key, value] : instance.annotations)
        (*container->mutable_annotations())[key] = value;
    }
    cri::NodeSnapshot snapshot = cri::NodeSnapshot::FromLists(sandboxes, containers);
    for (const InstanceSpec& instance : instances_) {
      if (!instance.started_at.has_value()) continue;
      cri::ContainerInfo* info = snapshot.FindMutableContainer(instance.id);
      if (info == nullptr) continue;
      info->has_status = true;
      info->started_at = absl::ToUnixNanos(*instance.started_at);
    }
    return snapshot;
  }

  static std::string SandboxId(const std::string& uid) { return absl::StrCat("sb-", uid); }

 private:
  std::vector<PodSpecLite> pods_;
  std::vector<InstanceSpec> instances_;
};

}  // namespace inplaced::daemon::testing

// FakeRuntime::AddPods: many kubelet-like pods at once, for footprint tests and benchmarks.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cri/kubelet_labels.h"
#include "tests/fakes/fake_runtime.h"

namespace inplaced::fakes {

std::vector<std::string> FakeRuntime::AddPods(int pods, int containers_per_pod,
                                              const BulkPodOptions& options) {
  namespace kubelet = cri::kubelet;
  std::vector<std::string> ids;
  ids.reserve(pods);
  absl::MutexLock lock(&mu_);
  for (int p = 0; p < pods; ++p) {
    const std::string name = absl::StrFormat("%s%05d", options.name_prefix, p);
    const std::string r = NewIdLocked();
    // A UUID-shaped uid.
    const std::string uid = absl::StrCat(r.substr(0, 8), "-", r.substr(8, 4), "-", r.substr(12, 4),
                                         "-", r.substr(16, 4), "-", r.substr(20, 12));
    criv1::PodSandboxConfig config;
    config.mutable_metadata()->set_name(name);
    config.mutable_metadata()->set_namespace_(options.namespace_);
    config.mutable_metadata()->set_uid(uid);
    config.set_log_directory(
        absl::StrCat("/var/log/pods/", options.namespace_, "_", name, "_", uid));
    auto& labels = *config.mutable_labels();
    labels[std::string(kubelet::kPodName)] = name;
    labels[std::string(kubelet::kPodNamespace)] = options.namespace_;
    labels[std::string(kubelet::kPodUid)] = uid;
    labels["app"] = options.name_prefix;
    if (options.host_network) {
      config.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(
          criv1::NODE);
    }
    const std::string sandbox_id = CreateSandboxLocked(config, "");
    ids.push_back(sandbox_id);
    for (int c = 0; c < containers_per_pod; ++c) {
      const std::string container_name = absl::StrCat("c", c);
      criv1::ContainerConfig container;
      container.mutable_metadata()->set_name(container_name);
      container.mutable_image()->set_image(options.image);
      auto& container_labels = *container.mutable_labels();
      container_labels[std::string(kubelet::kPodName)] = name;
      container_labels[std::string(kubelet::kPodNamespace)] = options.namespace_;
      container_labels[std::string(kubelet::kPodUid)] = uid;
      container_labels[std::string(kubelet::kContainerName)] = container_name;
      auto& annotations = *container.mutable_annotations();
      annotations[std::string(kubelet::kContainerHash)] = absl::StrFormat("%x", 0x1000 + c);
      annotations[std::string(kubelet::kContainerRestartCount)] = "0";
      annotations[std::string(kubelet::kPodTerminationGracePeriod)] =
          absl::StrCat(options.termination_grace_period_seconds);
      annotations[std::string(kubelet::kContainerType)] =
          std::string(kubelet::kContainerTypeRegular);
      annotations[std::string(kubelet::kContainerTerminationMessagePath)] = "/dev/termination-log";
      annotations[std::string(kubelet::kContainerTerminationMessagePolicy)] = "File";
      container.set_log_path(absl::StrCat(container_name, "/0.log"));
      absl::StatusOr<std::string> id = CreateContainerLocked(sandbox_id, container);
      // The sandbox was just created READY and names are unique: creation cannot fail.
      if (!id.ok()) continue;
      std::shared_ptr<Container> created = containers_[*id];
      created->status.set_log_path(absl::StrCat(config.log_directory(), "/", container.log_path()));
      StartContainerLocked(*created);
    }
  }
  return ids;
}

}  // namespace inplaced::fakes

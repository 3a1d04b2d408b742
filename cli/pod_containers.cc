#include "cli/pod_containers.h"

#include "absl/strings/str_cat.h"

namespace inplaced::cli {

absl::StatusOr<std::vector<std::string>> PodContainerNames(const cri::NodeSnapshot& snapshot,
                                                           const std::string& ns,
                                                           const std::string& pod) {
  const cri::PodInfo* info = snapshot.FindPod(ns, pod);
  if (info == nullptr)
    return absl::NotFoundError(absl::StrCat("the runtime has no pod ", ns, "/", pod));
  std::vector<std::string> names;
  for (const cri::ContainerInfo* container : info->CurrentContainers()) {
    // Init and ephemeral containers cannot be recreated (as in Kruise).
    if (container->type.empty() || container->type == "container") names.push_back(container->name);
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> PodContainerNamesFromRuntime(const RuntimeFlags& flags,
                                                                      const std::string& ns,
                                                                      const std::string& pod) {
  auto with_hint = [](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("--all reads the pod's containers from the runtime: ",
                                     status.message(), " (or name them with -c)"));
  };
  absl::StatusOr<cri::Connection> connection = ConnectRuntime(flags);
  if (!connection.ok()) return with_hint(connection.status());
  absl::StatusOr<cri::NodeSnapshot> snapshot = cri::TakeSnapshot(*connection->runtime);
  if (!snapshot.ok()) return with_hint(snapshot.status());
  absl::StatusOr<std::vector<std::string>> names = PodContainerNames(*snapshot, ns, pod);
  if (!names.ok()) return with_hint(names.status());
  return names;
}

}  // namespace inplaced::cli

#pragma once

// The container names of a pod as the runtime shows them, for `recreate --all`. The daemon's API
// takes explicit names and has no pod lookup, so inplacectl asks the runtime itself over the CRI
// (the same kubelet labels the daemon matches on) rather than guessing.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/runtime_commands.h"
#include "cri/snapshot.h"

namespace inplaced::cli {

// The regular containers (kubelet's container type "container", or untyped) of pod ns/name in
// `snapshot`, ordered by name. NOT_FOUND naming the pod when the runtime has no such pod.
absl::StatusOr<std::vector<std::string>> PodContainerNames(const cri::NodeSnapshot& snapshot,
                                                           const std::string& ns,
                                                           const std::string& pod);

// Connects to the runtime of `flags` and returns PodContainerNames; errors say that --all needs the
// runtime and that -c is the way around it.
absl::StatusOr<std::vector<std::string>> PodContainerNamesFromRuntime(const RuntimeFlags& flags,
                                                                      const std::string& ns,
                                                                      const std::string& pod);

}  // namespace inplaced::cli

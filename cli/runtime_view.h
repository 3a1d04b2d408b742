#pragma once

// Plain-text views of what the runtime reports, for `inplacectl runtime ...`. Pure functions of CRI
// data, so they are unit-tested without a runtime.

#include <string>

#include "absl/strings/string_view.h"
#include "api/cri/runtime_v1.pb.h"
#include "cri/snapshot.h"

namespace inplaced::cli {

// One line: "runtime=containerd version=1.6.20~ds1 api=v1 endpoint=unix:///...".
std::string FormatVersion(const ::runtime::v1::VersionResponse& version,
                          absl::string_view endpoint);

// A table of the pods in `snapshot` (only `pod_namespace` when not empty), one row per current
// container instance: NAMESPACE POD CONTAINER ATTEMPT RESTARTS STATE ID, sorted by namespace, pod
// and container. Shows the pods exactly as inplaced's engine sees them (kubelet labels and
// annotations).
std::string FormatPods(const cri::NodeSnapshot& snapshot, absl::string_view pod_namespace);

// "CONTAINER_RUNNING" -> "running", etc.
std::string ContainerStateName(::runtime::v1::ContainerState state);

// An image as ImageStatus reports it: id, tags, digests, size, pinned.
std::string FormatImage(const ::runtime::v1::Image& image);

}  // namespace inplaced::cli

#pragma once

// The labels and annotations kubelet puts on CRI sandboxes and containers (kubelet's
// pkg/kubelet/types/labels.go and pkg/kubelet/kuberuntime/labels.go; cri-reference.md §2).
// Everything needed to find a pod's containers, run their preStop hook and compute their grace
// period is here, so inplaced needs no API server.

#include "absl/strings/string_view.h"

namespace inplaced::cri::kubelet {

// Labels on sandboxes (with all pod labels) and on containers.
inline constexpr absl::string_view kPodName = "io.kubernetes.pod.name";
inline constexpr absl::string_view kPodNamespace = "io.kubernetes.pod.namespace";
inline constexpr absl::string_view kPodUid = "io.kubernetes.pod.uid";
// Label on containers only.
inline constexpr absl::string_view kContainerName = "io.kubernetes.container.name";

// Annotations on containers.
// Hex hash of the container spec (strconv.FormatUint(h, 16)).
inline constexpr absl::string_view kContainerHash = "io.kubernetes.container.hash";
inline constexpr absl::string_view kContainerHashWithoutResources =
    "io.kubernetes.container.hashWithoutResources";
// Decimal restart count; the same number as ContainerMetadata.attempt.
inline constexpr absl::string_view kContainerRestartCount = "io.kubernetes.container.restartCount";
inline constexpr absl::string_view kContainerTerminationMessagePath =
    "io.kubernetes.container.terminationMessagePath";
inline constexpr absl::string_view kContainerTerminationMessagePolicy =
    "io.kubernetes.container.terminationMessagePolicy";
// Decimal seconds; only when pod.DeletionGracePeriodSeconds is set.
inline constexpr absl::string_view kPodDeletionGracePeriod =
    "io.kubernetes.pod.deletionGracePeriod";
// Decimal seconds; only when pod.spec.terminationGracePeriodSeconds is set.
inline constexpr absl::string_view kPodTerminationGracePeriod =
    "io.kubernetes.pod.terminationGracePeriod";
// JSON of a v1.LifecycleHandler ({"exec":{...}}, {"httpGet":{...}}, {"sleep":{...}}); only with a
// preStop hook.
inline constexpr absl::string_view kContainerPreStopHandler =
    "io.kubernetes.container.preStopHandler";
// JSON array of v1.ContainerPort (to resolve named httpGet ports); only when the container has
// ports.
inline constexpr absl::string_view kContainerPorts = "io.kubernetes.container.ports";
// "init", "container" or "ephemeral".
inline constexpr absl::string_view kContainerType = "io.kubernetes.container.type";

// Values of kContainerType.
inline constexpr absl::string_view kContainerTypeInit = "init";
inline constexpr absl::string_view kContainerTypeRegular = "container";
inline constexpr absl::string_view kContainerTypeEphemeral = "ephemeral";

// Label key of the (unused by kubelet on containers) node name.
inline constexpr absl::string_view kNodeName = "io.kubernetes.node.name";

}  // namespace inplaced::cri::kubelet

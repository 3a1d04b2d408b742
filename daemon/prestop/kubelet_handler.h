#pragma once

// Parsing of the two JSON container annotations kubelet writes for a container's preStop hook, so a
// hook can be run without the pod spec (kubelet itself does the same in
// restoreSpecsFromContainerLabels; see cri-reference.md §2).
//
// The one place that parses them. The node snapshot (cri/snapshot.h) reads every kubelet annotation
// off the container listing (names in cri/kubelet_labels.h) and parses the scalar ones (restart
// count, grace periods) itself, but hands these two on as raw JSON: they are only needed for the
// container being killed, so the recreate state machine parses both when it plans that kill, and
// the preStop runner gets the typed handler and ports (PreStopTarget).

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/inplaced/v1/recreate.pb.h"

namespace inplaced::daemon {

// Parses kubelet's io.kubernetes.container.preStopHandler annotation
// (cri::ContainerInfo::pre_stop_handler_json): the JSON of a Kubernetes v1.LifecycleHandler, one of
//   {"exec":{"command":["sh","-c","..."]}}
//   {"httpGet":{"path":"/x","port":8080|"http","host":"h","scheme":"HTTP"|"HTTPS",
//               "httpHeaders":[{"name":"n","value":"v"}]}}
//   {"tcpSocket":{"port":8080|"name","host":"h"}}
//   {"sleep":{"seconds":5}}
// into our LifecycleHandler.
//
// Ports are IntOrString like in Kubernetes: a number becomes port_number; a string of digits
// becomes port_number too (kubelet's last-ditch strconv.Atoi: a port name always has a letter, so
// no name can match it); any other string becomes port_name, resolved at run time. Unknown members
// are ignored (newer kubelets may add some); JSON null is treated as absent.
//
// Returns nullopt for an empty (or all-whitespace) string or JSON null: no hook. INVALID_ARGUMENT
// naming the field for malformed JSON, a non-object, no action or more than one action, a missing
// or mistyped field, a port out of 1-65535, an empty exec command or a negative sleep; the message
// starts with the annotation's name. Never throws.
absl::StatusOr<std::optional<::inplaced::v1::LifecycleHandler>> ParseKubeletPreStopHandler(
    absl::string_view json);

// Parses kubelet's io.kubernetes.container.ports annotation (cri::ContainerInfo::ports_json): a
// JSON array of Kubernetes v1.ContainerPort
// ({"name":"http","containerPort":8080,"protocol":"TCP","hostPort":..,"hostIP":..}). Ports without
// a name are skipped (only named ports are looked up). An empty string gives an empty list.
// INVALID_ARGUMENT for malformed JSON, a non-array, a mistyped field, containerPort outside 1-65535
// or a protocol other than TCP, UDP or SCTP. Never throws.
absl::StatusOr<std::vector<::inplaced::v1::ContainerPort>> ParseKubeletPorts(
    absl::string_view json);

}  // namespace inplaced::daemon

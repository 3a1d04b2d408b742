#pragma once

// Where gRPC statuses from the container runtime become absl::Status (over common/grpc_status, with
// the call's name), and where differences between runtime versions in error reporting are absorbed.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace inplaced::cri {

// Converts a runtime's answer to `call` (a CRI method name such as "StopContainer") into an
// absl::Status with the same numeric code (gRPC and absl both follow google.rpc.Code) and the
// message "<call>: <runtime message>". An OK status maps to OK. Codes outside the canonical range
// become UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view call);

// Like FromGrpcStatus, for the calls the CRI declares idempotent for absent objects (StopContainer,
// RemoveContainer, StopPodSandbox, RemovePodSandbox, RemoveImage): NOT_FOUND becomes OK. containerd
// 1.6.0-1.6.34 and 1.7.0-1.7.20 (Debian bookworm ships 1.6.20) answer NOT_FOUND to StopContainer of
// an unknown id where the CRI and later releases answer OK; the caller sees one behaviour. This is
// the one place that quirk is handled: the recreate engine counts a container removed between its
// snapshot and its StopContainer as stopped only because StopContainer answers OK for it here.
absl::Status FromGrpcStatusIdempotent(const grpc::Status& status, absl::string_view call);

// True when the runtime said the object does not exist (gRPC NOT_FOUND), the only code kubelet
// treats specially (k8s.io/cri-api/pkg/errors.IsNotFound). Call it qualified (cri::IsNotFound): ADL
// also finds absl::IsNotFound, which answers the same.
bool IsNotFound(const absl::Status& status);

// True when the runtime lacks the called service or method (no CRI v1, or an RPC newer than the
// runtime).
bool IsUnimplemented(const absl::Status& status);

}  // namespace inplaced::cri

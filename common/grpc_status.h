#pragma once

// The one conversion between gRPC and absl statuses, for both directions and every gRPC peer of the
// project: the CRI client (cri/errors), the control API server (daemon/server/rpc_scope) and the
// fake CRI server. gRPC and absl both number their codes after google.rpc.Code, so a code keeps its
// number.

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace inplaced {

// Same code, same message. A code outside the canonical range 0..16 becomes UNKNOWN.
absl::Status FromGrpcStatus(const grpc::Status& status);

// Same code, same message (for servers). A code outside the canonical range becomes UNKNOWN.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace inplaced

#pragma once

// The one place where the control API's handlers turn an absl::Status into the grpc::Status they
// return (same canonical code, same message: both follow google.rpc.Code), and where each RPC is
// logged once: `rpc method=<Method> code=<CODE> ms=<elapsed>` (plus `error="..."` when not OK).

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace inplaced::daemon {

// Create one at the start of a handler and return Finish(status) at its end. Not thread-safe (one
// per call).
class RpcScope {
 public:
  explicit RpcScope(absl::string_view method);
  RpcScope(const RpcScope&) = delete;
  RpcScope& operator=(const RpcScope&) = delete;

  // Logs the call and returns `status` as a grpc::Status.
  grpc::Status Finish(const absl::Status& status);

 private:
  std::string method_;
  absl::Time start_;
};

// Canonical UNAVAILABLE for calls that arrive while the daemon starts or stops.
absl::Status NotServingError();

}  // namespace inplaced::daemon

#include "daemon/server/rpc_scope.h"

#include <spdlog/spdlog.h>

#include "cri/errors.h"

namespace inplaced::daemon {

RpcScope::RpcScope(absl::string_view method) : method_(method), start_(absl::Now()) {}

grpc::Status RpcScope::Finish(const absl::Status& status) {
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
  const std::string code = absl::StatusCodeToString(status.code());
  if (status.ok()) {
    spdlog::info("rpc method={} code={} ms={:.1f}", method_, code, ms);
  } else {
    spdlog::info("rpc method={} code={} ms={:.1f} error=\"{}\"", method_, code, ms,
                 std::string(status.message()));
  }
  // cri::ToGrpcStatus is the project's absl->gRPC conversion (same code, same message).
  return cri::ToGrpcStatus(status);
}

absl::Status NotServingError() {
  return absl::UnavailableError("inplaced is not serving (starting or shutting down): retry");
}

}  // namespace inplaced::daemon

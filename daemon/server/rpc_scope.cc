#include "daemon/server/rpc_scope.h"

#include <spdlog/spdlog.h>

#include "absl/strings/match.h"
#include "common/grpc_status.h"
#include "common/log_safe.h"

namespace inplaced::daemon {
namespace {

// Controllers poll Get/List and probes call Health/Check every few seconds: their successes are
// logged at debug so that the info log shows what changed the node.
bool IsRoutineRead(absl::string_view method) {
  return absl::StartsWith(method, "Get") || absl::StartsWith(method, "List") ||
         absl::StartsWith(method, "Health/");
}

}  // namespace

RpcScope::RpcScope(absl::string_view method) : method_(method), start_(absl::Now()) {}

grpc::Status RpcScope::Finish(const absl::Status& status) {
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - start_);
  const std::string code = absl::StatusCodeToString(status.code());
  if (status.ok()) {
    spdlog::log(IsRoutineRead(method_) ? spdlog::level::debug : spdlog::level::info,
                "rpc method={} code={} ms={:.1f}", method_, code, ms);
  } else {
    spdlog::info("rpc method={} code={} ms={:.1f} error=\"{}\"", method_, code, ms,
                 LogSafe(status.message()));
  }
  return ToGrpcStatus(status);
}

absl::Status NotServingError() {
  return absl::UnavailableError("inplaced is not serving (starting or shutting down): retry");
}

}  // namespace inplaced::daemon

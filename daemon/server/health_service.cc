#include "daemon/server/health_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/server/rpc_scope.h"

namespace inplaced::daemon {
namespace {

using ::grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus StatusOf(ServingPhase phase) {
  return phase == ServingPhase::kServing ? HealthCheckResponse::SERVING
                                         : HealthCheckResponse::NOT_SERVING;
}

}  // namespace

HealthServiceImpl::HealthServiceImpl(ServingState& state, std::vector<std::string> services,
                                     absl::Duration poll_period)
    : state_(state), services_(std::move(services)), poll_period_(poll_period) {}

bool HealthServiceImpl::Known(const std::string& service) const {
  return service.empty() ||
         std::find(services_.begin(), services_.end(), service) != services_.end();
}

grpc::Status HealthServiceImpl::Check(grpc::ServerContext* context,
                                      const ::grpc::health::v1::HealthCheckRequest* request,
                                      HealthCheckResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("Health/Check");
  if (!Known(request->service())) {
    return scope.Finish(
        absl::NotFoundError(absl::StrCat("unknown service \"", request->service(), "\"")));
  }
  response->set_status(StatusOf(state_.phase()));
  return scope.Finish(absl::OkStatus());
}

grpc::Status HealthServiceImpl::Watch(grpc::ServerContext* context,
                                      const ::grpc::health::v1::HealthCheckRequest* request,
                                      grpc::ServerWriter<HealthCheckResponse>* writer) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("Health/Watch");
  HealthCheckResponse response;
  const bool known = Known(request->service());
  ServingPhase phase = state_.phase();
  response.set_status(known ? StatusOf(phase) : HealthCheckResponse::SERVICE_UNKNOWN);
  if (!writer->Write(response)) return scope.Finish(absl::CancelledError("client went away"));
  // The sync API does not tell a handler that its client left: wait for changes in short slices
  // and look at IsCancelled() between them.
  while (!context->IsCancelled()) {
    const ServingPhase now = state_.WaitForChange(phase, poll_period_);
    if (now == phase) continue;
    phase = now;
    if (known) {  // an unknown service stays SERVICE_UNKNOWN
      response.set_status(StatusOf(phase));
      if (!writer->Write(response)) break;
    }
    if (phase == ServingPhase::kStopping) {
      return scope.Finish(absl::UnavailableError("inplaced is shutting down"));
    }
  }
  return scope.Finish(absl::CancelledError("client went away"));
}

}  // namespace inplaced::daemon

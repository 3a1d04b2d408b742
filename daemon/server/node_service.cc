#include "daemon/server/node_service.h"

#include "daemon/server/rpc_scope.h"

namespace inplaced::daemon {

grpc::Status NodeServiceImpl::GetNodeInfo(grpc::ServerContext* context,
                                          const ::inplaced::v1::GetNodeInfoRequest* request,
                                          ::inplaced::v1::GetNodeInfoResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("GetNodeInfo");
  if (!state_.serving()) return scope.Finish(NotServingError());
  absl::StatusOr<NodeInfoReporter*> reporter = reporter_.GetOrNotReady();
  if (!reporter.ok()) return scope.Finish(reporter.status());
  *response->mutable_node_info() = (*reporter)->Collect();
  return scope.Finish(absl::OkStatus());
}

}  // namespace inplaced::daemon

#pragma once

// inplaced.v1.NodeService over gRPC (sync API): GetNodeInfo answered by the NodeInfoReporter, logged
// and translated by RpcScope. While the daemon is not SERVING, or before the reporter is set (the
// control server starts before the runtime is connected), calls answer UNAVAILABLE.

#include <grpcpp/grpcpp.h>

#include "api/inplaced/v1/node.grpc.pb.h"
#include "common/readiness_slot.h"
#include "daemon/server/node_info.h"
#include "daemon/server/serving_state.h"

namespace inplaced::daemon {

// Thread-safe. `state` and the reporter must outlive the service.
class NodeServiceImpl final : public ::inplaced::v1::NodeService::Service {
 public:
  explicit NodeServiceImpl(ServingState& state) : state_(state) {}

  // The reporter the RPC uses from now on. Set once, before the daemon turns SERVING; not owned.
  void SetReporter(NodeInfoReporter* reporter) { reporter_.Set(reporter); }

  grpc::Status GetNodeInfo(grpc::ServerContext* context,
                           const ::inplaced::v1::GetNodeInfoRequest* request,
                           ::inplaced::v1::GetNodeInfoResponse* response) override;

 private:
  ReadinessSlot<NodeInfoReporter> reporter_;
  ServingState& state_;
};

}  // namespace inplaced::daemon

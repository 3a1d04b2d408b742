#pragma once

// inplaced.v1.RecreateService over gRPC: each RPC is mapped to the RecreateManager, with the
// manager's absl::Status returned as the call's gRPC status (RpcScope), and every call logged.
// While the daemon is not SERVING (ServingState), or before the manager is set (the control server
// starts before the engine has loaded its state), every call answers UNAVAILABLE without reaching
// the manager.
//
// CreateRecreateRequest uses the callback API over RecreateManager::CreateAsync: a burst of Creates
// waiting for their requests to be durable holds no gRPC thread each. The other unary RPCs use the
// sync API. WatchRecreateRequests uses the callback API (WatchStreamReactor: no thread per open
// stream) and streams the manager's watch until the client cancels or disconnects (CANCELLED), the
// manager ends the watch (UNAVAILABLE on shutdown), or StopStreams() is called (UNAVAILABLE).

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"
#include "common/readiness_slot.h"
#include "daemon/recreate/recreate_manager.h"
#include "daemon/server/open_watch_streams.h"
#include "daemon/server/serving_state.h"

namespace inplaced::daemon {

// Thread-safe. `state` and the manager must outlive the service.
class RecreateServiceImpl final
    : public ::inplaced::v1::RecreateService::WithCallbackMethod_CreateRecreateRequest<
          ::inplaced::v1::RecreateService::WithCallbackMethod_WatchRecreateRequests<
              ::inplaced::v1::RecreateService::Service>> {
 public:
  // Calls answer UNAVAILABLE ("inplaced is starting: retry") until SetManager().
  explicit RecreateServiceImpl(ServingState& state);
  // Over a manager that is ready from the start.
  RecreateServiceImpl(RecreateManager& manager, ServingState& state);

  // The manager the RPCs use from now on. Set once, before the daemon turns SERVING; not owned.
  void SetManager(RecreateManager* manager) { manager_.Set(manager); }

  // Ends every open WatchRecreateRequests stream with UNAVAILABLE, and every later one at once.
  // Call before grpc::Server::Shutdown, which waits for every call to finish.
  void StopStreams();

  grpc::ServerUnaryReactor* CreateRecreateRequest(
      grpc::CallbackServerContext* context,
      const ::inplaced::v1::CreateRecreateRequestRequest* request,
      ::inplaced::v1::CreateRecreateRequestResponse* response) override;
  grpc::Status GetRecreateRequest(grpc::ServerContext* context,
                                  const ::inplaced::v1::GetRecreateRequestRequest* request,
                                  ::inplaced::v1::GetRecreateRequestResponse* response) override;
  grpc::Status ListRecreateRequests(
      grpc::ServerContext* context, const ::inplaced::v1::ListRecreateRequestsRequest* request,
      ::inplaced::v1::ListRecreateRequestsResponse* response) override;
  grpc::Status DeleteRecreateRequest(
      grpc::ServerContext* context, const ::inplaced::v1::DeleteRecreateRequestRequest* request,
      ::inplaced::v1::DeleteRecreateRequestResponse* response) override;
  grpc::ServerWriteReactor<::inplaced::v1::WatchRecreateRequestsResponse>* WatchRecreateRequests(
      grpc::CallbackServerContext* context,
      const ::inplaced::v1::WatchRecreateRequestsRequest* request) override;
  grpc::Status AcknowledgeUnready(grpc::ServerContext* context,
                                  const ::inplaced::v1::AcknowledgeUnreadyRequest* request,
                                  ::inplaced::v1::AcknowledgeUnreadyResponse* response) override;
  grpc::Status ReportReadiness(grpc::ServerContext* context,
                               const ::inplaced::v1::ReportReadinessRequest* request,
                               ::inplaced::v1::ReportReadinessResponse* response) override;

 private:
  // The manager, or UNAVAILABLE unless serving with a manager set.
  absl::StatusOr<RecreateManager*> Manager() const;

  ReadinessSlot<RecreateManager> manager_;
  ServingState& state_;
  OpenWatchStreams streams_;
};

}  // namespace inplaced::daemon

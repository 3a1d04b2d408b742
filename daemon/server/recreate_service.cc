#include "daemon/server/recreate_service.h"

#include <memory>
#include <utility>

#include "daemon/server/rpc_scope.h"
#include "daemon/server/watch_stream_reactor.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

}  // namespace

RecreateServiceImpl::RecreateServiceImpl(ServingState& state) : state_(state) {}

RecreateServiceImpl::RecreateServiceImpl(RecreateManager& manager, ServingState& state)
    : manager_(&manager), state_(state) {}

absl::StatusOr<RecreateManager*> RecreateServiceImpl::Manager() const {
  if (!state_.serving()) return NotServingError();
  return manager_.GetOrNotReady();
}

void RecreateServiceImpl::StopStreams() { streams_.StopAll(); }

grpc::ServerUnaryReactor* RecreateServiceImpl::CreateRecreateRequest(
    grpc::CallbackServerContext* context, const api::CreateRecreateRequestRequest* request,
    api::CreateRecreateRequestResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The call counts as active, and is logged, until it is answered.
  auto active = std::make_shared<ServingState::ActiveCall>(state_);
  auto scope = std::make_shared<RpcScope>("CreateRecreateRequest");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) {
    reactor->Finish(scope->Finish(manager.status()));
    return reactor;
  }
  // `response` lives until Finish; `done` runs once.
  (*manager)->CreateAsync(*request, [reactor, response, active, scope](
                                        absl::StatusOr<api::CreateRecreateRequestResponse> result) {
    if (result.ok()) *response = *std::move(result);
    reactor->Finish(scope->Finish(result.status()));
  });
  return reactor;
}

grpc::Status RecreateServiceImpl::GetRecreateRequest(grpc::ServerContext* context,
                                                     const api::GetRecreateRequestRequest* request,
                                                     api::GetRecreateRequestResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("GetRecreateRequest");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) return scope.Finish(manager.status());
  absl::StatusOr<api::RecreateRequest> result = (*manager)->Get(*request);
  if (result.ok()) *response->mutable_recreate_request() = *std::move(result);
  return scope.Finish(result.status());
}

grpc::Status RecreateServiceImpl::ListRecreateRequests(
    grpc::ServerContext* context, const api::ListRecreateRequestsRequest* request,
    api::ListRecreateRequestsResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("ListRecreateRequests");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) return scope.Finish(manager.status());
  absl::StatusOr<api::ListRecreateRequestsResponse> result = (*manager)->List(*request);
  if (result.ok()) *response = *std::move(result);
  return scope.Finish(result.status());
}

grpc::Status RecreateServiceImpl::DeleteRecreateRequest(
    grpc::ServerContext* context, const api::DeleteRecreateRequestRequest* request,
    api::DeleteRecreateRequestResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("DeleteRecreateRequest");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) return scope.Finish(manager.status());
  return scope.Finish((*manager)->Delete(*request));
}

grpc::Status RecreateServiceImpl::AcknowledgeUnready(grpc::ServerContext* context,
                                                     const api::AcknowledgeUnreadyRequest* request,
                                                     api::AcknowledgeUnreadyResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("AcknowledgeUnready");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) return scope.Finish(manager.status());
  absl::StatusOr<api::RecreateRequest> result = (*manager)->AcknowledgeUnready(*request);
  if (result.ok()) *response->mutable_recreate_request() = *std::move(result);
  return scope.Finish(result.status());
}

grpc::Status RecreateServiceImpl::ReportReadiness(grpc::ServerContext* context,
                                                  const api::ReportReadinessRequest* request,
                                                  api::ReportReadinessResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("ReportReadiness");
  absl::StatusOr<RecreateManager*> manager = Manager();
  if (!manager.ok()) return scope.Finish(manager.status());
  absl::StatusOr<api::RecreateRequest> result = (*manager)->ReportReadiness(*request);
  if (result.ok()) *response->mutable_recreate_request() = *std::move(result);
  return scope.Finish(result.status());
}

grpc::ServerWriteReactor<api::WatchRecreateRequestsResponse>*
RecreateServiceImpl::WatchRecreateRequests(grpc::CallbackServerContext* /*context*/,
                                           const api::WatchRecreateRequestsRequest* request) {
  return WatchStreamReactor<api::WatchRecreateRequestsResponse, RecreateWatch>::Start(
      "WatchRecreateRequests", state_, streams_, [this] { return Manager(); },
      [request](RecreateManager* manager) { return manager->Watch(*request); });
}

}  // namespace inplaced::daemon

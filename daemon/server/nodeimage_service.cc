#include "daemon/server/nodeimage_service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <utility>

#include "absl/time/clock.h"
#include "common/cancellation.h"
#include "daemon/server/rpc_scope.h"
#include "daemon/server/watch_stream_reactor.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

bool DeadlinePassed(const grpc::ServerContext& context) {
  return std::chrono::system_clock::now() >= context.deadline();
}

// The manager's watch as WatchNodeImageResponse messages, for WatchStreamReactor. SYNCED is not
// part of this API: skipped.
class NodeImageStreamWatch {
 public:
  explicit NodeImageStreamWatch(std::unique_ptr<Watch<api::NodeImage>> watch)
      : watch_(std::move(watch)) {}

  WatchPoll TryNext(api::WatchNodeImageResponse* out) {
    WatchEvent<api::NodeImage> event;
    while (true) {
      const WatchPoll poll = watch_->TryNext(&event);
      if (poll != WatchPoll::kEvent) return poll;
      if (event.object == nullptr) continue;
      *out->mutable_node_image() = *event.object;
      return poll;
    }
  }
  void SetReadyCallback(std::function<void()> ready) { watch_->SetReadyCallback(std::move(ready)); }
  absl::Status Status() { return watch_->Status(); }
  void Cancel() { watch_->Cancel(); }

 private:
  std::unique_ptr<Watch<api::NodeImage>> watch_;  // dropping it ends the watch
};

}  // namespace

NodeImageServiceImpl::NodeImageServiceImpl(ServingState& state, absl::Duration stream_poll_period)
    : state_(state), canceller_(stream_poll_period) {}

void NodeImageServiceImpl::StopStreams() {
  streams_.StopAll();
  canceller_.CancelAll();
}

absl::StatusOr<imagepull::NodeImageManager*> NodeImageServiceImpl::Serving() const {
  if (!state_.serving()) return NotServingError();
  return manager_.GetOrNotReady();
}

grpc::Status NodeImageServiceImpl::SetNodeImage(grpc::ServerContext* /*context*/,
                                                const api::SetNodeImageRequest* request,
                                                api::SetNodeImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("SetNodeImage");
  absl::StatusOr<imagepull::NodeImageManager*> manager = Serving();
  if (!manager.ok()) return scope.Finish(manager.status());
  absl::StatusOr<api::NodeImage> result = (*manager)->SetNodeImage(*request);
  if (result.ok()) *response->mutable_node_image() = *std::move(result);
  return scope.Finish(result.status());
}

grpc::Status NodeImageServiceImpl::GetNodeImage(grpc::ServerContext* /*context*/,
                                                const api::GetNodeImageRequest* /*request*/,
                                                api::GetNodeImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("GetNodeImage");
  absl::StatusOr<imagepull::NodeImageManager*> manager = Serving();
  if (!manager.ok()) return scope.Finish(manager.status());
  *response->mutable_node_image() = (*manager)->GetNodeImage();
  return scope.Finish(absl::OkStatus());
}

grpc::ServerWriteReactor<api::WatchNodeImageResponse>* NodeImageServiceImpl::WatchNodeImage(
    grpc::CallbackServerContext* /*context*/, const api::WatchNodeImageRequest* request) {
  return WatchStreamReactor<api::WatchNodeImageResponse, NodeImageStreamWatch>::Start(
      "WatchNodeImage", state_, streams_, [this] { return Serving(); },
      [request](imagepull::NodeImageManager* manager)
          -> absl::StatusOr<std::unique_ptr<NodeImageStreamWatch>> {
        absl::StatusOr<std::unique_ptr<Watch<api::NodeImage>>> watch = manager->Watch(*request);
        if (!watch.ok()) return watch.status();
        return std::make_unique<NodeImageStreamWatch>(*std::move(watch));
      });
}

grpc::Status NodeImageServiceImpl::PullImage(grpc::ServerContext* context,
                                             const api::PullImageRequest* request,
                                             api::PullImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("PullImage");
  absl::StatusOr<imagepull::NodeImageManager*> manager = Serving();
  if (!manager.ok()) return scope.Finish(manager.status());

  absl::StatusOr<api::AdHocPullStatus> accepted = (*manager)->PullImage(*request);
  if (!accepted.ok()) return scope.Finish(accepted.status());
  const api::ImagePullPhase phase = accepted->status().phase();
  if (!request->wait() || phase == api::IMAGE_PULL_PHASE_SUCCEEDED ||
      phase == api::IMAGE_PULL_PHASE_FAILED) {
    *response->mutable_pull() = *std::move(accepted);
    return scope.Finish(absl::OkStatus());
  }

  // The wait ends when the client goes away (cancel or deadline: both make the context cancelled,
  // which the canceller polls) or the daemon stops streams.
  Cancellation cancel;
  const int registration = canceller_.Register(context, [&cancel] { cancel.Cancel(); });
  absl::StatusOr<api::AdHocPullStatus> finished =
      (*manager)->WaitAdHocPull(request->image(), &cancel);
  canceller_.Unregister(registration);
  if (finished.ok()) {
    *response->mutable_pull() = *std::move(finished);
    return scope.Finish(absl::OkStatus());
  }
  if (absl::IsCancelled(finished.status())) {
    if (canceller_.cancelled_all()) {
      return scope.Finish(absl::UnavailableError(
          "inplaced is shutting down; the ad hoc pull starts again after the restart"));
    }
    if (DeadlinePassed(*context)) {
      return scope.Finish(absl::DeadlineExceededError(
          "the RPC's deadline passed before the pull finished; the pull goes on"));
    }
  }
  return scope.Finish(finished.status());
}

}  // namespace inplaced::daemon

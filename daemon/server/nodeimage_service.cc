#include "daemon/server/nodeimage_service.h"

#include <chrono>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/cancellation.h"
#include "daemon/server/rpc_scope.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

// What a WatchNodeImage handler waits on: the newest snapshot not yet sent (older ones are
// replaced, so a slow client never holds the puller's notifying thread) and whether the stream must
// end.
struct WatchMailbox {
  absl::Mutex mu;
  std::optional<api::NodeImage> latest ABSL_GUARDED_BY(mu);
  bool cancelled ABSL_GUARDED_BY(mu) = false;
};

bool DeadlinePassed(const grpc::ServerContext& context) {
  return std::chrono::system_clock::now() >= context.deadline();
}

}  // namespace

NodeImageServiceImpl::NodeImageServiceImpl(ServingState& state, absl::Duration stream_poll_period)
    : state_(state), canceller_(stream_poll_period) {}

void NodeImageServiceImpl::SetPuller(imagepull::ImagePuller* puller) {
  puller_.store(puller, std::memory_order_release);
}

void NodeImageServiceImpl::StopStreams() { canceller_.CancelAll(); }

absl::Status NodeImageServiceImpl::CheckServing() const {
  if (!state_.serving() || puller() == nullptr) return NotServingError();
  return absl::OkStatus();
}

grpc::Status NodeImageServiceImpl::SetNodeImage(grpc::ServerContext* /*context*/,
                                                const api::SetNodeImageRequest* request,
                                                api::SetNodeImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("SetNodeImage");
  if (absl::Status serving = CheckServing(); !serving.ok()) return scope.Finish(serving);
  absl::StatusOr<api::NodeImage> result = puller()->SetNodeImage(*request);
  if (result.ok()) *response->mutable_node_image() = *std::move(result);
  return scope.Finish(result.status());
}

grpc::Status NodeImageServiceImpl::GetNodeImage(grpc::ServerContext* /*context*/,
                                                const api::GetNodeImageRequest* /*request*/,
                                                api::GetNodeImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("GetNodeImage");
  if (absl::Status serving = CheckServing(); !serving.ok()) return scope.Finish(serving);
  *response->mutable_node_image() = puller()->GetNodeImage();
  return scope.Finish(absl::OkStatus());
}

grpc::Status NodeImageServiceImpl::WatchNodeImage(
    grpc::ServerContext* context, const api::WatchNodeImageRequest* request,
    grpc::ServerWriter<api::WatchNodeImageResponse>* writer) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("WatchNodeImage");
  if (absl::Status serving = CheckServing(); !serving.ok()) return scope.Finish(serving);
  imagepull::ImagePuller& puller = *this->puller();

  WatchMailbox box;
  // Subscribe before reading the initial state, so no change between the two is lost; snapshots not
  // newer than what was sent are skipped below.
  const int subscription = puller.Subscribe([&box](const api::NodeImage& node) {
    absl::MutexLock lock(&box.mu);
    if (!box.latest.has_value() ||
        box.latest->metadata().resource_version() < node.metadata().resource_version()) {
      box.latest = node;
    }
  });
  const int registration = canceller_.Register(context, [&box] {
    absl::MutexLock lock(&box.mu);
    box.cancelled = true;
  });

  uint64_t last_sent = 0;
  bool client_gone = false;
  if (!request->skip_initial_state()) {
    api::WatchNodeImageResponse message;
    *message.mutable_node_image() = puller.GetNodeImage();
    last_sent = message.node_image().metadata().resource_version();
    client_gone = !writer->Write(message);
  } else {
    last_sent = puller.GetNodeImage().metadata().resource_version();
  }
  while (!client_gone) {
    api::WatchNodeImageResponse message;
    {
      absl::MutexLock lock(&box.mu);
      auto ready = [&box]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(box.mu) {
        return box.cancelled || box.latest.has_value();
      };
      box.mu.Await(absl::Condition(&ready));
      if (box.cancelled) break;
      *message.mutable_node_image() = *std::move(box.latest);
      box.latest.reset();
    }
    const uint64_t version = message.node_image().metadata().resource_version();
    if (version <= last_sent) continue;
    last_sent = version;
    client_gone = !writer->Write(message);
  }
  canceller_.Unregister(registration);
  puller.Unsubscribe(subscription);

  if (canceller_.cancelled_all()) {
    return scope.Finish(
        absl::UnavailableError("inplaced is shutting down: watch again after restart"));
  }
  return scope.Finish(absl::CancelledError("watch cancelled by the client"));
}

grpc::Status NodeImageServiceImpl::PullImage(grpc::ServerContext* context,
                                             const api::PullImageRequest* request,
                                             api::PullImageResponse* response) {
  ServingState::ActiveCall active(state_);
  RpcScope scope("PullImage");
  if (absl::Status serving = CheckServing(); !serving.ok()) return scope.Finish(serving);
  imagepull::ImagePuller& puller = *this->puller();

  absl::StatusOr<api::AdHocPullStatus> accepted = puller.PullImage(*request);
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
  absl::StatusOr<api::AdHocPullStatus> finished = puller.WaitAdHocPull(request->image(), &cancel);
  canceller_.Unregister(registration);
  if (finished.ok()) {
    *response->mutable_pull() = *std::move(finished);
    return scope.Finish(absl::OkStatus());
  }
  if (absl::IsCancelled(finished.status())) {
    if (canceller_.cancelled_all()) {
      return scope.Finish(absl::UnavailableError(
          "inplaced is shutting down; an unfinished ad hoc pull is not resumed after restart"));
    }
    if (DeadlinePassed(*context)) {
      return scope.Finish(absl::DeadlineExceededError(
          "the RPC's deadline passed before the pull finished; the pull goes on"));
    }
  }
  return scope.Finish(finished.status());
}

}  // namespace inplaced::daemon

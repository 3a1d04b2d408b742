#pragma once

// inplaced.v1.NodeImageService over gRPC: each RPC is mapped to the NodeImageManager
// seam (imagepull/nodeimage_manager.h; the puller in production), with the manager's absl::Status
// returned as the call's gRPC status (RpcScope), and every call logged. While the daemon is not
// SERVING (ServingState), or before the manager is set, every call answers UNAVAILABLE without
// reaching the manager.
//
//   SetNodeImage / GetNodeImage: NodeImageManager::SetNodeImage / GetNodeImage.
//   WatchNodeImage (callback API, WatchStreamReactor: no thread per open stream):
//     NodeImageManager::Watch: the current NodeImage (unless skip_initial_state), then the latest
//     snapshot after each change (coalesced: a slow client gets the newest, never an older one
//     after a newer). Ends with CANCELLED when the client cancels or disconnects, UNAVAILABLE after
//     StopStreams() or when the manager shuts down.
//   PullImage (sync API): NodeImageManager::PullImage; with `wait`, then WaitAdHocPull until the
//     pull finishes. The wait ends early with DEADLINE_EXCEEDED (the RPC's deadline passed) or CANCELLED
//     (the client cancelled), UNAVAILABLE after StopStreams(); the pull itself goes on.

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "common/readiness_slot.h"
#include "daemon/server/open_watch_streams.h"
#include "daemon/server/serving_state.h"
#include "daemon/server/stream_canceller.h"
#include "imagepull/nodeimage_manager.h"

namespace inplaced::daemon {

// Thread-safe. `state` and the manager given to SetManager must outlive the service.
class NodeImageServiceImpl final
    : public ::inplaced::v1::NodeImageService::WithCallbackMethod_WatchNodeImage<
          ::inplaced::v1::NodeImageService::Service> {
 public:
  // `stream_poll_period`: how often PullImage waits check whether their client went away.
  explicit NodeImageServiceImpl(ServingState& state,
                                absl::Duration stream_poll_period = absl::Milliseconds(100));

  // The manager the RPCs use. The control server starts before the puller exists (calls are
  // UNAVAILABLE until it is set). Set once, before the daemon turns SERVING; not owned.
  void SetManager(imagepull::NodeImageManager* manager) { manager_.Set(manager); }

  // Ends every open WatchNodeImage stream and every PullImage wait with UNAVAILABLE, and every
  // later one at once. Call before grpc::Server::Shutdown (which waits for running handlers) and
  // before the manager is destroyed.
  void StopStreams();

  grpc::Status SetNodeImage(grpc::ServerContext* context,
                            const ::inplaced::v1::SetNodeImageRequest* request,
                            ::inplaced::v1::SetNodeImageResponse* response) override;
  grpc::Status GetNodeImage(grpc::ServerContext* context,
                            const ::inplaced::v1::GetNodeImageRequest* request,
                            ::inplaced::v1::GetNodeImageResponse* response) override;
  grpc::ServerWriteReactor<::inplaced::v1::WatchNodeImageResponse>* WatchNodeImage(
      grpc::CallbackServerContext* context,
      const ::inplaced::v1::WatchNodeImageRequest* request) override;
  grpc::Status PullImage(grpc::ServerContext* context,
                         const ::inplaced::v1::PullImageRequest* request,
                         ::inplaced::v1::PullImageResponse* response) override;

 private:
  // The manager; UNAVAILABLE unless serving with a manager set.
  absl::StatusOr<imagepull::NodeImageManager*> Serving() const;

  ServingState& state_;
  StreamCanceller canceller_;  // PullImage waits
  OpenWatchStreams streams_;   // WatchNodeImage streams
  ReadinessSlot<imagepull::NodeImageManager> manager_;
};

}  // namespace inplaced::daemon

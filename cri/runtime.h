#pragma once

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/cri/runtime_v1.pb.h"
#include "common/cancellation.h"

namespace inplaced::cri {

namespace criv1 = ::runtime::v1;

// A server stream of CRI container events (GetContainerEvents).
//
// Read() blocks for the next event and returns false when the stream ended (runtime closed it, the
// connection broke, or Cancel() was called); Finish() then returns why: OK for a clean end,
// UNIMPLEMENTED where the runtime has no event stream (containerd 1.6), CANCELLED after Cancel().
// Read() and Finish() belong to one reader thread; Cancel() may be called from any thread.
class ContainerEventStream {
 public:
  virtual ~ContainerEventStream() = default;
  virtual bool Read(criv1::ContainerEventResponse* event) = 0;
  virtual absl::Status Finish() = 0;
  virtual void Cancel() = 0;
};

// The container runtime as inplaced sees it: the subset of CRI runtime.v1 (RuntimeService and
// ImageService) that production code calls: listing and inspecting pods and containers, stopping
// and exec'ing into containers, container events, and pulling and inspecting images. What only
// kubelet does (creating and removing sandboxes and containers, listing and removing images) is not
// here: the tests reach it through their own seam (tests/fakes/pod_lifecycle.h).
//
// Requests and responses are the CRI messages themselves, so an implementation is a thin adapter
// (GrpcRuntime over the runtime's unix socket; FakeRuntime in memory). Errors are absl::Status with
// the gRPC code the runtime answered (the numbering is the same) and the runtime's message,
// prefixed with the call name. Semantics follow the CRI: StopContainer is idempotent for an absent
// container, ContainerStatus/PodSandboxStatus answer NOT_FOUND for absent objects, ImageStatus
// leaves `image` unset.
//
// Implementations are thread-safe.
class Runtime {
 public:
  virtual ~Runtime() = default;

  // RuntimeService.
  virtual absl::StatusOr<criv1::VersionResponse> Version(const criv1::VersionRequest& request) = 0;
  virtual absl::StatusOr<criv1::StatusResponse> Status(const criv1::StatusRequest& request) = 0;
  virtual absl::StatusOr<criv1::PodSandboxStatusResponse> PodSandboxStatus(
      const criv1::PodSandboxStatusRequest& request) = 0;
  virtual absl::StatusOr<criv1::ListPodSandboxResponse> ListPodSandbox(
      const criv1::ListPodSandboxRequest& request) = 0;
  // Returns once the container stopped; request.timeout() is the grace in seconds (0: kill now).
  virtual absl::Status StopContainer(const criv1::StopContainerRequest& request) = 0;
  // StopContainer that `cancel` (may be null) abandons: the call then returns CANCELLED at once and
  // the runtime goes on stopping the container by itself (a daemon shutting down does not wait for
  // a grace period). The default ignores `cancel`: a decorator must forward this call as such.
  virtual absl::Status StopContainerCancellable(const criv1::StopContainerRequest& request,
                                                Cancellation* cancel) {
    return StopContainer(request);
  }
  virtual absl::StatusOr<criv1::ListContainersResponse> ListContainers(
      const criv1::ListContainersRequest& request) = 0;
  virtual absl::StatusOr<criv1::ContainerStatusResponse> ContainerStatus(
      const criv1::ContainerStatusRequest& request) = 0;
  // A non-zero exit of the command is an OK status with exit_code set. `cancel` (may be null)
  // aborts the call with CANCELLED.
  virtual absl::StatusOr<criv1::ExecSyncResponse> ExecSync(const criv1::ExecSyncRequest& request,
                                                           Cancellation* cancel) = 0;
  // Asynchronous calls: they return at once, hold no thread while the runtime works (GrpcRuntime:
  // gRPC's callback API), and run `done` exactly once with what the blocking call would have
  // returned. `done` runs on an implementation thread (gRPC's callback threads, a fake's worker),
  // or on the calling thread itself when the call fails before it starts: so a caller must not hold
  // a lock that `done` takes while it calls these, and `done` must be short and must not block (it
  // may start the next asynchronous call). `cancel` (may be null) must outlive the call (until
  // `done` returned); once it fires the call ends soon with CANCELLED.
  //
  // StopContainer as StopContainerCancellable: same deadline and error mapping (idempotent for an
  // absent container); a cancellation abandons the wait only (the runtime finishes the stop).
  // Pure virtual on purpose: a decorator that forgot to forward it would not compile.
  virtual void StopContainerAsync(const criv1::StopContainerRequest& request, Cancellation* cancel,
                                  std::function<void(absl::Status)> done) = 0;
  // ExecSync: same deadline (none when request.timeout() == 0), same answers.
  virtual void ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                             std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) = 0;
  // Subscribes to container events. OK means the subscription was sent to a reachable runtime (a
  // runtime without the stream, e.g. containerd 1.6, answers UNIMPLEMENTED on the first
  // Read/Finish); UNAVAILABLE when the runtime cannot be reached now.
  virtual absl::StatusOr<std::unique_ptr<ContainerEventStream>> GetContainerEvents() = 0;

  // ImageService.
  virtual absl::StatusOr<criv1::ImageStatusResponse> ImageStatus(
      const criv1::ImageStatusRequest& request) = 0;
  // Has no deadline (pulls take as long as they take); `cancel` (may be null) aborts it with
  // CANCELLED.
  virtual absl::StatusOr<criv1::PullImageResponse> PullImage(const criv1::PullImageRequest& request,
                                                             Cancellation* cancel) = 0;
  // PullImage as an asynchronous call (the rules above StopContainerAsync): no thread is held for
  // the minutes a pull may take.
  virtual void PullImageAsync(
      const criv1::PullImageRequest& request, Cancellation* cancel,
      std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) = 0;
  virtual absl::StatusOr<criv1::ImageFsInfoResponse> ImageFsInfo(
      const criv1::ImageFsInfoRequest& request) = 0;
};

}  // namespace inplaced::cri

#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "common/executor.h"
#include "cri/runtime.h"
#include "grpcpp/grpcpp.h"
#include "tests/fakes/call_counter.h"
#include "tests/fakes/call_log.h"
#include "tests/fakes/pod_lifecycle.h"

namespace inplaced::fakes {

// Serves a cri::Runtime plus a PodLifecycle (usually one FakeRuntime, both halves of the node) as
// runtime.v1 RuntimeService (sync gRPC API but for StopContainer, see below): the calls
// PodLifecycle has (running, stopping and removing sandboxes, creating, starting and removing
// containers) go to `lifecycle`, the rest to `runtime`. Errors keep the runtime's code and message.
// ExecSync passes a Cancellation that fires when the client cancels or its deadline ends;
// GetContainerEvents streams until the client cancels (or the runtime ends the stream), and answers
// the runtime's error (e.g. UNIMPLEMENTED) otherwise. RPCs not overridden answer UNIMPLEMENTED.
// Both must outlive the service. Thread-safe as they are.
//
// StopContainer is a callback method whose blocking part (the grace period) runs on a pool: gRPC's
// sync server matches a burst of calls to one method one at a time (each waits for a thread to
// pick up the previous one and post the next request), which a real runtime does not do (containerd
// starts a goroutine per call), so a burst of kills would queue in the fake, not in the daemon.
class CriRuntimeService final
    : public ::runtime::v1::RuntimeService::WithCallbackMethod_StopContainer<
          ::runtime::v1::RuntimeService::Service> {
 public:
  CriRuntimeService(cri::Runtime& runtime, PodLifecycle& lifecycle)
      : runtime_(runtime), lifecycle_(lifecycle) {}

  grpc::Status Version(grpc::ServerContext*, const ::runtime::v1::VersionRequest* request,
                       ::runtime::v1::VersionResponse* response) override;
  grpc::Status RunPodSandbox(grpc::ServerContext*,
                             const ::runtime::v1::RunPodSandboxRequest* request,
                             ::runtime::v1::RunPodSandboxResponse* response) override;
  grpc::Status StopPodSandbox(grpc::ServerContext*,
                              const ::runtime::v1::StopPodSandboxRequest* request,
                              ::runtime::v1::StopPodSandboxResponse* response) override;
  grpc::Status RemovePodSandbox(grpc::ServerContext*,
                                const ::runtime::v1::RemovePodSandboxRequest* request,
                                ::runtime::v1::RemovePodSandboxResponse* response) override;
  grpc::Status PodSandboxStatus(grpc::ServerContext*,
                                const ::runtime::v1::PodSandboxStatusRequest* request,
                                ::runtime::v1::PodSandboxStatusResponse* response) override;
  grpc::Status ListPodSandbox(grpc::ServerContext*,
                              const ::runtime::v1::ListPodSandboxRequest* request,
                              ::runtime::v1::ListPodSandboxResponse* response) override;
  grpc::Status CreateContainer(grpc::ServerContext*,
                               const ::runtime::v1::CreateContainerRequest* request,
                               ::runtime::v1::CreateContainerResponse* response) override;
  grpc::Status StartContainer(grpc::ServerContext*,
                              const ::runtime::v1::StartContainerRequest* request,
                              ::runtime::v1::StartContainerResponse* response) override;
  // Answers when the container has stopped (or the stop failed), from a thread of `stops_`.
  grpc::ServerUnaryReactor* StopContainer(grpc::CallbackServerContext* context,
                                          const ::runtime::v1::StopContainerRequest* request,
                                          ::runtime::v1::StopContainerResponse* response) override;
  grpc::Status RemoveContainer(grpc::ServerContext*,
                               const ::runtime::v1::RemoveContainerRequest* request,
                               ::runtime::v1::RemoveContainerResponse* response) override;
  grpc::Status ListContainers(grpc::ServerContext*,
                              const ::runtime::v1::ListContainersRequest* request,
                              ::runtime::v1::ListContainersResponse* response) override;
  grpc::Status ContainerStatus(grpc::ServerContext*,
                               const ::runtime::v1::ContainerStatusRequest* request,
                               ::runtime::v1::ContainerStatusResponse* response) override;
  grpc::Status ExecSync(grpc::ServerContext* context, const ::runtime::v1::ExecSyncRequest* request,
                        ::runtime::v1::ExecSyncResponse* response) override;
  grpc::Status Status(grpc::ServerContext*, const ::runtime::v1::StatusRequest* request,
                      ::runtime::v1::StatusResponse* response) override;
  grpc::Status GetContainerEvents(
      grpc::ServerContext* context, const ::runtime::v1::GetEventsRequest* request,
      grpc::ServerWriter<::runtime::v1::ContainerEventResponse>* writer) override;

  // Records StopContainer and ExecSync in `log` (may be null; must outlive the service). Call
  // before serving.
  void SetCallLog(CallLog* log) { call_log_ = log; }

 private:
  cri::Runtime& runtime_;
  PodLifecycle& lifecycle_;
  CallLog* call_log_ = nullptr;
  // The stops waiting for their container to exit (up to the grace period each): threads are
  // started as needed and kept, bounded only to stay a test tool.
  ThreadPoolExecutor stops_{1024};
};

// Serves a cri::Runtime plus a PodLifecycle as runtime.v1 ImageService: ListImages and RemoveImage
// go to `lifecycle`, the rest to `runtime`. PullImage passes a Cancellation that fires when the
// client cancels. Both must outlive the service.
class CriImageService final : public ::runtime::v1::ImageService::Service {
 public:
  CriImageService(cri::Runtime& runtime, PodLifecycle& lifecycle)
      : runtime_(runtime), lifecycle_(lifecycle) {}

  grpc::Status ListImages(grpc::ServerContext*, const ::runtime::v1::ListImagesRequest* request,
                          ::runtime::v1::ListImagesResponse* response) override;
  grpc::Status ImageStatus(grpc::ServerContext*, const ::runtime::v1::ImageStatusRequest* request,
                           ::runtime::v1::ImageStatusResponse* response) override;
  grpc::Status PullImage(grpc::ServerContext* context,
                         const ::runtime::v1::PullImageRequest* request,
                         ::runtime::v1::PullImageResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext*, const ::runtime::v1::RemoveImageRequest* request,
                           ::runtime::v1::RemoveImageResponse* response) override;
  grpc::Status ImageFsInfo(grpc::ServerContext*, const ::runtime::v1::ImageFsInfoRequest* request,
                           ::runtime::v1::ImageFsInfoResponse* response) override;

 private:
  cri::Runtime& runtime_;
  PodLifecycle& lifecycle_;
};

struct CriServerOptions {
  // containerd's defaults (cri-reference.md §4.8).
  int max_send_message_bytes = 16 * 1024 * 1024;
  int max_receive_message_bytes = 16 * 1024 * 1024;
  // Records StopContainer and ExecSync calls (may be null; must outlive the server).
  CallLog* call_log = nullptr;
  // Counts every RPC by method (may be null; must outlive the server).
  CallCounter* call_counter = nullptr;
};

// Both services on one unix socket. Start() unlinks a stale socket file first; Shutdown() (or the
// destructor) cancels in-flight calls (open event streams included), stops the server and removes
// the socket file. Not copyable; Shutdown() is idempotent and thread-safe.
class CriServer {
 public:
  // INVALID_ARGUMENT for a path too long for a unix socket, UNAVAILABLE when the server cannot
  // listen. `runtime` and `lifecycle` (usually the same FakeRuntime) must outlive the server.
  static absl::StatusOr<std::unique_ptr<CriServer>> Start(cri::Runtime& runtime,
                                                          PodLifecycle& lifecycle,
                                                          const std::string& socket_path,
                                                          const CriServerOptions& options = {});
  ~CriServer();
  CriServer(const CriServer&) = delete;
  CriServer& operator=(const CriServer&) = delete;

  void Shutdown();
  // Blocks until Shutdown() returned on another thread.
  void Wait();
  const std::string& socket_path() const { return socket_path_; }

 private:
  CriServer(cri::Runtime& runtime, PodLifecycle& lifecycle, std::string socket_path);

  std::string socket_path_;
  CriRuntimeService runtime_service_;
  CriImageService image_service_;
  std::unique_ptr<grpc::Server> server_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace inplaced::fakes

#include "tests/fakes/cri_service.h"

#include <sys/un.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/cancellation.h"
#include "common/grpc_status.h"
#include "spdlog/spdlog.h"

namespace inplaced::fakes {
namespace {

namespace criv1 = ::runtime::v1;

// The sync gRPC API has no cancellation callback: poll ServerContext::IsCancelled() on a helper
// thread for the life of the call and fire `cancel` (and `on_cancel`) once the client has gone.
class CancelWatcher {
 public:
  CancelWatcher(grpc::ServerContext* context, Cancellation* cancel)
      : thread_([this, context, cancel] { Run(context, cancel); }) {}
  ~CancelWatcher() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }

 private:
  void Run(grpc::ServerContext* context, Cancellation* cancel) {
    absl::MutexLock lock(&mu_);
    while (!done_) {
      if (context->IsCancelled()) {
        cancel->Cancel();
        return;
      }
      mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Milliseconds(10));
    }
  }

  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts after mu_/done_ exist.
};

template <typename Response>
grpc::Status Reply(absl::StatusOr<Response> result, Response* response) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *response = std::move(result).value();
  return grpc::Status::OK;
}

}  // namespace

// ---- RuntimeService ----

grpc::Status CriRuntimeService::Version(grpc::ServerContext*, const criv1::VersionRequest* request,
                                        criv1::VersionResponse* response) {
  return Reply(runtime_.Version(*request), response);
}

grpc::Status CriRuntimeService::Status(grpc::ServerContext*, const criv1::StatusRequest* request,
                                       criv1::StatusResponse* response) {
  return Reply(runtime_.Status(*request), response);
}

grpc::Status CriRuntimeService::RunPodSandbox(grpc::ServerContext*,
                                              const criv1::RunPodSandboxRequest* request,
                                              criv1::RunPodSandboxResponse* response) {
  return Reply(lifecycle_.RunPodSandbox(*request), response);
}

grpc::Status CriRuntimeService::StopPodSandbox(grpc::ServerContext*,
                                               const criv1::StopPodSandboxRequest* request,
                                               criv1::StopPodSandboxResponse*) {
  return ToGrpcStatus(lifecycle_.StopPodSandbox(*request));
}

grpc::Status CriRuntimeService::RemovePodSandbox(grpc::ServerContext*,
                                                 const criv1::RemovePodSandboxRequest* request,
                                                 criv1::RemovePodSandboxResponse*) {
  return ToGrpcStatus(lifecycle_.RemovePodSandbox(*request));
}

grpc::Status CriRuntimeService::PodSandboxStatus(grpc::ServerContext*,
                                                 const criv1::PodSandboxStatusRequest* request,
                                                 criv1::PodSandboxStatusResponse* response) {
  return Reply(runtime_.PodSandboxStatus(*request), response);
}

grpc::Status CriRuntimeService::ListPodSandbox(grpc::ServerContext*,
                                               const criv1::ListPodSandboxRequest* request,
                                               criv1::ListPodSandboxResponse* response) {
  return Reply(runtime_.ListPodSandbox(*request), response);
}

grpc::Status CriRuntimeService::CreateContainer(grpc::ServerContext*,
                                                const criv1::CreateContainerRequest* request,
                                                criv1::CreateContainerResponse* response) {
  return Reply(lifecycle_.CreateContainer(*request), response);
}

grpc::Status CriRuntimeService::StartContainer(grpc::ServerContext*,
                                               const criv1::StartContainerRequest* request,
                                               criv1::StartContainerResponse*) {
  return ToGrpcStatus(lifecycle_.StartContainer(*request));
}

grpc::ServerUnaryReactor* CriRuntimeService::StopContainer(
    grpc::CallbackServerContext* context, const criv1::StopContainerRequest* request,
    criv1::StopContainerResponse*) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (call_log_ != nullptr) {
    call_log_->Record("StopContainer", "begin", request->container_id(),
                      absl::StrCat(request->timeout()));
  }
  // `request` lives until Finish().
  const bool queued = stops_.Submit([this, request, reactor] {
    grpc::Status status = ToGrpcStatus(runtime_.StopContainer(*request));
    if (call_log_ != nullptr) {
      call_log_->Record("StopContainer", "end", request->container_id(),
                        absl::StrCat(static_cast<int>(status.error_code())));
    }
    reactor->Finish(status);
  });
  if (!queued) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake CRI server stopping"));
  }
  return reactor;
}

grpc::Status CriRuntimeService::RemoveContainer(grpc::ServerContext*,
                                                const criv1::RemoveContainerRequest* request,
                                                criv1::RemoveContainerResponse*) {
  return ToGrpcStatus(lifecycle_.RemoveContainer(*request));
}

grpc::Status CriRuntimeService::ListContainers(grpc::ServerContext*,
                                               const criv1::ListContainersRequest* request,
                                               criv1::ListContainersResponse* response) {
  return Reply(runtime_.ListContainers(*request), response);
}

grpc::Status CriRuntimeService::ContainerStatus(grpc::ServerContext*,
                                                const criv1::ContainerStatusRequest* request,
                                                criv1::ContainerStatusResponse* response) {
  return Reply(runtime_.ContainerStatus(*request), response);
}

grpc::Status CriRuntimeService::ExecSync(grpc::ServerContext* context,
                                         const criv1::ExecSyncRequest* request,
                                         criv1::ExecSyncResponse* response) {
  Cancellation cancel;
  CancelWatcher watcher(context, &cancel);
  if (call_log_ != nullptr) {
    call_log_->Record("ExecSync", "begin", request->container_id(),
                      absl::StrJoin(request->cmd(), " "));
  }
  grpc::Status status = Reply(runtime_.ExecSync(*request, &cancel), response);
  if (call_log_ != nullptr) {
    call_log_->Record("ExecSync", "end", request->container_id(),
                      absl::StrCat(static_cast<int>(status.error_code())));
  }
  return status;
}

grpc::Status CriRuntimeService::GetContainerEvents(
    grpc::ServerContext* context, const criv1::GetEventsRequest*,
    grpc::ServerWriter<criv1::ContainerEventResponse>* writer) {
  absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> opened = runtime_.GetContainerEvents();
  if (!opened.ok()) return ToGrpcStatus(opened.status());
  cri::ContainerEventStream& stream = **opened;
  Cancellation cancel;
  cancel.Register([&stream] { stream.Cancel(); });
  CancelWatcher watcher(context, &cancel);
  criv1::ContainerEventResponse event;
  while (stream.Read(&event)) {
    if (!writer->Write(event)) {
      stream.Cancel();
      break;
    }
  }
  absl::Status finished = stream.Finish();
  // The client going away is the normal end of an event stream.
  if (absl::IsCancelled(finished)) return grpc::Status::OK;
  return ToGrpcStatus(finished);
}

// ---- ImageService ----

grpc::Status CriImageService::ListImages(grpc::ServerContext*,
                                         const criv1::ListImagesRequest* request,
                                         criv1::ListImagesResponse* response) {
  return Reply(lifecycle_.ListImages(*request), response);
}

grpc::Status CriImageService::ImageStatus(grpc::ServerContext*,
                                          const criv1::ImageStatusRequest* request,
                                          criv1::ImageStatusResponse* response) {
  return Reply(runtime_.ImageStatus(*request), response);
}

grpc::Status CriImageService::PullImage(grpc::ServerContext* context,
                                        const criv1::PullImageRequest* request,
                                        criv1::PullImageResponse* response) {
  Cancellation cancel;
  CancelWatcher watcher(context, &cancel);
  return Reply(runtime_.PullImage(*request, &cancel), response);
}

grpc::Status CriImageService::RemoveImage(grpc::ServerContext*,
                                          const criv1::RemoveImageRequest* request,
                                          criv1::RemoveImageResponse*) {
  return ToGrpcStatus(lifecycle_.RemoveImage(*request));
}

grpc::Status CriImageService::ImageFsInfo(grpc::ServerContext*,
                                          const criv1::ImageFsInfoRequest* request,
                                          criv1::ImageFsInfoResponse* response) {
  return Reply(runtime_.ImageFsInfo(*request), response);
}

// ---- CriServer ----

CriServer::CriServer(cri::Runtime& runtime, PodLifecycle& lifecycle, std::string socket_path)
    : socket_path_(std::move(socket_path)),
      runtime_service_(runtime, lifecycle),
      image_service_(runtime, lifecycle) {}

absl::StatusOr<std::unique_ptr<CriServer>> CriServer::Start(cri::Runtime& runtime,
                                                            PodLifecycle& lifecycle,
                                                            const std::string& socket_path,
                                                            const CriServerOptions& options) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path \"", socket_path, "\" is empty or too long for a unix socket"));
  }
  // A stale socket file from a killed server would make the bind fail.
  ::unlink(socket_path.c_str());
  std::unique_ptr<CriServer> server(new CriServer(runtime, lifecycle, socket_path));
  server->runtime_service_.SetCallLog(options.call_log);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix://", socket_path), grpc::InsecureServerCredentials());
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.RegisterService(&server->runtime_service_);
  builder.RegisterService(&server->image_service_);
  if (options.call_counter != nullptr) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(options.call_counter->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve CRI on unix socket ", socket_path));
  }
  spdlog::info("fake_cri serving socket={}", socket_path);
  return server;
}

CriServer::~CriServer() { Shutdown(); }

void CriServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // A deadline makes gRPC cancel calls still running (event streams, long stops) instead of
  // waiting.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server_->Wait();
  ::unlink(socket_path_.c_str());
}

void CriServer::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&shut_down_));
}

}  // namespace inplaced::fakes

#include "tests/fakes/cri_service.h"

#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/cancellation.h"
#include "spdlog/spdlog.h"

namespace inplaced::fakes {
namespace {

namespace v1 = ::runtime::v1;

// The sync gRPC API has no cancellation callback: poll ServerContext::IsCancelled() on a helper thread
// for the life of the call and fire `cancel` (and `on_cancel`) once the client has gone.
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

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// ---- RuntimeService ----

grpc::Status CriRuntimeService::Version(grpc::ServerContext*, const v1::VersionRequest* request,
                                        v1::VersionResponse* response) {
  return Reply(runtime_.Version(*request), response);
}

grpc::Status CriRuntimeService::Status(grpc::ServerContext*, const v1::StatusRequest* request,
                                       v1::StatusResponse* response) {
  return Reply(runtime_.Status(*request), response);
}

grpc::Status CriRuntimeService::RunPodSandbox(grpc::ServerContext*,
                                              const v1::RunPodSandboxRequest* request,
                                              v1::RunPodSandboxResponse* response) {
  return Reply(runtime_.RunPodSandbox(*request), response);
}

grpc::Status CriRuntimeService::StopPodSandbox(grpc::ServerContext*,
                                               const v1::StopPodSandboxRequest* request,
                                               v1::StopPodSandboxResponse*) {
  return ToGrpcStatus(runtime_.StopPodSandbox(*request));
}

grpc::Status CriRuntimeService::RemovePodSandbox(grpc::ServerContext*,
                                                 const v1::RemovePodSandboxRequest* request,
                                                 v1::RemovePodSandboxResponse*) {
  return ToGrpcStatus(runtime_.RemovePodSandbox(*request));
}

grpc::Status CriRuntimeService::PodSandboxStatus(grpc::ServerContext*,
                                                 const v1::PodSandboxStatusRequest* request,
                                                 v1::PodSandboxStatusResponse* response) {
  return Reply(runtime_.PodSandboxStatus(*request), response);
}

grpc::Status CriRuntimeService::ListPodSandbox(grpc::ServerContext*,
                                               const v1::ListPodSandboxRequest* request,
                                               v1::ListPodSandboxResponse* response) {
  return Reply(runtime_.ListPodSandbox(*request), response);
}

grpc::Status CriRuntimeService::CreateContainer(grpc::ServerContext*,
                                                const v1::CreateContainerRequest* request,
                                                v1::CreateContainerResponse* response) {
  return Reply(runtime_.CreateContainer(*request), response);
}

grpc::Status CriRuntimeService::StartContainer(grpc::ServerContext*,
                                               const v1::StartContainerRequest* request,
                                               v1::StartContainerResponse*) {
  return ToGrpcStatus(runtime_.StartContainer(*request));
}

grpc::Status CriRuntimeService::StopContainer(grpc::ServerContext*,
                                              const v1::StopContainerRequest* request,
                                              v1::StopContainerResponse*) {
  return ToGrpcStatus(runtime_.StopContainer(*request));
}

grpc::Status CriRuntimeService::RemoveContainer(grpc::ServerContext*,
                                                const v1::RemoveContainerRequest* request,
                                                v1::RemoveContainerResponse*) {
  return ToGrpcStatus(runtime_.RemoveContainer(*request));
}

grpc::Status CriRuntimeService::ListContainers(grpc::ServerContext*,
                                               const v1::ListContainersRequest* request,
                                               v1::ListContainersResponse* response) {
  return Reply(runtime_.ListContainers(*request), response);
}

grpc::Status CriRuntimeService::ContainerStatus(grpc::ServerContext*,
                                                const v1::ContainerStatusRequest* request,
                                                v1::ContainerStatusResponse* response) {
  return Reply(runtime_.ContainerStatus(*request), response);
}

grpc::Status CriRuntimeService::ExecSync(grpc::ServerContext* context,
                                         const v1::ExecSyncRequest* request,
                                         v1::ExecSyncResponse* response) {
  Cancellation cancel;
  CancelWatcher watcher(context, &cancel);
  return Reply(runtime_.ExecSync(*request, &cancel), response);
}

grpc::Status CriRuntimeService::GetContainerEvents(
    grpc::ServerContext* context, const v1::GetEventsRequest*,
    grpc::ServerWriter<v1::ContainerEventResponse>* writer) {
  absl::StatusOr<std::unique_ptr<cri::ContainerEventStream>> opened = runtime_.GetContainerEvents();
  if (!opened.ok()) return ToGrpcStatus(opened.status());
  cri::ContainerEventStream& stream = **opened;
  Cancellation cancel;
  cancel.Register([&stream] { stream.Cancel(); });
  CancelWatcher watcher(context, &cancel);
  v1::ContainerEventResponse event;
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

grpc::Status CriImageService::ListImages(grpc::ServerContext*, const v1::ListImagesRequest* request,
                                         v1::ListImagesResponse* response) {
  return Reply(runtime_.ListImages(*request), response);
}

grpc::Status CriImageService::ImageStatus(grpc::ServerContext*, const v1::ImageStatusRequest* request,
                                          v1::ImageStatusResponse* response) {
  return Reply(runtime_.ImageStatus(*request), response);
}

grpc::Status CriImageService::PullImage(grpc::ServerContext* context,
                                        const v1::PullImageRequest* request,
                                        v1::PullImageResponse* response) {
  Cancellation cancel;
  CancelWatcher watcher(context, &cancel);
  return Reply(runtime_.PullImage(*request, &cancel), response);
}

grpc::Status CriImageService::RemoveImage(grpc::ServerContext*, const v1::RemoveImageRequest* request,
                                          v1::RemoveImageResponse*) {
  return ToGrpcStatus(runtime_.RemoveImage(*request));
}

grpc::Status CriImageService::ImageFsInfo(grpc::ServerContext*, const v1::ImageFsInfoRequest* request,
                                          v1::ImageFsInfoResponse* response) {
  return Reply(runtime_.ImageFsInfo(*request), response);
}

// ---- CriServer ----

CriServer::CriServer(cri::Runtime& runtime, std::string socket_path)
    : socket_path_(std::move(socket_path)), runtime_service_(runtime), image_service_(runtime) {}

absl::StatusOr<std::unique_ptr<CriServer>> CriServer::Start(cri::Runtime& runtime,
                                                           const std::string& socket_path,
                                                           const CriServerOptions& options) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket path \"", socket_path, "\" is empty or too long for a unix socket"));
  }
  // A stale socket file from a killed server would make the bind fail.
  ::unlink(socket_path.c_str());
  std::unique_ptr<CriServer> server(new CriServer(runtime, socket_path));
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix://", socket_path), grpc::InsecureServerCredentials());
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.RegisterService(&server->runtime_service_);
  builder.RegisterService(&server->image_service_);
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
  // A deadline makes gRPC cancel calls still running (event streams, long stops) instead of waiting.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server_->Wait();
  ::unlink(socket_path_.c_str());
}

void CriServer::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&shut_down_));
}

}  // namespace inplaced::fakes

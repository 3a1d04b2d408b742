#include "tests/fakes/grpc_pod_lifecycle.h"

#include <grpcpp/client_context.h>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "cri/errors.h"
#include "cri/grpc_runtime.h"

namespace inplaced::fakes {
namespace {

namespace criv1 = ::runtime::v1;

// kubelet's receive limit, as cri::GrpcRuntime's.
constexpr int kMaxReceiveMessageBytes = 16 * 1024 * 1024;

// A generated stub's blocking unary method.
template <typename Stub, typename Request, typename Response>
using UnaryMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Calls `method` with a deadline `timeout` from now.
template <typename Stub, typename Request, typename Response>
grpc::Status Invoke(Stub& stub, UnaryMethod<Stub, Request, Response> method, const Request& request,
                    Response* response, absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return (stub.*method)(&context, request, response);
}

// A call whose response the caller reads.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(Stub& stub, UnaryMethod<Stub, Request, Response> method,
                               const Request& request, absl::Duration timeout,
                               absl::string_view name) {
  Response response;
  const grpc::Status status = Invoke(stub, method, request, &response, timeout);
  if (!status.ok()) return cri::FromGrpcStatus(status, name);
  return response;
}

// A call with an empty response that the CRI declares idempotent for absent objects.
template <typename Stub, typename Request, typename Response>
absl::Status Idempotent(Stub& stub, UnaryMethod<Stub, Request, Response> method,
                        const Request& request, absl::Duration timeout, absl::string_view name) {
  Response response;
  return cri::FromGrpcStatusIdempotent(Invoke(stub, method, request, &response, timeout), name);
}

}  // namespace

GrpcPodLifecycle::GrpcPodLifecycle(const std::string& endpoint, absl::Duration request_timeout)
    : request_timeout_(request_timeout) {
  std::shared_ptr<grpc::Channel> channel = cri::CreateCriChannel(endpoint, kMaxReceiveMessageBytes);
  runtime_stub_ = criv1::RuntimeService::NewStub(channel);
  image_stub_ = criv1::ImageService::NewStub(channel);
}

absl::StatusOr<criv1::RunPodSandboxResponse> GrpcPodLifecycle::RunPodSandbox(
    const criv1::RunPodSandboxRequest& request) {
  // kubelet gives RunPodSandbox twice the request timeout: network setup is slow.
  return Unary(*runtime_stub_, &criv1::RuntimeService::Stub::RunPodSandbox, request,
               2 * request_timeout_, "RunPodSandbox");
}

absl::Status GrpcPodLifecycle::StopPodSandbox(const criv1::StopPodSandboxRequest& request) {
  return Idempotent(*runtime_stub_, &criv1::RuntimeService::Stub::StopPodSandbox, request,
                    request_timeout_, "StopPodSandbox");
}

absl::Status GrpcPodLifecycle::RemovePodSandbox(const criv1::RemovePodSandboxRequest& request) {
  return Idempotent(*runtime_stub_, &criv1::RuntimeService::Stub::RemovePodSandbox, request,
                    request_timeout_, "RemovePodSandbox");
}

absl::StatusOr<criv1::CreateContainerResponse> GrpcPodLifecycle::CreateContainer(
    const criv1::CreateContainerRequest& request) {
  return Unary(*runtime_stub_, &criv1::RuntimeService::Stub::CreateContainer, request,
               request_timeout_, "CreateContainer");
}

absl::Status GrpcPodLifecycle::StartContainer(const criv1::StartContainerRequest& request) {
  // Not idempotent: starting an unknown container is an error.
  return Unary(*runtime_stub_, &criv1::RuntimeService::Stub::StartContainer, request,
               request_timeout_, "StartContainer")
      .status();
}

absl::Status GrpcPodLifecycle::RemoveContainer(const criv1::RemoveContainerRequest& request) {
  return Idempotent(*runtime_stub_, &criv1::RuntimeService::Stub::RemoveContainer, request,
                    request_timeout_, "RemoveContainer");
}

absl::StatusOr<criv1::ListImagesResponse> GrpcPodLifecycle::ListImages(
    const criv1::ListImagesRequest& request) {
  return Unary(*image_stub_, &criv1::ImageService::Stub::ListImages, request, request_timeout_,
               "ListImages");
}

absl::Status GrpcPodLifecycle::RemoveImage(const criv1::RemoveImageRequest& request) {
  return Idempotent(*image_stub_, &criv1::ImageService::Stub::RemoveImage, request,
                    request_timeout_, "RemoveImage");
}

}  // namespace inplaced::fakes

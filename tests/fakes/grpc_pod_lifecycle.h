#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>

#include "absl/time/time.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "tests/fakes/pod_lifecycle.h"

namespace inplaced::fakes {

// PodLifecycle over a CRI runtime's unix socket (real containerd in the e2e suites, the fake CRI
// server in the integration suite), on its own channel: the calls kubelet makes and inplaced's
// cri::GrpcRuntime does not have.
//
// Deadlines are kubelet's: `request_timeout` (its --runtime-request-timeout, 2 min) per call,
// RunPodSandbox twice that (network setup is slow). Errors go through cri::FromGrpcStatus ("<Call>:
// <message>", the runtime's code); StopPodSandbox, RemovePodSandbox, RemoveContainer and
// RemoveImage through cri::FromGrpcStatusIdempotent (NOT_FOUND is OK). Calls do not wait for the
// channel: an unreachable runtime fails fast with UNAVAILABLE.
//
// Thread-safe; the channel multiplexes concurrent calls.
class GrpcPodLifecycle final : public PodLifecycle {
 public:
  // `endpoint` is a resolved "unix:///path" (cri::Connection::endpoint). Does not connect.
  explicit GrpcPodLifecycle(const std::string& endpoint,
                            absl::Duration request_timeout = absl::Minutes(2));

  absl::StatusOr<::runtime::v1::RunPodSandboxResponse> RunPodSandbox(
      const ::runtime::v1::RunPodSandboxRequest& request) override;
  absl::Status StopPodSandbox(const ::runtime::v1::StopPodSandboxRequest& request) override;
  absl::Status RemovePodSandbox(const ::runtime::v1::RemovePodSandboxRequest& request) override;
  absl::StatusOr<::runtime::v1::CreateContainerResponse> CreateContainer(
      const ::runtime::v1::CreateContainerRequest& request) override;
  absl::Status StartContainer(const ::runtime::v1::StartContainerRequest& request) override;
  absl::Status RemoveContainer(const ::runtime::v1::RemoveContainerRequest& request) override;
  absl::StatusOr<::runtime::v1::ListImagesResponse> ListImages(
      const ::runtime::v1::ListImagesRequest& request) override;
  absl::Status RemoveImage(const ::runtime::v1::RemoveImageRequest& request) override;

 private:
  const absl::Duration request_timeout_;
  std::unique_ptr<::runtime::v1::RuntimeService::Stub> runtime_stub_;
  std::unique_ptr<::runtime::v1::ImageService::Stub> image_stub_;
};

}  // namespace inplaced::fakes

#pragma once

// What kubelet does to a runtime and inplaced never does: create and remove pod sandboxes and
// containers, list and remove images. The tests need it to set a node up (the kubelet stand-in,
// image clean-up in the e2e suites); production code reaches the runtime only through cri::Runtime,
// which therefore lacks these calls.

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/cri/runtime_v1.pb.h"

namespace inplaced::fakes {

// The pod/container creation and image removal half of CRI runtime.v1 (RuntimeService and
// ImageService), next to cri::Runtime. FakeRuntime implements both in memory; GrpcPodLifecycle
// (grpc_pod_lifecycle.h) calls a runtime's socket (real containerd, or the fake CRI server).
//
// Requests and responses are the CRI messages. Errors are absl::Status with the runtime's gRPC code
// and message prefixed with the call name, as cri::Runtime's. StopPodSandbox, RemovePodSandbox,
// RemoveContainer and RemoveImage are idempotent: an absent object is OK.
//
// Implementations are thread-safe.
class PodLifecycle {
 public:
  virtual ~PodLifecycle() = default;

  // RuntimeService.
  virtual absl::StatusOr<::runtime::v1::RunPodSandboxResponse> RunPodSandbox(
      const ::runtime::v1::RunPodSandboxRequest& request) = 0;
  virtual absl::Status StopPodSandbox(const ::runtime::v1::StopPodSandboxRequest& request) = 0;
  virtual absl::Status RemovePodSandbox(const ::runtime::v1::RemovePodSandboxRequest& request) = 0;
  virtual absl::StatusOr<::runtime::v1::CreateContainerResponse> CreateContainer(
      const ::runtime::v1::CreateContainerRequest& request) = 0;
  virtual absl::Status StartContainer(const ::runtime::v1::StartContainerRequest& request) = 0;
  virtual absl::Status RemoveContainer(const ::runtime::v1::RemoveContainerRequest& request) = 0;

  // ImageService.
  virtual absl::StatusOr<::runtime::v1::ListImagesResponse> ListImages(
      const ::runtime::v1::ListImagesRequest& request) = 0;
  virtual absl::Status RemoveImage(const ::runtime::v1::RemoveImageRequest& request) = 0;
};

}  // namespace inplaced::fakes

#pragma once

#include <memory>

#include "cri/runtime.h"
#include "gmock/gmock.h"

namespace inplaced::cri::testing {

// gMock of the cri::Runtime seam for narrow call checks (which calls, how many).
class MockRuntime : public Runtime {
 public:
  MOCK_METHOD(absl::StatusOr<v1::VersionResponse>, Version, (const v1::VersionRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::StatusResponse>, Status, (const v1::StatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::RunPodSandboxResponse>, RunPodSandbox,
              (const v1::RunPodSandboxRequest&), (override));
  MOCK_METHOD(absl::Status, StopPodSandbox, (const v1::StopPodSandboxRequest&), (override));
  MOCK_METHOD(absl::Status, RemovePodSandbox, (const v1::RemovePodSandboxRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::PodSandboxStatusResponse>, PodSandboxStatus,
              (const v1::PodSandboxStatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ListPodSandboxResponse>, ListPodSandbox,
              (const v1::ListPodSandboxRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::CreateContainerResponse>, CreateContainer,
              (const v1::CreateContainerRequest&), (override));
  MOCK_METHOD(absl::Status, StartContainer, (const v1::StartContainerRequest&), (override));
  MOCK_METHOD(absl::Status, StopContainer, (const v1::StopContainerRequest&), (override));
  MOCK_METHOD(absl::Status, RemoveContainer, (const v1::RemoveContainerRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ListContainersResponse>, ListContainers,
              (const v1::ListContainersRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ContainerStatusResponse>, ContainerStatus,
              (const v1::ContainerStatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ExecSyncResponse>, ExecSync,
              (const v1::ExecSyncRequest&, Cancellation*), (override));
  MOCK_METHOD(absl::StatusOr<std::unique_ptr<ContainerEventStream>>, GetContainerEvents, (),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::ListImagesResponse>, ListImages, (const v1::ListImagesRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<v1::ImageStatusResponse>, ImageStatus,
              (const v1::ImageStatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::PullImageResponse>, PullImage,
              (const v1::PullImageRequest&, Cancellation*), (override));
  MOCK_METHOD(absl::Status, RemoveImage, (const v1::RemoveImageRequest&), (override));
  MOCK_METHOD(absl::StatusOr<v1::ImageFsInfoResponse>, ImageFsInfo,
              (const v1::ImageFsInfoRequest&), (override));
};

}  // namespace inplaced::cri::testing

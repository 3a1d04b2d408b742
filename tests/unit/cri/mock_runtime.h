#pragma once

#include <functional>
#include <memory>

#include "cri/runtime.h"
#include "gmock/gmock.h"

namespace inplaced::cri::testing {

// gMock of the cri::Runtime seam for narrow call checks (which calls, how many).
class MockRuntime : public Runtime {
 public:
  MOCK_METHOD(absl::StatusOr<criv1::VersionResponse>, Version, (const criv1::VersionRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<criv1::StatusResponse>, Status, (const criv1::StatusRequest&),
              (override));
  MOCK_METHOD(absl::StatusOr<criv1::PodSandboxStatusResponse>, PodSandboxStatus,
              (const criv1::PodSandboxStatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<criv1::ListPodSandboxResponse>, ListPodSandbox,
              (const criv1::ListPodSandboxRequest&), (override));
  MOCK_METHOD(absl::Status, StopContainer, (const criv1::StopContainerRequest&), (override));
  MOCK_METHOD(absl::StatusOr<criv1::ListContainersResponse>, ListContainers,
              (const criv1::ListContainersRequest&), (override));
  MOCK_METHOD(absl::StatusOr<criv1::ContainerStatusResponse>, ContainerStatus,
              (const criv1::ContainerStatusRequest&), (override));
  MOCK_METHOD(absl::StatusOr<criv1::ExecSyncResponse>, ExecSync,
              (const criv1::ExecSyncRequest&, Cancellation*), (override));
  MOCK_METHOD(void, StopContainerAsync,
              (const criv1::StopContainerRequest&, Cancellation*,
               std::function<void(absl::Status)>),
              (override));
  MOCK_METHOD(void, ExecSyncAsync,
              (const criv1::ExecSyncRequest&, Cancellation*,
               std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)>),
              (override));
  MOCK_METHOD(absl::StatusOr<std::unique_ptr<ContainerEventStream>>, GetContainerEvents, (),
              (override));
  MOCK_METHOD(absl::StatusOr<criv1::ImageStatusResponse>, ImageStatus,
              (const criv1::ImageStatusRequest&), (override));
  MOCK_METHOD(void, PullImageAsync,
              (const criv1::PullImageRequest&, Cancellation*,
               std::function<void(absl::StatusOr<criv1::PullImageResponse>)>),
              (override));
  MOCK_METHOD(absl::StatusOr<criv1::PullImageResponse>, PullImage,
              (const criv1::PullImageRequest&, Cancellation*), (override));
  MOCK_METHOD(absl::StatusOr<criv1::ImageFsInfoResponse>, ImageFsInfo,
              (const criv1::ImageFsInfoRequest&), (override));
};

}  // namespace inplaced::cri::testing

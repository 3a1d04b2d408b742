#pragma once

// InstrumentedRuntime: a cri::Runtime decorator that reports every call's latency and status code
// to the Metrics seam (CRI call latency and errors by method and code), then returns the wrapped
// runtime's answer unchanged. The daemon wraps the connected runtime in it once, so every engine's
// calls are counted without knowing about metrics.
//
// Thread-safe like the runtime it wraps. `runtime`, `metrics` and `clock` must outlive it.

#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/metrics.h"
#include "cri/runtime.h"

namespace inplaced::cri {

class InstrumentedRuntime final : public Runtime {
 public:
  InstrumentedRuntime(Runtime& runtime, Metrics& metrics, Clock& clock)
      : runtime_(runtime), metrics_(metrics), clock_(clock) {}

  absl::StatusOr<criv1::VersionResponse> Version(const criv1::VersionRequest& request) override;
  absl::StatusOr<criv1::StatusResponse> Status(const criv1::StatusRequest& request) override;
  absl::StatusOr<criv1::PodSandboxStatusResponse> PodSandboxStatus(
      const criv1::PodSandboxStatusRequest& request) override;
  absl::StatusOr<criv1::ListPodSandboxResponse> ListPodSandbox(
      const criv1::ListPodSandboxRequest& request) override;
  absl::Status StopContainer(const criv1::StopContainerRequest& request) override;
  // Forwarded as such: the base's default would drop `cancel` (shutdown would wait for the stops).
  absl::Status StopContainerCancellable(const criv1::StopContainerRequest& request,
                                        Cancellation* cancel) override;
  absl::StatusOr<criv1::ListContainersResponse> ListContainers(
      const criv1::ListContainersRequest& request) override;
  absl::StatusOr<criv1::ContainerStatusResponse> ContainerStatus(
      const criv1::ContainerStatusRequest& request) override;
  absl::StatusOr<criv1::ExecSyncResponse> ExecSync(const criv1::ExecSyncRequest& request,
                                                   Cancellation* cancel) override;
  // Timed from the call to its `done` (reported just before `done` runs).
  void StopContainerAsync(const criv1::StopContainerRequest& request, Cancellation* cancel,
                          std::function<void(absl::Status)> done) override;
  void ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                     std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) override;
  // Counts the subscription call only (not the stream's lifetime).
  absl::StatusOr<std::unique_ptr<ContainerEventStream>> GetContainerEvents() override;
  absl::StatusOr<criv1::ImageStatusResponse> ImageStatus(
      const criv1::ImageStatusRequest& request) override;
  void PullImageAsync(const criv1::PullImageRequest& request, Cancellation* cancel,
                      std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) override;
  absl::StatusOr<criv1::PullImageResponse> PullImage(const criv1::PullImageRequest& request,
                                                     Cancellation* cancel) override;
  absl::StatusOr<criv1::ImageFsInfoResponse> ImageFsInfo(
      const criv1::ImageFsInfoRequest& request) override;

 private:
  // Runs `call`, reports it as `method`, returns its result.
  template <typename Call>
  auto Timed(absl::string_view method, Call call);
  // `done` of an asynchronous call started now, wrapped to report it as `method` first.
  template <typename Result>
  std::function<void(Result)> TimedDone(const char* method, std::function<void(Result)> done);

  Runtime& runtime_;
  Metrics& metrics_;
  Clock& clock_;
};

}  // namespace inplaced::cri

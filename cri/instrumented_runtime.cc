#include "cri/instrumented_runtime.h"

#include <utility>

namespace inplaced::cri {
namespace {

absl::StatusCode CodeOf(const absl::Status& status) { return status.code(); }

template <typename T>
absl::StatusCode CodeOf(const absl::StatusOr<T>& result) {
  return result.status().code();
}

}  // namespace

template <typename Call>
auto InstrumentedRuntime::Timed(absl::string_view method, Call call) {
  const absl::Time start = clock_.Now();
  auto result = call();
  metrics_.CriCallFinished(method, CodeOf(result), clock_.Now() - start);
  return result;
}

template <typename Result>
std::function<void(Result)> InstrumentedRuntime::TimedDone(const char* method,
                                                           std::function<void(Result)> done) {
  return [this, method, start = clock_.Now(), done = std::move(done)](Result result) {
    metrics_.CriCallFinished(method, CodeOf(result), clock_.Now() - start);
    done(std::move(result));
  };
}

absl::StatusOr<criv1::VersionResponse> InstrumentedRuntime::Version(
    const criv1::VersionRequest& request) {
  return Timed("Version", [&] { return runtime_.Version(request); });
}

absl::StatusOr<criv1::StatusResponse> InstrumentedRuntime::Status(
    const criv1::StatusRequest& request) {
  return Timed("Status", [&] { return runtime_.Status(request); });
}

absl::StatusOr<criv1::PodSandboxStatusResponse> InstrumentedRuntime::PodSandboxStatus(
    const criv1::PodSandboxStatusRequest& request) {
  return Timed("PodSandboxStatus", [&] { return runtime_.PodSandboxStatus(request); });
}

absl::StatusOr<criv1::ListPodSandboxResponse> InstrumentedRuntime::ListPodSandbox(
    const criv1::ListPodSandboxRequest& request) {
  return Timed("ListPodSandbox", [&] { return runtime_.ListPodSandbox(request); });
}

absl::Status InstrumentedRuntime::StopContainer(const criv1::StopContainerRequest& request) {
  return Timed("StopContainer", [&] { return runtime_.StopContainer(request); });
}

absl::Status InstrumentedRuntime::StopContainerCancellable(
    const criv1::StopContainerRequest& request, Cancellation* cancel) {
  return Timed("StopContainer", [&] { return runtime_.StopContainerCancellable(request, cancel); });
}

absl::StatusOr<criv1::ListContainersResponse> InstrumentedRuntime::ListContainers(
    const criv1::ListContainersRequest& request) {
  return Timed("ListContainers", [&] { return runtime_.ListContainers(request); });
}

absl::StatusOr<criv1::ContainerStatusResponse> InstrumentedRuntime::ContainerStatus(
    const criv1::ContainerStatusRequest& request) {
  return Timed("ContainerStatus", [&] { return runtime_.ContainerStatus(request); });
}

absl::StatusOr<criv1::ExecSyncResponse> InstrumentedRuntime::ExecSync(
    const criv1::ExecSyncRequest& request, Cancellation* cancel) {
  return Timed("ExecSync", [&] { return runtime_.ExecSync(request, cancel); });
}

void InstrumentedRuntime::StopContainerAsync(const criv1::StopContainerRequest& request,
                                             Cancellation* cancel,
                                             std::function<void(absl::Status)> done) {
  runtime_.StopContainerAsync(request, cancel, TimedDone("StopContainer", std::move(done)));
}

void InstrumentedRuntime::ExecSyncAsync(
    const criv1::ExecSyncRequest& request, Cancellation* cancel,
    std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) {
  runtime_.ExecSyncAsync(request, cancel, TimedDone("ExecSync", std::move(done)));
}

absl::StatusOr<std::unique_ptr<ContainerEventStream>> InstrumentedRuntime::GetContainerEvents() {
  return Timed("GetContainerEvents", [&] { return runtime_.GetContainerEvents(); });
}

absl::StatusOr<criv1::ImageStatusResponse> InstrumentedRuntime::ImageStatus(
    const criv1::ImageStatusRequest& request) {
  return Timed("ImageStatus", [&] { return runtime_.ImageStatus(request); });
}

absl::StatusOr<criv1::PullImageResponse> InstrumentedRuntime::PullImage(
    const criv1::PullImageRequest& request, Cancellation* cancel) {
  return Timed("PullImage", [&] { return runtime_.PullImage(request, cancel); });
}

void InstrumentedRuntime::PullImageAsync(
    const criv1::PullImageRequest& request, Cancellation* cancel,
    std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) {
  runtime_.PullImageAsync(request, cancel, TimedDone("PullImage", std::move(done)));
}

absl::StatusOr<criv1::ImageFsInfoResponse> InstrumentedRuntime::ImageFsInfo(
    const criv1::ImageFsInfoRequest& request) {
  return Timed("ImageFsInfo", [&] { return runtime_.ImageFsInfo(request); });
}

}  // namespace inplaced::cri

#pragma once

#include <memory>
#include <optional>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include "absl/time/time.h"
#include "api/cri/runtime_v1.grpc.pb.h"
#include "cri/runtime.h"

namespace inplaced::cri {

struct GrpcRuntimeOptions {
  // Deadline of ordinary unary calls (kubelet's --runtime-request-timeout, default 2 min). Derived
  // deadlines: StopContainer this + request.timeout() s; ExecSync none when request.timeout() == 0,
  // else this + request.timeout() s; PullImage none.
  absl::Duration request_timeout = absl::Minutes(2);
  // Largest response accepted (kubelet uses 16 MiB; large ListContainers answers need it).
  int max_receive_message_bytes = 16 * 1024 * 1024;
};

// Creates the channel GrpcRuntime uses for `endpoint` ("unix:///path", see ParseEndpoint):
// plaintext, authority "localhost", `max_receive_message_bytes`, and reconnect backoff 100 ms
// growing to at most 3 s (gRPC's default maximum of 120 s would delay noticing a restarted
// runtime). Does not connect. `own_connection`: the channel never shares its connection with
// another channel to the same endpoint (gRPC otherwise reuses one for channels with equal
// arguments), and never closes it for being idle.
std::shared_ptr<grpc::Channel> CreateCriChannel(const std::string& endpoint,
                                                int max_receive_message_bytes,
                                                bool own_connection = false);

// cri::Runtime over a gRPC channel to a CRI v1 runtime (containerd, CRI-O, or the fake CRI server).
//
// Errors carry the runtime's gRPC code and "<Call>: <message>" (cri/errors.h); StopContainer treats
// NOT_FOUND as success (FromGrpcStatusIdempotent: containerd 1.6 answers it for an unknown id). A
// few response facts are checked like kubelet's cri-client (INTERNAL when violated): Version has
// all four fields, ContainerStatus/PodSandboxStatus carry a status, PullImage returns an image_ref.
// Calls do not wait for the channel to become ready: an unreachable runtime fails fast with
// UNAVAILABLE (Connect is the place that waits).
//
// The kill path (StopContainer, ExecSync) may have a channel of its own, `kill_channel` (null:
// the same channel): on one HTTP/2 connection a burst of kills queued behind the whole-node List
// answers being read, and a kill's StopContainer reached the runtime milliseconds after it was
// issued (tests/bench/daemon_bench.cc, part a.).
//
// Thread-safe; each channel is shared and multiplexes concurrent calls.
class GrpcRuntime final : public Runtime {
 public:
  GrpcRuntime(std::shared_ptr<grpc::Channel> channel, GrpcRuntimeOptions options,
              std::shared_ptr<grpc::Channel> kill_channel = nullptr);

  // Version with an explicit deadline and gRPC wait-for-ready (used by Connect to wait for a socket
  // that is not there yet).
  absl::StatusOr<criv1::VersionResponse> VersionWaitForReady(const criv1::VersionRequest& request,
                                                             absl::Duration timeout);

  // Starts connecting the kill channel without waiting, so that the first kill does not pay the
  // connection set-up. Connect calls it once the runtime answered on the main channel (earlier,
  // a channel that found no runtime would sit in reconnect backoff, and kills fail fast there).
  // No-op without a kill channel of its own.
  void ConnectKillChannel();

  absl::StatusOr<criv1::VersionResponse> Version(const criv1::VersionRequest& request) override;
  absl::StatusOr<criv1::StatusResponse> Status(const criv1::StatusRequest& request) override;
  absl::StatusOr<criv1::PodSandboxStatusResponse> PodSandboxStatus(
      const criv1::PodSandboxStatusRequest& request) override;
  absl::StatusOr<criv1::ListPodSandboxResponse> ListPodSandbox(
      const criv1::ListPodSandboxRequest& request) override;
  absl::Status StopContainer(const criv1::StopContainerRequest& request) override;
  absl::Status StopContainerCancellable(const criv1::StopContainerRequest& request,
                                        Cancellation* cancel) override;
  absl::StatusOr<criv1::ListContainersResponse> ListContainers(
      const criv1::ListContainersRequest& request) override;
  absl::StatusOr<criv1::ContainerStatusResponse> ContainerStatus(
      const criv1::ContainerStatusRequest& request) override;
  absl::StatusOr<criv1::ExecSyncResponse> ExecSync(const criv1::ExecSyncRequest& request,
                                                   Cancellation* cancel) override;
  // The callback API (stub->async()): the call's context, request and response live in one heap
  // object owned by the completion; `cancel` is registered to TryCancel() the call and unregistered
  // in the completion, before `done` runs (on a gRPC callback thread).
  void StopContainerAsync(const criv1::StopContainerRequest& request, Cancellation* cancel,
                          std::function<void(absl::Status)> done) override;
  void ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                     std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) override;
  // The stream has no deadline; stop it with ContainerEventStream::Cancel() or by destroying it.
  // Waits up to 1 s for the channel to connect, else UNAVAILABLE: a stream started on an
  // unconnected channel would fail only at its first Read, so OK could not mean "subscribed".
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
  // How one call is bounded: `timeout` unset = no deadline; `cancel` may be null.
  struct CallOptions {
    std::optional<absl::Duration> timeout;
    Cancellation* cancel = nullptr;
    bool wait_for_ready = false;
  };

  // Sets the deadline and wait-for-ready of `call_options` on `context`.
  static void Prepare(const CallOptions& call_options, grpc::ClientContext* context);
  // The deadline of StopContainer / ExecSync for `request` (unset: none).
  std::optional<absl::Duration> StopTimeout(const criv1::StopContainerRequest& request) const;
  std::optional<absl::Duration> ExecTimeout(const criv1::ExecSyncRequest& request) const;

  // Runs `invoke(ClientContext*)` with the deadline and cancellation of `call_options`.
  template <typename Invoke>
  grpc::Status Invoke(const CallOptions& call_options, Invoke invoke);

  std::shared_ptr<grpc::Channel> channel_;
  const GrpcRuntimeOptions options_;
  std::unique_ptr<criv1::RuntimeService::Stub> runtime_stub_;
  std::unique_ptr<criv1::ImageService::Stub> image_stub_;
  std::shared_ptr<grpc::Channel> kill_channel_;  // null: none of its own
  // StopContainer and ExecSync go here (kill_channel_, or channel_).
  std::unique_ptr<criv1::RuntimeService::Stub> kill_stub_;
};

}  // namespace inplaced::cri

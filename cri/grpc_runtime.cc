#include "cri/grpc_runtime.h"

#include <chrono>
#include <limits>
#include <utility>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_callback.h>
#include <grpcpp/support/sync_stream.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "cri/errors.h"

namespace inplaced::cri {
namespace {

// Reconnect backoff like kubelet's cri-client (base 100 ms, max 3 s), so a restarted runtime is
// used again within ~3 s instead of gRPC's default of up to 120 s.
constexpr int kInitialReconnectBackoffMs = 100;
constexpr int kMaxReconnectBackoffMs = 3000;
// gRPC core reads GRPC_ARG_MIN_RECONNECT_BACKOFF_MS as the minimum time one connection attempt may
// take (connect + HTTP/2 handshake), not as a backoff. Kept at gRPC's (and grpc-go's, hence
// kubelet's) 20 s: at 100 ms a loaded node's runtime that answers the handshake late failed the
// first call UNAVAILABLE ("timed out before receiving SETTINGS frame"). A missing socket still
// fails at once, so the backoff above alone sets how soon a restarted runtime is used again.
constexpr int kMinConnectTimeoutMs = 20000;

// Deadlines further away than this are no deadline at all: they only come from absurd request
// timeouts, and converting them to a time point could overflow.
constexpr absl::Duration kLongestDeadline = absl::Hours(24 * 365);

// How long GetContainerEvents waits for the channel to connect (short: callers retry with backoff
// and must stay responsive to shutdown).
constexpr absl::Duration kEventsConnectWait = absl::Seconds(1);

absl::Duration SecondsOrZero(int64_t seconds) {
  return seconds > 0 ? absl::Seconds(seconds) : absl::ZeroDuration();
}

// cri-client refuses a VersionResponse with any field empty; so do we, naming what was answered.
absl::Status CheckVersionResponse(const criv1::VersionResponse& response) {
  if (!response.version().empty() && !response.runtime_name().empty() &&
      !response.runtime_version().empty() && !response.runtime_api_version().empty()) {
    return absl::OkStatus();
  }
  return absl::InternalError(
      absl::StrCat("Version: runtime answered an incomplete VersionResponse (version=\"",
                   response.version(), "\" runtime_name=\"", response.runtime_name(),
                   "\" runtime_version=\"", response.runtime_version(), "\" runtime_api_version=\"",
                   response.runtime_api_version(), "\")"));
}

class GrpcContainerEventStream final : public ContainerEventStream {
 public:
  explicit GrpcContainerEventStream(std::unique_ptr<grpc::ClientContext> context)
      : context_(std::move(context)) {}

  ~GrpcContainerEventStream() override {
    if (finished_) return;
    // gRPC requires Finish() on a sync reader; cancel first so it does not wait for the runtime.
    context_->TryCancel();
    criv1::ContainerEventResponse ignored;
    while (reader_->Read(&ignored)) {
    }
    reader_->Finish().IgnoreError();
  }

  void set_reader(std::unique_ptr<grpc::ClientReader<criv1::ContainerEventResponse>> reader) {
    reader_ = std::move(reader);
  }

  bool Read(criv1::ContainerEventResponse* event) override {
    if (finished_) return false;
    return reader_->Read(event);
  }

  absl::Status Finish() override {
    if (finished_) return finish_status_;
    finished_ = true;
    finish_status_ = FromGrpcStatus(reader_->Finish(), "GetContainerEvents");
    return finish_status_;
  }

  void Cancel() override { context_->TryCancel(); }

 private:
  // Declared first so it outlives the reader.
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<criv1::ContainerEventResponse>> reader_;
  bool finished_ = false;
  absl::Status finish_status_;
};

// The seam's answers of the calls that have a blocking and an asynchronous form.

// StopContainer's answer. containerd answers NOT_FOUND for unknown ids before 1.6.35/1.7.21
// (cri/errors.h).
absl::Status StopContainerResult(const grpc::Status& status, criv1::StopContainerResponse,
                                 const criv1::StopContainerRequest&) {
  return FromGrpcStatusIdempotent(status, "StopContainer");
}

absl::StatusOr<criv1::ExecSyncResponse> ExecSyncResult(const grpc::Status& status,
                                                       criv1::ExecSyncResponse response,
                                                       const criv1::ExecSyncRequest&) {
  if (!status.ok()) return FromGrpcStatus(status, "ExecSync");
  return response;
}

// What a PullImage call answered, as the Runtime seam returns it.
absl::StatusOr<criv1::PullImageResponse> PullImageResult(const grpc::Status& status,
                                                         criv1::PullImageResponse response,
                                                         const criv1::PullImageRequest& request) {
  if (!status.ok()) return FromGrpcStatus(status, "PullImage");
  if (response.image_ref().empty()) {
    return absl::InternalError(absl::StrCat("PullImage: runtime answered an empty image_ref for ",
                                            request.image().image()));
  }
  return response;
}

}  // namespace

std::shared_ptr<grpc::Channel> CreateCriChannel(const std::string& endpoint,
                                                int max_receive_message_bytes,
                                                bool own_connection) {
  grpc::ChannelArguments args;
  if (own_connection) {
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // gRPC drops a connection idle for 30 minutes; a channel of its own serves rare, urgent calls
    // (kills) that should never wait for a reconnect.
    args.SetInt(GRPC_ARG_CLIENT_IDLE_TIMEOUT_MS, std::numeric_limits<int>::max());
  }
  // The socket path is no host name; say "localhost" like kubelet so runtimes that look at
  // :authority see what they expect.
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "localhost");
  args.SetMaxReceiveMessageSize(max_receive_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

GrpcRuntime::GrpcRuntime(std::shared_ptr<grpc::Channel> channel, GrpcRuntimeOptions options,
                         std::shared_ptr<grpc::Channel> kill_channel)
    : channel_(std::move(channel)),
      options_(options),
      runtime_stub_(criv1::RuntimeService::NewStub(channel_)),
      image_stub_(criv1::ImageService::NewStub(channel_)),
      kill_channel_(std::move(kill_channel)),
      kill_stub_(
          criv1::RuntimeService::NewStub(kill_channel_ != nullptr ? kill_channel_ : channel_)) {}

void GrpcRuntime::ConnectKillChannel() {
  if (kill_channel_ != nullptr) kill_channel_->GetState(/*try_to_connect=*/true);
}

void GrpcRuntime::Prepare(const CallOptions& call_options, grpc::ClientContext* context) {
  if (call_options.timeout.has_value() && *call_options.timeout < kLongestDeadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + *call_options.timeout));
  }
  if (call_options.wait_for_ready) context->set_wait_for_ready(true);
}

std::optional<absl::Duration> GrpcRuntime::StopTimeout(
    const criv1::StopContainerRequest& request) const {
  // The deadline covers the grace period plus the request timeout: a deadline shorter than the
  // grace makes containerd return the context error without ever sending SIGKILL (cri-reference
  // §3.3).
  return options_.request_timeout + SecondsOrZero(request.timeout());
}

std::optional<absl::Duration> GrpcRuntime::ExecTimeout(
    const criv1::ExecSyncRequest& request) const {
  // Like cri-client: timeout 0 means "run until it ends", so no deadline, only cancellation.
  if (request.timeout() <= 0) return std::nullopt;
  return options_.request_timeout + absl::Seconds(request.timeout());
}

template <typename InvokeFn>
grpc::Status GrpcRuntime::Invoke(const CallOptions& call_options, InvokeFn invoke) {
  grpc::ClientContext context;
  Prepare(call_options, &context);
  int registration = -1;
  if (call_options.cancel != nullptr) {
    // If the token is already cancelled the callback runs now; ClientContext then cancels the call
    // as soon as it starts. Unregister() below returns only once no callback runs, before `context`
    // dies.
    registration = call_options.cancel->Register([&context] { context.TryCancel(); });
  }
  grpc::Status status = invoke(&context);
  if (call_options.cancel != nullptr) call_options.cancel->Unregister(registration);
  return status;
}

absl::StatusOr<criv1::VersionResponse> GrpcRuntime::VersionWaitForReady(
    const criv1::VersionRequest& request, absl::Duration timeout) {
  criv1::VersionResponse response;
  const grpc::Status status =
      Invoke(CallOptions{timeout, nullptr, /*wait_for_ready=*/true},
             [&](grpc::ClientContext* c) { return runtime_stub_->Version(c, request, &response); });
  if (!status.ok()) return FromGrpcStatus(status, "Version");
  RETURN_IF_ERROR(CheckVersionResponse(response));
  return response;
}

absl::StatusOr<criv1::VersionResponse> GrpcRuntime::Version(const criv1::VersionRequest& request) {
  criv1::VersionResponse response;
  const grpc::Status status =
      Invoke(CallOptions{options_.request_timeout},
             [&](grpc::ClientContext* c) { return runtime_stub_->Version(c, request, &response); });
  if (!status.ok()) return FromGrpcStatus(status, "Version");
  RETURN_IF_ERROR(CheckVersionResponse(response));
  return response;
}

// The plain unary calls: request_timeout, no cancellation, response returned as is.
#define INPLACED_CRI_UNARY(Stub, Method, Timeout)                                          \
  absl::StatusOr<criv1::Method##Response> GrpcRuntime::Method(                             \
      const criv1::Method##Request& request) {                                             \
    criv1::Method##Response response;                                                      \
    const grpc::Status status = Invoke(CallOptions{Timeout}, [&](grpc::ClientContext* c) { \
      return Stub->Method(c, request, &response);                                          \
    });                                                                                    \
    if (!status.ok()) return FromGrpcStatus(status, #Method);                              \
    return response;                                                                       \
  }

INPLACED_CRI_UNARY(runtime_stub_, Status, options_.request_timeout)
INPLACED_CRI_UNARY(runtime_stub_, ListPodSandbox, options_.request_timeout)
INPLACED_CRI_UNARY(runtime_stub_, ListContainers, options_.request_timeout)
INPLACED_CRI_UNARY(image_stub_, ImageStatus, options_.request_timeout)
INPLACED_CRI_UNARY(image_stub_, ImageFsInfo, options_.request_timeout)
#undef INPLACED_CRI_UNARY

absl::Status GrpcRuntime::StopContainer(const criv1::StopContainerRequest& request) {
  return StopContainerCancellable(request, nullptr);
}

absl::Status GrpcRuntime::StopContainerCancellable(const criv1::StopContainerRequest& request,
                                                   Cancellation* cancel) {
  // A cancellation (TryCancel) only ends our wait: containerd goes on with the stop.
  criv1::StopContainerResponse response;
  const grpc::Status status = Invoke(
      CallOptions{StopTimeout(request), cancel},
      [&](grpc::ClientContext* c) { return kill_stub_->StopContainer(c, request, &response); });
  return StopContainerResult(status, std::move(response), request);
}

absl::StatusOr<criv1::PodSandboxStatusResponse> GrpcRuntime::PodSandboxStatus(
    const criv1::PodSandboxStatusRequest& request) {
  criv1::PodSandboxStatusResponse response;
  const grpc::Status status =
      Invoke(CallOptions{options_.request_timeout}, [&](grpc::ClientContext* c) {
        return runtime_stub_->PodSandboxStatus(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status, "PodSandboxStatus");
  if (!response.has_status()) {
    return absl::InternalError(absl::StrCat("PodSandboxStatus: runtime answered no status for ",
                                            request.pod_sandbox_id()));
  }
  return response;
}

absl::StatusOr<criv1::ContainerStatusResponse> GrpcRuntime::ContainerStatus(
    const criv1::ContainerStatusRequest& request) {
  criv1::ContainerStatusResponse response;
  const grpc::Status status =
      Invoke(CallOptions{options_.request_timeout}, [&](grpc::ClientContext* c) {
        return runtime_stub_->ContainerStatus(c, request, &response);
      });
  if (!status.ok()) return FromGrpcStatus(status, "ContainerStatus");
  if (!response.has_status()) {
    return absl::InternalError(
        absl::StrCat("ContainerStatus: runtime answered no status for ", request.container_id()));
  }
  return response;
}

absl::StatusOr<criv1::ExecSyncResponse> GrpcRuntime::ExecSync(const criv1::ExecSyncRequest& request,
                                                              Cancellation* cancel) {
  CallOptions call_options;
  call_options.cancel = cancel;
  call_options.timeout = ExecTimeout(request);
  criv1::ExecSyncResponse response;
  const grpc::Status status = Invoke(call_options, [&](grpc::ClientContext* c) {
    return kill_stub_->ExecSync(c, request, &response);
  });
  return ExecSyncResult(status, std::move(response), request);
}

namespace {

// One asynchronous unary call: everything gRPC reads or writes until the completion runs lives
// here, on the heap, owned by the completion (which frees it before running the caller's `done`).
template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  Cancellation* cancel = nullptr;
  int registration = -1;

  // Registers TryCancel on `token` (may be null); an already cancelled token cancels the call as
  // soon as it starts.
  void RegisterCancel(Cancellation* token) {
    cancel = token;
    if (cancel != nullptr) registration = cancel->Register([this] { context.TryCancel(); });
  }
  // In the completion, before the call state dies: once Unregister() returned no TryCancel runs.
  void UnregisterCancel() {
    if (cancel != nullptr) cancel->Unregister(registration);
  }

  // Issues `call` (its context prepared): `start(context, request, response, completion)` calls
  // the stub's async method. The completion frees the call state, then runs
  // done(finish(status, response, request)): the seam's answer, as the blocking call gives it.
  template <typename Start, typename Finish, typename Done>
  static void Run(std::unique_ptr<AsyncCall> call, Cancellation* token, Start start, Finish finish,
                  Done done) {
    call->RegisterCancel(token);
    AsyncCall* raw = call.release();
    start(&raw->context, &raw->request, &raw->response,
          [raw, finish = std::move(finish), done = std::move(done)](grpc::Status status) {
            std::unique_ptr<AsyncCall> owned(raw);
            owned->UnregisterCancel();
            auto result = finish(status, std::move(owned->response), owned->request);
            owned.reset();
            done(std::move(result));
          });
  }
};

}  // namespace

void GrpcRuntime::StopContainerAsync(const criv1::StopContainerRequest& request,
                                     Cancellation* cancel, std::function<void(absl::Status)> done) {
  using Call = AsyncCall<criv1::StopContainerRequest, criv1::StopContainerResponse>;
  auto call = std::make_unique<Call>();
  call->request = request;
  Prepare(CallOptions{StopTimeout(request)}, &call->context);
  Call::Run(
      std::move(call), cancel,
      [this](auto* context, auto* req, auto* response, auto completion) {
        kill_stub_->async()->StopContainer(context, req, response, std::move(completion));
      },
      &StopContainerResult, std::move(done));
}

void GrpcRuntime::ExecSyncAsync(const criv1::ExecSyncRequest& request, Cancellation* cancel,
                                std::function<void(absl::StatusOr<criv1::ExecSyncResponse>)> done) {
  using Call = AsyncCall<criv1::ExecSyncRequest, criv1::ExecSyncResponse>;
  auto call = std::make_unique<Call>();
  call->request = request;
  Prepare(CallOptions{ExecTimeout(request)}, &call->context);
  Call::Run(
      std::move(call), cancel,
      [this](auto* context, auto* req, auto* response, auto completion) {
        kill_stub_->async()->ExecSync(context, req, response, std::move(completion));
      },
      &ExecSyncResult, std::move(done));
}

// No deadline on pulls: --runtime-request-timeout does not bound them in kubelet either; the
// caller bounds them through `cancel`, and containerd aborts the pull when the RPC is cancelled.

absl::StatusOr<criv1::PullImageResponse> GrpcRuntime::PullImage(
    const criv1::PullImageRequest& request, Cancellation* cancel) {
  CallOptions call_options;
  call_options.cancel = cancel;
  criv1::PullImageResponse response;
  const grpc::Status status = Invoke(call_options, [&](grpc::ClientContext* c) {
    return image_stub_->PullImage(c, request, &response);
  });
  return PullImageResult(status, std::move(response), request);
}

void GrpcRuntime::PullImageAsync(
    const criv1::PullImageRequest& request, Cancellation* cancel,
    std::function<void(absl::StatusOr<criv1::PullImageResponse>)> done) {
  using Call = AsyncCall<criv1::PullImageRequest, criv1::PullImageResponse>;
  auto call = std::make_unique<Call>();
  call->request = request;
  Prepare(CallOptions{}, &call->context);
  Call::Run(
      std::move(call), cancel,
      [this](auto* context, auto* req, auto* response, auto completion) {
        image_stub_->async()->PullImage(context, req, response, std::move(completion));
      },
      &PullImageResult, std::move(done));
}

absl::StatusOr<std::unique_ptr<ContainerEventStream>> GrpcRuntime::GetContainerEvents() {
  if (!channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + kEventsConnectWait))) {
    return absl::UnavailableError(
        absl::StrCat("GetContainerEvents: runtime not reachable (not connected within ",
                     absl::FormatDuration(kEventsConnectWait), ")"));
  }
  auto context = std::make_unique<grpc::ClientContext>();
  grpc::ClientContext* raw_context = context.get();
  auto stream = std::make_unique<GrpcContainerEventStream>(std::move(context));
  // UNIMPLEMENTED (containerd 1.6) arrives on the first Read()/Finish(), not here.
  stream->set_reader(runtime_stub_->GetContainerEvents(raw_context, criv1::GetEventsRequest()));
  return std::unique_ptr<ContainerEventStream>(std::move(stream));
}

}  // namespace inplaced::cri

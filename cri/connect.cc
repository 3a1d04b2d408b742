#include "cri/connect.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "cri/endpoint.h"
#include "cri/grpc_runtime.h"
#include "spdlog/spdlog.h"

namespace inplaced::cri {
namespace {

// What kubelet sends; runtimes ignore it.
constexpr char kClientVersion[] = "0.1.0";
constexpr char kRequiredApiVersion[] = "v1";

absl::StatusOr<std::string> ResolveEndpoint(const ConnectOptions& options) {
  if (!options.endpoint.empty()) return ParseEndpoint(options.endpoint);
  return DiscoverEndpoint(options.discovery_root);
}

}  // namespace

absl::StatusOr<Connection> Connect(const ConnectOptions& options) {
  ASSIGN_OR_RETURN(std::string endpoint, ResolveEndpoint(options));
  auto runtime = std::make_unique<GrpcRuntime>(
      CreateCriChannel(endpoint, options.max_receive_message_bytes),
      GrpcRuntimeOptions{options.request_timeout, options.max_receive_message_bytes},
      CreateCriChannel(endpoint, options.max_receive_message_bytes, /*own_connection=*/true));

  criv1::VersionRequest request;
  request.set_version(kClientVersion);
  // wait-for-ready: while the socket is missing or refuses, gRPC keeps retrying (100 ms backoff)
  // instead of failing the probe at once, so a runtime that starts after us is picked up.
  absl::StatusOr<criv1::VersionResponse> version =
      runtime->VersionWaitForReady(request, options.connect_timeout);
  if (!version.ok()) {
    const absl::Status& status = version.status();
    if (absl::IsUnimplemented(status)) {
      // containerd with disabled_plugins = ["cri"], or containerd <= 1.5 (v1alpha2 only).
      return absl::FailedPreconditionError(absl::StrCat(
          "the runtime at ", endpoint,
          " does not serve CRI runtime.v1 (the CRI plugin is disabled, or the runtime is too old "
          "for CRI v1): ",
          status.message()));
    }
    if (absl::IsDeadlineExceeded(status) || absl::IsUnavailable(status)) {
      return absl::UnavailableError(
          absl::StrCat("no CRI runtime answered at ", endpoint, " within ",
                       absl::FormatDuration(options.connect_timeout), ": ", status.message()));
    }
    return absl::Status(status.code(), absl::StrCat(endpoint, ": ", status.message()));
  }
  if (version->runtime_api_version() != kRequiredApiVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the runtime at ", endpoint, " (", version->runtime_name(), " ", version->runtime_version(),
        ") answered runtime_api_version \"", version->runtime_api_version(),
        "\"; inplaced needs \"", kRequiredApiVersion, "\""));
  }
  runtime->ConnectKillChannel();
  spdlog::info("cri_connected endpoint={} runtime={} runtime_version={} api_version={}", endpoint,
               version->runtime_name(), version->runtime_version(), version->runtime_api_version());

  Connection connection;
  connection.runtime = std::move(runtime);
  connection.endpoint = std::move(endpoint);
  connection.version = *std::move(version);
  return connection;
}

}  // namespace inplaced::cri

#include "daemon/prestop/hook_endpoint.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace inplaced::daemon {

absl::StatusOr<std::string> ResolveHookHost(cri::Runtime& runtime, absl::string_view action_host,
                                            absl::string_view action, const PreStopTarget& target) {
  if (!action_host.empty()) return std::string(action_host);
  if (target.pod_sandbox_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no ", action, ".host and no pod sandbox to take the IP of"));
  }
  cri::criv1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(target.pod_sandbox_id);
  absl::StatusOr<cri::criv1::PodSandboxStatusResponse> response = runtime.PodSandboxStatus(request);
  if (!response.ok()) {
    return absl::Status(response.status().code(),
                        absl::StrCat("pod IP of sandbox ", target.pod_sandbox_id, ": ",
                                     response.status().message()));
  }
  const std::string& ip = response->status().network().ip();
  if (ip.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("no pod IP (host-network pod): set ", action, ".host"));
  }
  return ip;
}

absl::StatusOr<int> ResolveHookPort(int32_t port_number, absl::string_view port_name,
                                    const std::vector<::inplaced::v1::ContainerPort>& ports) {
  if (port_number > 0) {
    if (port_number > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port ", port_number, " out of range 1-65535"));
    }
    return static_cast<int>(port_number);
  }
  if (port_name.empty()) return absl::InvalidArgumentError("no port");
  // kubelet's findPortByName matches the name only, whatever the protocol.
  for (const ::inplaced::v1::ContainerPort& port : ports) {
    if (port.name() == port_name && port.container_port() > 0 && port.container_port() <= 65535) {
      return static_cast<int>(port.container_port());
    }
  }
  return absl::NotFoundError(absl::StrCat("no container port named \"", port_name, "\""));
}

std::string HostPort(absl::string_view host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace inplaced::daemon

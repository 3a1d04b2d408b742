#pragma once

// Where an httpGet or tcpSocket hook connects: the host (the action's, else the pod IP) and the
// port (a number, else a named container port). Shared by both actions, as in kubelet.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "cri/runtime.h"
#include "daemon/prestop/prestop_runner.h"

namespace inplaced::daemon {

// `action_host` when not empty, else the pod's IP:
// PodSandboxStatus(target.pod_sandbox_id).network.ip (kubelet uses the first pod IP the same way).
// FAILED_PRECONDITION "no pod IP (host-network pod): set <action>.host" when the sandbox has none
// (kubelet fails such hooks too); the runtime's error (with context) when PodSandboxStatus fails;
// INVALID_ARGUMENT when there is neither a host nor a sandbox id. `action` ("httpGet" /
// "tcpSocket") only names the field in messages.
absl::StatusOr<std::string> ResolveHookHost(cri::Runtime& runtime, absl::string_view action_host,
                                            absl::string_view action, const PreStopTarget& target);

// `port_number` when > 0 (INVALID_ARGUMENT above 65535), else the container port named `port_name`
// in `ports` (NOT_FOUND "no container port named \"x\""); INVALID_ARGUMENT when neither is set.
absl::StatusOr<int> ResolveHookPort(int32_t port_number, absl::string_view port_name,
                                    const std::vector<::inplaced::v1::ContainerPort>& ports);

// "host:port", with an IPv6 literal bracketed ("[fd00::1]:80"), for URLs and messages.
std::string HostPort(absl::string_view host, int port);

}  // namespace inplaced::daemon

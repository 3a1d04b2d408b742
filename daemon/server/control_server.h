#pragma once

// The gRPC server of the control API on its unix socket: the services handed in (RecreateService,
// grpc.health.v1.Health, ...) plus server reflection (v1alpha, what gRPC 1.51 C++ serves), so that
// grpcurl / `buf curl` can list, describe and call them. Optionally the same server also listens on
// TCP (TLS / mTLS, daemon/server/tcp_listener.h): same services, same health, same reflection.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/server/tcp_listener.h"

namespace inplaced::daemon {

// Default location of the control API socket.
inline constexpr char kDefaultSocketPath[] = "/run/inplaced/inplaced.sock";

// Not thread-safe beyond what gRPC provides: call Shutdown from one thread.
class ControlServer {
 public:
  // Prepares `socket_path` (PrepareUnixSocketPath: directory 0750, stale socket removed), starts a
  // server listening on it with `services` (not owned: they must outlive the server) and
  // reflection, and sets the socket's mode to 0660. With `tcp`, the server also listens on
  // tcp->address with its credentials (MakeServerCredentials). Errors: those of
  // PrepareUnixSocketPath; UNAVAILABLE when the socket or the TCP address cannot be bound (nothing
  // is left listening then).
  static absl::StatusOr<std::unique_ptr<ControlServer>> Start(
      const std::string& socket_path, const std::vector<grpc::Service*>& services,
      const std::optional<TcpListenerConfig>& tcp = std::nullopt);

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // Shutdown(absl::ZeroDuration()) if not done yet.
  ~ControlServer();

  // Stops accepting calls, lets running calls finish for up to `grace` (then cancels them), and
  // removes the socket file. Idempotent.
  void Shutdown(absl::Duration grace);

  const std::string& socket_path() const { return socket_path_; }
  // The TCP port listened on (the one picked for port 0); 0 without a TCP listener.
  int tcp_port() const { return tcp_port_; }

  // A channel to this server that bypasses the socket (tests).
  std::shared_ptr<grpc::Channel> InProcessChannel();

 private:
  ControlServer(std::string socket_path, std::unique_ptr<grpc::Server> server, int tcp_port)
      : socket_path_(std::move(socket_path)), server_(std::move(server)), tcp_port_(tcp_port) {}

  const std::string socket_path_;
  std::unique_ptr<grpc::Server> server_;
  const int tcp_port_;
  bool shut_down_ = false;
};

}  // namespace inplaced::daemon

#include "daemon/server/control_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "daemon/server/unix_socket.h"

namespace inplaced::daemon {

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Start(
    const std::string& socket_path, const std::vector<grpc::Service*>& services,
    const std::optional<TcpListenerConfig>& tcp) {
  if (absl::Status prepared = PrepareUnixSocketPath(socket_path); !prepared.ok()) return prepared;
  // Registers the reflection service with every ServerBuilder created from now on; idempotent.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string address = absl::StrCat("unix:", socket_path);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  int tcp_port = 0;
  if (tcp.has_value()) {
    builder.AddListeningPort(tcp->address, MakeServerCredentials(*tcp), &tcp_port);
  }
  for (grpc::Service* service : services) builder.RegisterService(service);
  // gRPC binds every port in BuildAndStart and returns null if any fails (then none listens).
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    if (tcp.has_value()) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", address, " or on tcp ", tcp->address,
                       " (in use, or not an address of this host? see gRPC's log above)"));
    }
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, " (see gRPC's log above)"));
  }
  // Before this chmod the socket carries the umask's mode; nothing is served before the daemon
  // reports ready anyway (ServingState), so the short window exposes nothing.
  if (absl::Status restricted = RestrictUnixSocket(socket_path); !restricted.ok()) {
    server->Shutdown();
    RemoveUnixSocket(socket_path);
    return restricted;
  }
  spdlog::info("control_server_listening socket={}", socket_path);
  if (tcp.has_value()) {
    spdlog::info("control_server_listening tcp={} port={} mode={}", tcp->address, tcp_port,
                 tcp->mode());
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(socket_path, std::move(server), tcp_port));
}

ControlServer::~ControlServer() { Shutdown(absl::ZeroDuration()); }

void ControlServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  RemoveUnixSocket(socket_path_);
  spdlog::info("control_server_stopped socket={}", socket_path_);
}

std::shared_ptr<grpc::Channel> ControlServer::InProcessChannel() {
  return server_->InProcessChannel(grpc::ChannelArguments());
}

}  // namespace inplaced::daemon

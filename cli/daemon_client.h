#pragma once

// inplacectl's connection to the inplaced daemon: where it is (flag, environment, default), the
// channel, and one method per control-API call with the gRPC status turned into an absl::Status
// that keeps the gRPC code and the daemon's message. Every command that talks to the daemon goes
// through here.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/grpc/health/v1/health.grpc.pb.h"
#include "api/inplaced/v1/node.grpc.pb.h"
#include "api/inplaced/v1/nodeimage.grpc.pb.h"
#include "api/inplaced/v1/recreate.grpc.pb.h"

namespace inplaced::cli {

// The daemon's default control socket (inplaced's --socket default).
inline constexpr char kDefaultDaemonSocket[] = "/run/inplaced/inplaced.sock";
// The environment variable that names the socket when --socket is not given.
inline constexpr char kSocketEnv[] = "INPLACED_SOCKET";

// Where the daemon is and how long a unary call may take. Filled by CLI11 before a callback runs.
struct DaemonFlags {
  std::string socket = kDefaultDaemonSocket;
  double rpc_timeout_seconds = 30;
};

// Adds --socket (env INPLACED_SOCKET, default kDefaultDaemonSocket) and --rpc-timeout to `app`.
// `flags` must outlive app.parse().
void AddDaemonOptions(CLI::App& app, DaemonFlags* flags);

// The one function that makes the channel to the daemon. Today a unix socket without TLS; the TCP
// listener with TLS/mTLS will be chosen here from DaemonFlags, and nothing else needs to change.
std::shared_ptr<grpc::Channel> MakeDaemonChannel(const DaemonFlags& flags);

// `status` as an absl::Status with the same code and the daemon's message. UNAVAILABLE (the daemon
// is not listening, or shutting down) also names `target`.
absl::Status DaemonCallStatus(const grpc::Status& status, const std::string& target);

// The control API, call by call. Unary calls have a deadline of flags.rpc_timeout_seconds and fail
// fast when the daemon is not there (no wait-for-ready). Not thread-safe; one per command.
class DaemonClient {
 public:
  explicit DaemonClient(const DaemonFlags& flags);

  // "unix:/run/inplaced/inplaced.sock": for messages.
  const std::string& target() const { return target_; }

  absl::StatusOr<v1::CreateRecreateRequestResponse> CreateRecreate(
      const v1::CreateRecreateRequestRequest& request);
  absl::StatusOr<v1::RecreateRequest> GetRecreate(const std::string& ns, const std::string& name);
  // Every page of the listing, concatenated (page_size/page_token of `filter` are managed here).
  absl::StatusOr<std::vector<v1::RecreateRequest>> ListRecreates(
      v1::ListRecreateRequestsRequest filter);
  absl::Status DeleteRecreate(const std::string& ns, const std::string& name, bool allow_missing);
  absl::StatusOr<v1::RecreateRequest> AcknowledgeUnready(const std::string& ns,
                                                         const std::string& name,
                                                         absl::Time unready_at);
  absl::StatusOr<v1::RecreateRequest> ReportReadiness(const v1::ReportReadinessRequest& request);

  // Reads the watch stream, calling `on_event` for each event until it returns false (then OK), the
  // stream ends (its status: UNAVAILABLE when the daemon shuts down), or `deadline` passes
  // (DEADLINE_EXCEEDED). absl::InfiniteFuture(): no deadline.
  absl::Status WatchRecreates(
      const v1::WatchRecreateRequestsRequest& request, absl::Time deadline,
      const std::function<bool(const v1::WatchRecreateRequestsResponse&)>& on_event);

  absl::StatusOr<v1::NodeImage> SetNodeImage(const v1::SetNodeImageRequest& request);
  absl::StatusOr<v1::NodeImage> GetNodeImage();
  // As WatchRecreates, for the NodeImage stream (the current state first).
  absl::Status WatchNodeImage(absl::Time deadline,
                              const std::function<bool(const v1::NodeImage&)>& on_update);
  absl::StatusOr<v1::AdHocPullStatus> PullImage(const v1::PullImageRequest& request);

  // inplaced.v1.NodeService/GetNodeInfo.
  absl::StatusOr<v1::NodeInfo> GetNodeInfo();

  // grpc.health.v1.Health/Check for `service` ("" = the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus> CheckHealth(
      const std::string& service);

 private:
  // A context with the unary deadline.
  std::unique_ptr<grpc::ClientContext> UnaryContext() const;
  absl::Status Convert(const grpc::Status& status) const {
    return DaemonCallStatus(status, target_);
  }

  absl::Duration rpc_timeout_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RecreateService::Stub> recreate_;
  std::unique_ptr<v1::NodeImageService::Stub> node_image_;
  std::unique_ptr<v1::NodeService::Stub> node_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace inplaced::cli

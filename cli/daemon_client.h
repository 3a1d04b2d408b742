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

// The environment variables of the TCP flags (the daemon reads none of them).
inline constexpr char kAddressEnv[] = "INPLACED_ADDRESS";
inline constexpr char kTlsCaEnv[] = "INPLACED_TLS_CA";
inline constexpr char kTlsCertEnv[] = "INPLACED_TLS_CERT";
inline constexpr char kTlsKeyEnv[] = "INPLACED_TLS_KEY";
inline constexpr char kTlsServerNameEnv[] = "INPLACED_TLS_SERVER_NAME";
inline constexpr char kPlaintextEnv[] = "INPLACED_PLAINTEXT";

// Where the daemon is and how long a unary call may take. Filled by CLI11 before a callback runs.
struct DaemonFlags {
  std::string socket = kDefaultDaemonSocket;
  double rpc_timeout_seconds = 30;
  // host:port of the daemon's TCP listener; set, it is used instead of the socket.
  std::string address;
  // The files of --tls-ca, --tls-cert and --tls-key, as given.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // The PEM contents of --tls-ca (the CA that signed the daemon's certificate; empty: the system's
  // roots), --tls-cert and --tls-key (the client certificate for mTLS), read when the flags are
  // parsed (a file that cannot be read or holds no PEM is a usage error naming the flag).
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Overrides the name checked against the daemon's certificate (default: the host of address).
  std::string tls_server_name;
  // TCP without TLS (a daemon run with tcp_insecure).
  bool plaintext = false;
};

// Adds --socket (env INPLACED_SOCKET, default kDefaultDaemonSocket), --rpc-timeout and the TCP
// flags --address, --tls-ca, --tls-cert, --tls-key, --tls-server-name, --plaintext (env
// INPLACED_ADDRESS, INPLACED_TLS_CA, ...) to `app`. The TLS flags need --address, --tls-cert and
// --tls-key go together, --plaintext excludes them. `flags` must outlive app.parse().
void AddDaemonOptions(CLI::App& app, DaemonFlags* flags);

// The one function that makes the channel to the daemon: the unix socket without TLS, or with
// --address the TCP listener over TLS (verifying the daemon's certificate against --tls-ca, and
// presenting --tls-cert/--tls-key when given: mTLS), or plaintext with --plaintext.
std::shared_ptr<grpc::Channel> MakeDaemonChannel(const DaemonFlags& flags);

// "unix:/run/inplaced/inplaced.sock" or "tcp 10.0.0.7:9443 (mtls)": the daemon as messages name it.
std::string DaemonTarget(const DaemonFlags& flags);

// `status` as an absl::Status with the same code and the daemon's message. UNAVAILABLE (the daemon
// is not listening, or shutting down) also names `target`.
absl::Status DaemonCallStatus(const grpc::Status& status, const std::string& target);

// The control API, call by call. Unary calls have a deadline of flags.rpc_timeout_seconds and fail
// fast when the daemon is not there (no wait-for-ready). Not thread-safe; one per command.
class DaemonClient {
 public:
  explicit DaemonClient(const DaemonFlags& flags);

  // DaemonTarget(flags): for messages.
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

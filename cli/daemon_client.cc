#include "cli/daemon_client.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"

namespace inplaced::cli {

namespace health = ::grpc::health::v1;

namespace {

// A CLI11 check that reads the PEM file named by the flag into `*pem`: errors (reported by CLI11
// after the flag's name) when the file cannot be read or holds no PEM block of `kind`.
CLI::Validator PemFile(std::string* pem, const std::string& kind) {
  return CLI::Validator(
      [pem, kind](std::string& path) -> std::string {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream contents;
        if (in) contents << in.rdbuf();
        if (!in || contents.str().empty()) return "cannot read " + path + " (or it is empty)";
        if (contents.str().find("-----BEGIN ") == std::string::npos ||
            contents.str().find(kind) == std::string::npos) {
          return path + " holds no PEM " + kind;
        }
        *pem = contents.str();
        return "";
      },
      "FILE");
}

}  // namespace

void AddDaemonOptions(CLI::App& app, DaemonFlags* flags) {
  app.add_option("--socket", flags->socket, "The daemon's control socket")
      ->envname(kSocketEnv)
      ->capture_default_str();
  app.add_option("--rpc-timeout", flags->rpc_timeout_seconds,
                 "Seconds one call to the daemon may take")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI::Option* address =
      app.add_option("--address", flags->address,
                     "host:port of the daemon's TCP listener (TLS), instead of --socket")
          ->envname(kAddressEnv);
  CLI::Option* ca = app.add_option("--tls-ca", flags->tls_ca_file,
                                   "PEM file of the CA that signed the daemon's certificate "
                                   "(default: the system's roots)")
                        ->envname(kTlsCaEnv)
                        ->check(PemFile(&flags->tls_ca_pem, "CERTIFICATE"));
  CLI::Option* cert =
      app.add_option("--tls-cert", flags->tls_cert_file,
                     "PEM file of this client's certificate, for a daemon that requires mTLS")
          ->envname(kTlsCertEnv)
          ->check(PemFile(&flags->tls_cert_pem, "CERTIFICATE"));
  CLI::Option* key = app.add_option("--tls-key", flags->tls_key_file,
                                    "PEM file of the private key of --tls-cert (unencrypted)")
                         ->envname(kTlsKeyEnv)
                         ->check(PemFile(&flags->tls_key_pem, "PRIVATE KEY"));
  CLI::Option* server_name =
      app.add_option("--tls-server-name", flags->tls_server_name,
                     "Name to check the daemon's certificate against (default: the host of "
                     "--address)")
          ->envname(kTlsServerNameEnv);
  CLI::Option* plaintext =
      app.add_flag("--plaintext", flags->plaintext,
                   "Reach --address without TLS (a daemon run with tcp_insecure)")
          ->envname(kPlaintextEnv);
  for (CLI::Option* tls : {ca, cert, key, server_name, plaintext}) {
    tls->needs(address);
    if (tls != plaintext) tls->excludes(plaintext);
  }
  cert->needs(key);
  key->needs(cert);
}

std::shared_ptr<grpc::Channel> MakeDaemonChannel(const DaemonFlags& flags) {
  if (flags.address.empty()) {
    return grpc::CreateChannel("unix:" + flags.socket, grpc::InsecureChannelCredentials());
  }
  if (flags.plaintext) {
    return grpc::CreateChannel(flags.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = flags.tls_ca_pem;
  tls.pem_cert_chain = flags.tls_cert_pem;
  tls.pem_private_key = flags.tls_key_pem;
  grpc::ChannelArguments arguments;
  if (!flags.tls_server_name.empty()) arguments.SetSslTargetNameOverride(flags.tls_server_name);
  return grpc::CreateCustomChannel(flags.address, grpc::SslCredentials(tls), arguments);
}

std::string DaemonTarget(const DaemonFlags& flags) {
  if (flags.address.empty()) return "unix:" + flags.socket;
  const char* mode = flags.plaintext ? "plaintext" : (flags.tls_cert_pem.empty() ? "tls" : "mtls");
  return absl::StrCat("tcp ", flags.address, " (", mode, ")");
}

absl::Status DaemonCallStatus(const grpc::Status& status, const std::string& target) {
  absl::Status converted = FromGrpcStatus(status);
  if (absl::IsUnavailable(converted)) {
    return absl::UnavailableError(absl::StrCat("inplaced at ", target, ": ", converted.message()));
  }
  return converted;
}

DaemonClient::DaemonClient(const DaemonFlags& flags)
    : rpc_timeout_(absl::Seconds(flags.rpc_timeout_seconds)),
      target_(DaemonTarget(flags)),
      channel_(MakeDaemonChannel(flags)),
      recreate_(v1::RecreateService::NewStub(channel_)),
      node_image_(v1::NodeImageService::NewStub(channel_)),
      node_(v1::NodeService::NewStub(channel_)),
      health_(health::Health::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> DaemonClient::UnaryContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + rpc_timeout_));
  return context;
}

absl::StatusOr<v1::CreateRecreateRequestResponse> DaemonClient::CreateRecreate(
    const v1::CreateRecreateRequestRequest& request) {
  v1::CreateRecreateRequestResponse response;
  const grpc::Status status =
      recreate_->CreateRecreateRequest(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return response;
}

absl::StatusOr<v1::RecreateRequest> DaemonClient::GetRecreate(const std::string& ns,
                                                              const std::string& name) {
  v1::GetRecreateRequestRequest request;
  request.set_namespace_(ns);
  request.set_name(name);
  v1::GetRecreateRequestResponse response;
  const grpc::Status status =
      recreate_->GetRecreateRequest(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_recreate_request());
}

absl::StatusOr<std::vector<v1::RecreateRequest>> DaemonClient::ListRecreates(
    v1::ListRecreateRequestsRequest filter) {
  std::vector<v1::RecreateRequest> all;
  filter.set_page_size(1000);
  filter.clear_page_token();
  do {
    v1::ListRecreateRequestsResponse page;
    const grpc::Status status =
        recreate_->ListRecreateRequests(UnaryContext().get(), filter, &page);
    if (!status.ok()) return Convert(status);
    for (v1::RecreateRequest& request : *page.mutable_recreate_requests()) {
      all.push_back(std::move(request));
    }
    filter.set_page_token(page.next_page_token());
  } while (!filter.page_token().empty());
  return all;
}

absl::Status DaemonClient::DeleteRecreate(const std::string& ns, const std::string& name,
                                          bool allow_missing) {
  v1::DeleteRecreateRequestRequest request;
  request.set_namespace_(ns);
  request.set_name(name);
  request.set_allow_missing(allow_missing);
  v1::DeleteRecreateRequestResponse response;
  return Convert(recreate_->DeleteRecreateRequest(UnaryContext().get(), request, &response));
}

absl::StatusOr<v1::RecreateRequest> DaemonClient::AcknowledgeUnready(const std::string& ns,
                                                                     const std::string& name,
                                                                     absl::Time unready_at) {
  v1::AcknowledgeUnreadyRequest request;
  request.set_namespace_(ns);
  request.set_name(name);
  *request.mutable_unready_at() = ToProtoTime(unready_at);
  v1::AcknowledgeUnreadyResponse response;
  const grpc::Status status =
      recreate_->AcknowledgeUnready(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_recreate_request());
}

absl::StatusOr<v1::RecreateRequest> DaemonClient::ReportReadiness(
    const v1::ReportReadinessRequest& request) {
  v1::ReportReadinessResponse response;
  const grpc::Status status = recreate_->ReportReadiness(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_recreate_request());
}

namespace {

// Reads a server stream until `on_message` says stop, the stream ends or the deadline passes.
template <typename Message, typename OpenFn, typename OnMessage>
absl::Status ReadStream(OpenFn open, absl::Time deadline, const OnMessage& on_message,
                        const std::string& target) {
  grpc::ClientContext context;
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
  auto reader = open(&context);
  Message message;
  bool stopped = false;
  while (reader->Read(&message)) {
    if (!on_message(message)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (stopped) return absl::OkStatus();
  if (status.ok()) return absl::UnavailableError("inplaced at " + target + " ended the stream");
  return DaemonCallStatus(status, target);
}

}  // namespace

absl::Status DaemonClient::WatchRecreates(
    const v1::WatchRecreateRequestsRequest& request, absl::Time deadline,
    const std::function<bool(const v1::WatchRecreateRequestsResponse&)>& on_event) {
  return ReadStream<v1::WatchRecreateRequestsResponse>(
      [&](grpc::ClientContext* context) {
        return recreate_->WatchRecreateRequests(context, request);
      },
      deadline, on_event, target_);
}

absl::StatusOr<v1::NodeImage> DaemonClient::SetNodeImage(const v1::SetNodeImageRequest& request) {
  v1::SetNodeImageResponse response;
  const grpc::Status status = node_image_->SetNodeImage(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_node_image());
}

absl::StatusOr<v1::NodeImage> DaemonClient::GetNodeImage() {
  v1::GetNodeImageResponse response;
  const grpc::Status status =
      node_image_->GetNodeImage(UnaryContext().get(), v1::GetNodeImageRequest(), &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_node_image());
}

absl::Status DaemonClient::WatchNodeImage(
    absl::Time deadline, const std::function<bool(const v1::NodeImage&)>& on_update) {
  return ReadStream<v1::WatchNodeImageResponse>(
      [&](grpc::ClientContext* context) {
        return node_image_->WatchNodeImage(context, v1::WatchNodeImageRequest());
      },
      deadline,
      [&](const v1::WatchNodeImageResponse& response) { return on_update(response.node_image()); },
      target_);
}

absl::StatusOr<v1::AdHocPullStatus> DaemonClient::PullImage(const v1::PullImageRequest& request) {
  v1::PullImageResponse response;
  const grpc::Status status = node_image_->PullImage(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return std::move(*response.mutable_pull());
}

absl::StatusOr<v1::NodeInfo> DaemonClient::GetNodeInfo() {
  v1::GetNodeInfoResponse response;
  const grpc::Status status =
      node_->GetNodeInfo(UnaryContext().get(), v1::GetNodeInfoRequest(), &response);
  if (!status.ok()) return Convert(status);
  return response.node_info();
}

absl::StatusOr<health::HealthCheckResponse::ServingStatus> DaemonClient::CheckHealth(
    const std::string& service) {
  health::HealthCheckRequest request;
  request.set_service(service);
  health::HealthCheckResponse response;
  const grpc::Status status = health_->Check(UnaryContext().get(), request, &response);
  if (!status.ok()) return Convert(status);
  return response.status();
}

}  // namespace inplaced::cli

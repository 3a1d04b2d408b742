#include "daemon/server/tcp_listener.h"

#include <grpcpp/security/server_credentials.h>

namespace inplaced::daemon {

const char* TcpListenerConfig::mode() const {
  if (!tls()) return "plaintext";
  return mutual_tls() ? "mtls" : "tls";
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TcpListenerConfig& config) {
  if (!config.tls()) return grpc::InsecureServerCredentials();
  // REQUEST_AND_REQUIRE..._AND_VERIFY: the handshake fails without a client certificate or with
  // one that does not chain to client_ca_pem; nothing reaches a handler before that.
  grpc::SslServerCredentialsOptions options(
      config.mutual_tls() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_root_certs = config.client_ca_pem;
  options.pem_key_cert_pairs.push_back({config.private_key_pem, config.cert_chain_pem});
  return grpc::SslServerCredentials(options);
}

}  // namespace inplaced::daemon

#pragma once

// The control API's optional TCP listener: its address and TLS material, and the gRPC server
// credentials made from them (TLS; mTLS when a client CA is given; plaintext only when asked for).

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

namespace inplaced::daemon {

struct TcpListenerConfig {
  // "host:port" as gRPC takes it ("0.0.0.0:9443", "[::]:9443", "127.0.0.1:0"); port 0 picks a free
  // port (ControlServer::tcp_port says which).
  std::string address;
  // PEM contents, already read and checked by the caller (daemon/tcp_settings). An empty
  // cert_chain_pem means plaintext: the caller allows that only when explicitly told so.
  std::string cert_chain_pem;
  std::string private_key_pem;
  // Non-empty: mTLS. Every client must present a certificate that chains to one of these CAs; a
  // client without one, or with one from another CA, fails the TLS handshake.
  std::string client_ca_pem;

  bool tls() const { return !cert_chain_pem.empty(); }
  bool mutual_tls() const { return !client_ca_pem.empty(); }
  // "mtls", "tls" or "plaintext": for logs.
  const char* mode() const;
};

// The server credentials of `config`: insecure without a certificate, TLS with one, and TLS that
// requires and verifies a client certificate when a client CA is set.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(const TcpListenerConfig& config);

}  // namespace inplaced::daemon

#pragma once

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace inplaced::testing {

// An HTTPS server on 127.0.0.1 (port 0) with a freshly generated self-signed certificate (EC P-256,
// CN=localhost), for preStop httpGet tests over TLS. Each connection: TLS handshake, read the
// request head, record it, answer `response` verbatim, close. port() is 0 when setting up failed.
class LoopbackTlsServer {
 public:
  explicit LoopbackTlsServer(std::string response);
  ~LoopbackTlsServer();
  LoopbackTlsServer(const LoopbackTlsServer&) = delete;
  LoopbackTlsServer& operator=(const LoopbackTlsServer&) = delete;

  int port() const { return port_; }
  std::vector<std::string> Requests() const;

 private:
  void Serve();
  void ServeOne(int fd);

  const std::string response_;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*, kept opaque so that the header needs no OpenSSL include.
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  mutable absl::Mutex mu_;
  std::vector<std::string> requests_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace inplaced::testing

#include "tests/unit/daemon/prestop/loopback_tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

#include "absl/strings/match.h"

namespace inplaced::testing {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// A self-signed certificate for `key`, valid for an hour.
std::unique_ptr<X509, X509Deleter> SelfSigned(EVP_PKEY* key) {
  std::unique_ptr<X509, X509Deleter> cert(X509_new());
  if (cert == nullptr) return nullptr;
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

}  // namespace

LoopbackTlsServer::LoopbackTlsServer(std::string response) : response_(std::move(response)) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return;
  std::unique_ptr<X509, X509Deleter> cert = SelfSigned(key.get());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ssl_ctx_ = ctx;
  if (cert == nullptr || ctx == nullptr || SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    return;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (stop_fd_ < 0 || listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

LoopbackTlsServer::~LoopbackTlsServer() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof(one));
  }
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::vector<std::string> LoopbackTlsServer::Requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

void LoopbackTlsServer::Serve() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ServeOne(fd);
    close(fd);
  }
}

void LoopbackTlsServer::ServeOne(int fd) {
  // A client that stalls must not hang the test's teardown.
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(static_cast<SSL_CTX*>(ssl_ctx_)));
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1 || SSL_accept(ssl.get()) != 1) return;
  std::string head;
  char buffer[4096];
  while (!absl::StrContains(head, "\r\n\r\n")) {
    const int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
    if (n <= 0) return;
    head.append(buffer, static_cast<size_t>(n));
  }
  {
    absl::MutexLock lock(&mu_);
    requests_.push_back(head);
  }
  SSL_write(ssl.get(), response_.data(), static_cast<int>(response_.size()));
  SSL_shutdown(ssl.get());
}

}  // namespace inplaced::testing

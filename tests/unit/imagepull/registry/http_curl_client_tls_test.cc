// CurlHttpClient over https against an in-process TLS server on 127.0.0.1 with a self-signed
// certificate made at test start: TLS verification is on (an unknown CA fails), a configured CA
// file is trusted, and a redirect from https to http is refused.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "imagepull/registry/http_curl_client.h"
#include "tests/support/status_matchers.h"

namespace inplaced::imagepull {
namespace {

using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};

// A self-signed certificate for IP 127.0.0.1 (CN and subjectAltName), valid for an hour.
bool MakeSelfSigned(std::unique_ptr<EVP_PKEY, PkeyDeleter>* key,
                    std::unique_ptr<X509, X509Deleter>* cert) {
  key->reset(EVP_EC_gen("P-256"));
  cert->reset(X509_new());
  if (*key == nullptr || *cert == nullptr) return false;
  X509* x = cert->get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key->get());
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] :
       {std::pair<int, const char*>{NID_subject_alt_name, "IP:127.0.0.1"},
        {NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) return false;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  return X509_sign(x, key->get(), EVP_sha256()) > 0;
}

// Serves one canned HTTP response per TLS connection, one connection at a time.
class TlsServer {
 public:
  TlsServer(EVP_PKEY* key, X509* cert, std::string response) : response_(std::move(response)) {
    ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_use_certificate(ctx_.get(), cert);
    SSL_CTX_use_PrivateKey(ctx_.get(), key);
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t length = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TlsServer() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }
  int handshakes() const { return handshakes_; }

 private:
  void Serve() {
    for (;;) {
      const int conn = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) return;
      std::unique_ptr<SSL, SslDeleter> ssl(SSL_new(ctx_.get()));
      SSL_set_fd(ssl.get(), conn);
      if (SSL_accept(ssl.get()) == 1) {
        ++handshakes_;
        std::string request;
        char buffer[4096];
        while (request.find("\r\n\r\n") == std::string::npos) {
          const int n = SSL_read(ssl.get(), buffer, sizeof(buffer));
          if (n <= 0) break;
          request.append(buffer, static_cast<size_t>(n));
        }
        SSL_write(ssl.get(), response_.data(), static_cast<int>(response_.size()));
        SSL_shutdown(ssl.get());
      }
      ERR_clear_error();
      close(conn);
    }
  }

  std::string response_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> ctx_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> handshakes_{0};
  std::thread thread_;
};

class CurlHttpClientTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeSelfSigned(&key_, &cert_));
    char path[] = "/tmp/inplaced-ca-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ca_file_ = path;
    FILE* file = fdopen(fd, "w");
    ASSERT_NE(file, nullptr);
    ASSERT_EQ(PEM_write_X509(file, cert_.get()), 1);
    fclose(file);
  }
  void TearDown() override {
    if (!ca_file_.empty()) unlink(ca_file_.c_str());
  }

  std::unique_ptr<EVP_PKEY, PkeyDeleter> key_;
  std::unique_ptr<X509, X509Deleter> cert_;
  std::string ca_file_;
};

TEST_F(CurlHttpClientTlsTest, UnknownCertificateAuthorityFailsVerification) {
  TlsServer server(key_.get(), cert_.get(),
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  CurlHttpClient client;  // the system's CA store: the test's CA is not in it
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.1:", server.port(), "/v2/");
  EXPECT_THAT(client.Send(request),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("certificate")));
  EXPECT_EQ(server.handshakes(), 0);
}

TEST_F(CurlHttpClientTlsTest, ConfiguredCaFileIsTrusted) {
  TlsServer server(key_.get(), cert_.get(),
                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  CurlHttpClientOptions options;
  options.ca_file = ca_file_;
  CurlHttpClient client(options);
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.1:", server.port(), "/v2/");
  ASSERT_OK_AND_ASSIGN(HttpResponse response, client.Send(request));
  EXPECT_EQ(response.status_code, 200);
  EXPECT_EQ(response.body, "{}");
}

TEST_F(CurlHttpClientTlsTest, RedirectFromHttpsToHttpIsRefused) {
  TlsServer server(key_.get(), cert_.get(),
                   "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/plain\r\n"
                   "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CurlHttpClientOptions options;
  options.ca_file = ca_file_;
  CurlHttpClient client(options);
  HttpRequest request;
  request.url = absl::StrCat("https://127.0.0.1:", server.port(), "/v2/x/manifests/1");
  request.headers = {{"Authorization", "Bearer secret"}};
  EXPECT_THAT(client.Send(request), StatusIs(absl::StatusCode::kFailedPrecondition,
                                             HasSubstr("refusing redirect from https to http")));
}

}  // namespace
}  // namespace inplaced::imagepull

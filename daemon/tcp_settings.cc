#include "daemon/tcp_settings.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "daemon/settings.h"

namespace inplaced::daemon {
namespace {

// "tcp_tls_key (--tcp-tls-key)": a setting as errors name it, from the one settings table.
std::string Named(absl::string_view key) {
  const Setting* setting = FindSetting(key);
  if (setting == nullptr) return std::string(key);
  return absl::StrCat(key, " (", setting->flag, ")");
}

absl::StatusOr<std::string> ReadFile(absl::string_view key, const std::string& path) {
  std::string contents;
  int error = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = errno;
  } else {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) contents.append(buffer, n);
    if (n < 0) error = errno;  // EISDIR for a directory
    ::close(fd);
  }
  if (error == 0) return contents;
  const std::string what =
      absl::StrCat(Named(key), ": cannot read ", path, ": ", std::strerror(error));
  if (error == ENOENT) return absl::NotFoundError(what);
  if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(what);
  return absl::InvalidArgumentError(what);
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first PEM certificate of `pem`, or null.
std::unique_ptr<X509, X509Deleter> FirstCertificate(const std::string& pem) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<X509, X509Deleter> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();  // OpenSSL's error queue is per thread: leave it clean for gRPC
  return cert;
}

absl::StatusOr<std::string> ReadCertificates(absl::string_view key, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(key, path);
  if (!pem.ok()) return pem.status();
  if (FirstCertificate(*pem) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named(key), ": ", path, " holds no PEM certificate"));
  }
  return pem;
}

}  // namespace

absl::Status CheckTcpSettings(const DaemonOptions& options) {
  const bool cert = !options.tcp_tls_cert.empty();
  const bool key = !options.tcp_tls_key.empty();
  const bool client_ca = !options.tcp_tls_client_ca.empty();
  if (options.tcp_address.empty()) {
    if (cert || key || client_ca || options.tcp_insecure) {
      return absl::InvalidArgumentError(
          absl::StrCat(Named("tcp_tls_cert"), ", ", Named("tcp_tls_key"), ", ",
                       Named("tcp_tls_client_ca"), " and ", Named("tcp_insecure"),
                       " configure the TCP listener: they need ", Named("tcp_address")));
    }
    return absl::OkStatus();
  }
  if (cert != key) {
    return absl::InvalidArgumentError(absl::StrCat(Named("tcp_tls_cert"), " and ",
                                                   Named("tcp_tls_key"), " must be set together"));
  }
  if (options.tcp_insecure && cert) {
    return absl::InvalidArgumentError(absl::StrCat(Named("tcp_insecure"), " and ",
                                                   Named("tcp_tls_cert"),
                                                   " exclude each other: TLS or plaintext"));
  }
  if (client_ca && !cert) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named("tcp_tls_client_ca"), " (mTLS) needs the server's own certificate: set ",
                     Named("tcp_tls_cert"), " and ", Named("tcp_tls_key")));
  }
  if (!cert && !options.tcp_insecure) {
    return absl::InvalidArgumentError(absl::StrCat(
        Named("tcp_address"), " is ", options.tcp_address,
        " but no TLS is configured: refusing to serve the control API over plaintext TCP; set ",
        Named("tcp_tls_cert"), " and ", Named("tcp_tls_key"), " (and ", Named("tcp_tls_client_ca"),
        " for mTLS), or ", Named("tcp_insecure"), " to accept plaintext"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<TcpListenerConfig>> LoadTcpListener(const DaemonOptions& options) {
  if (absl::Status checked = CheckTcpSettings(options); !checked.ok()) return checked;
  if (options.tcp_address.empty()) return std::nullopt;
  TcpListenerConfig config;
  config.address = options.tcp_address;
  if (options.tcp_insecure) return config;

  absl::StatusOr<std::string> cert = ReadCertificates("tcp_tls_cert", options.tcp_tls_cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile("tcp_tls_key", options.tcp_tls_key);
  if (!key.ok()) return key.status();
  auto key_bio = MemoryBio(*key);
  std::unique_ptr<EVP_PKEY, KeyDeleter> private_key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (private_key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named("tcp_tls_key"), ": ", options.tcp_tls_key,
                     " holds no PEM private key (or an encrypted one: inplaced takes none)"));
  }
  // gRPC would only fail the TLS handshakes later; a mismatch is a start-up error here.
  const bool matches =
      X509_check_private_key(FirstCertificate(*cert).get(), private_key.get()) == 1;
  ERR_clear_error();
  if (!matches) {
    return absl::InvalidArgumentError(
        absl::StrCat(Named("tcp_tls_key"), ": the key in ", options.tcp_tls_key,
                     " does not match the certificate in ", options.tcp_tls_cert, " (",
                     Named("tcp_tls_cert"), ")"));
  }
  config.cert_chain_pem = *std::move(cert);
  config.private_key_pem = *std::move(key);
  if (!options.tcp_tls_client_ca.empty()) {
    absl::StatusOr<std::string> client_ca =
        ReadCertificates("tcp_tls_client_ca", options.tcp_tls_client_ca);
    if (!client_ca.ok()) return client_ca.status();
    config.client_ca_pem = *std::move(client_ca);
  }
  return config;
}

}  // namespace inplaced::daemon

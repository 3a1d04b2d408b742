#pragma once

// The libcurl implementation of HttpClient, for registry API and token requests.

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "imagepull/registry/http_client.h"

namespace inplaced::imagepull {

struct CurlHttpClientOptions {
  // Bound of the TCP (+ TLS) connect of each hop.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Bound of each hop's whole transfer (connect included).
  absl::Duration timeout = absl::Seconds(60);
  // Redirects followed per request; one more fails with FAILED_PRECONDITION.
  int max_redirects = 5;
  // Bound of a response's headers, all hops together.
  int64_t max_header_bytes = 64 << 10;
  std::string user_agent = "inplaced";
  // A PEM bundle of CAs for https; empty: the system's store.
  std::string ca_file;
};

// HttpClient over libcurl: one easy handle per request, so Send is thread-safe.
//
// Only http and https are spoken. TLS peer and host verification is always on for https (a registry
// that must be reached without TLS is configured as insecure and addressed with http://). Redirects
// are followed here rather than by libcurl so that each hop is checked: the target must be http or
// https, an https request never follows to http, and the Authorization header is dropped when the
// host or port changes (registries redirect blob and token requests to storage on other hosts).
// 303, and 301/302 after a POST, continue as a GET without the body. Signals are never used
// (CURLOPT_NOSIGNAL), so the client is safe in a multi-threaded daemon; name resolution timeouts
// then rely on libcurl's threaded resolver.
class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(CurlHttpClientOptions options = {});

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override;

 private:
  const CurlHttpClientOptions options_;
};

}  // namespace inplaced::imagepull

#pragma once

// The HTTP seam of the registry client: one request in, one buffered response out. The real
// implementation is CurlHttpClient (http_curl_client.h); tests use a fake that answers from a
// table.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/cancellation.h"

namespace inplaced::imagepull {

enum class HttpMethod { kGet, kPost };

// Default bound of a response body; requests lower it (manifests, tokens).
inline constexpr int64_t kDefaultMaxResponseBytes = 4 << 20;

// One HTTP request. It may carry secrets (an Authorization header, a refresh token in `body`):
// never log or print a request, and never put one in a status message.
struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  // Absolute http:// or https:// URL, without userinfo.
  std::string url;
  // Extra request headers (name, value), e.g. {"Accept", "..."}, {"Authorization", "Bearer ..."}.
  std::vector<std::pair<std::string, std::string>> headers;
  // The request body (POST only), sent with `content_type`.
  std::string body;
  std::string content_type;
  // A body larger than this fails the request with RESOURCE_EXHAUSTED.
  int64_t max_response_bytes = kDefaultMaxResponseBytes;
  // Optional: cancelling it aborts the transfer with CANCELLED. Not owned; must outlive the call.
  const Cancellation* cancel = nullptr;
};

// A complete response. Any status code (4xx, 5xx included) is a response, not an error.
struct HttpResponse {
  int status_code = 0;
  // Response headers in order, names lowercased, values with surrounding whitespace trimmed. After
  // redirects, only the final response's headers.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The URL that answered (differs from the request's after a redirect).
  std::string effective_url;

  // The first value of header `name` (case-insensitive), or empty.
  std::string Header(absl::string_view name) const;
  // Every value of header `name` (case-insensitive), in order.
  std::vector<std::string> Headers(absl::string_view name) const;
};

// Sends HTTP requests. Implementations are thread-safe: concurrent Send calls are allowed.
class HttpClient {
 public:
  virtual ~HttpClient() = default;

  // Sends `request` and returns the final response (following redirects when the implementation
  // does). Errors, none of which quote headers or the body of the request:
  //   UNAVAILABLE: connection, DNS, TLS or transfer failure, timeout (named with the URL).
  //   RESOURCE_EXHAUSTED: the response body exceeds request.max_response_bytes.
  //   FAILED_PRECONDITION: a refused redirect (to another scheme than http/https, https -> http,
  //     too many).
  //   INVALID_ARGUMENT: a malformed URL or request.
  //   CANCELLED: request.cancel was cancelled.
  virtual absl::StatusOr<HttpResponse> Send(const HttpRequest& request) = 0;
};

}  // namespace inplaced::imagepull

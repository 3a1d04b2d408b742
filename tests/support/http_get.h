#pragma once

// A minimal HTTP/1.1 client for the probe port's tests: one request on a fresh TCP connection to
// 127.0.0.1, the whole answer read until the server closes it.

#include <string>

#include "absl/status/statusor.h"

namespace inplaced::testing {

struct HttpResponse {
  int status = 0;
  std::string headers;  // the header lines, as received
  std::string body;
};

// `method` "GET", "HEAD", "POST" ...; UNAVAILABLE when nothing listens, DATA_LOSS for an answer
// that is not HTTP. Gives up after 30 s.
absl::StatusOr<HttpResponse> HttpRequest(int port, const std::string& path,
                                         const std::string& method = "GET");

}  // namespace inplaced::testing

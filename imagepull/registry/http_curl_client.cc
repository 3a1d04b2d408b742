#include "imagepull/registry/http_curl_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/curl_handle.h"

namespace inplaced::imagepull {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { CurlLibrary::Loaded().url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* s) const { CurlLibrary::Loaded().free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

// The scheme, host and port of an absolute URL, lowercased; the port defaulted from the scheme.
struct UrlParts {
  std::string scheme;
  std::string host;
  std::string port;
};

absl::StatusOr<UrlParts> ParseUrl(const CurlLibrary& lib, const std::string& url) {
  CurlUrl handle(lib.url());
  if (handle == nullptr) return absl::ResourceExhaustedError("libcurl: out of memory");
  if (lib.url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return absl::InvalidArgumentError(absl::StrCat("malformed URL: ", url));
  }
  UrlParts parts;
  const auto get = [&](CURLUPart part, unsigned flags, std::string* out) {
    char* value = nullptr;
    if (lib.url_get(handle.get(), part, &value, flags) != CURLUE_OK) return false;
    CurlString owned(value);
    *out = absl::AsciiStrToLower(value);
    return true;
  };
  if (!get(CURLUPART_SCHEME, 0, &parts.scheme) || !get(CURLUPART_HOST, 0, &parts.host) ||
      !get(CURLUPART_PORT, CURLU_DEFAULT_PORT, &parts.port)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed URL: ", url));
  }
  if (parts.scheme != "http" && parts.scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported URL scheme \"", parts.scheme, "\" (http or https only): ", url));
  }
  std::string user;
  if (get(CURLUPART_USER, 0, &user)) {
    // Userinfo would be a credential in a URL, which ends up in messages: refuse it.
    return absl::InvalidArgumentError("URL with userinfo refused");
  }
  return parts;
}

// What the libcurl callbacks fill in for one hop.
struct Transfer {
  int64_t max_body_bytes = 0;
  int64_t max_header_bytes = 0;
  int64_t header_bytes = 0;
  bool body_too_large = false;
  bool headers_too_large = false;
  const Cancellation* cancel = nullptr;
  HttpResponse response;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (static_cast<int64_t>(transfer->response.body.size() + n) > transfer->max_body_bytes) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl fail the transfer with CURLE_WRITE_ERROR
  }
  transfer->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t n = size * count;
  transfer->header_bytes += static_cast<int64_t>(n);
  if (transfer->header_bytes > transfer->max_header_bytes) {
    transfer->headers_too_large = true;
    return 0;
  }
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new status line (after "100 Continue" or a proxy's CONNECT answer): only the last
    // response's headers count.
    transfer->response.headers.clear();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == absl::string_view::npos) return n;  // the blank line ending the headers
  std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
  std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  transfer->response.headers.emplace_back(std::move(name), std::move(value));
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* transfer = static_cast<const Transfer*>(user);
  return transfer->cancel != nullptr && transfer->cancel->IsCancelled() ? 1 : 0;
}

const char* MethodName(HttpMethod method) { return method == HttpMethod::kPost ? "POST" : "GET"; }

long Millis(absl::Duration d) {
  return static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(d)));
}

bool IsRedirect(int code) {
  return code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
}

}  // namespace

CurlHttpClient::CurlHttpClient(CurlHttpClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<HttpResponse> CurlHttpClient::Send(const HttpRequest& original) {
  HttpRequest request = original;
  absl::StatusOr<const CurlLibrary*> loaded = CurlLibrary::Get();
  if (!loaded.ok()) return loaded.status();
  const CurlLibrary& lib = **loaded;
  auto current = ParseUrl(lib, request.url);
  if (!current.ok()) return current.status();
  int64_t header_bytes = 0;

  for (int hop = 0;; ++hop) {
    absl::StatusOr<CurlEasy> curl = NewCurlEasy();
    if (!curl.ok()) return curl.status();
    CURL* h = curl->get();
    char error[CURL_ERROR_SIZE] = {0};
    Transfer transfer;
    transfer.max_body_bytes = request.max_response_bytes;
    transfer.max_header_bytes = options_.max_header_bytes - header_bytes;
    transfer.cancel = request.cancel;

    CurlSlist headers;
    const auto add_header = [&](const std::string& line) {
      return CurlSlistAppend(headers, line.c_str());
    };
    for (const auto& [name, value] : request.headers) {
      if (!add_header(absl::StrCat(name, ": ", value))) {
        return absl::ResourceExhaustedError("libcurl: out of memory");
      }
    }
    if (request.method == HttpMethod::kPost && !request.content_type.empty() &&
        !add_header(absl::StrCat("Content-Type: ", request.content_type))) {
      return absl::ResourceExhaustedError("libcurl: out of memory");
    }

    lib.easy_setopt(h, CURLOPT_URL, request.url.c_str());
    lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    lib.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    lib.easy_setopt(h, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    lib.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    lib.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    lib.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) lib.easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    lib.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, Millis(options_.connect_timeout));
    lib.easy_setopt(h, CURLOPT_TIMEOUT_MS, Millis(options_.timeout));
    lib.easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
    lib.easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    lib.easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    // Early refusal when Content-Length announces too much; OnBody enforces it for chunked bodies.
    lib.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                    static_cast<curl_off_t>(request.max_response_bytes));
    lib.easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
    lib.easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
    lib.easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
    lib.easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
    if (request.cancel != nullptr) {
      lib.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
      lib.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &OnProgress);
      lib.easy_setopt(h, CURLOPT_XFERINFODATA, &transfer);
    }
    if (request.method == HttpMethod::kPost) {
      lib.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      lib.easy_setopt(h, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
    }

    const std::string what = absl::StrCat(MethodName(request.method), " ", request.url);
    const CURLcode rc = lib.easy_perform(h);
    if (rc != CURLE_OK) {
      if (transfer.body_too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        return absl::ResourceExhaustedError(
            absl::StrCat(what, ": response larger than ", request.max_response_bytes, " bytes"));
      }
      if (transfer.headers_too_large) {
        return absl::ResourceExhaustedError(absl::StrCat(what, ": response headers larger than ",
                                                         options_.max_header_bytes, " bytes"));
      }
      if (rc == CURLE_ABORTED_BY_CALLBACK) {
        return absl::CancelledError(absl::StrCat(what, ": cancelled"));
      }
      const std::string detail = error[0] != '\0' ? error : lib.easy_strerror(rc);
      if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": ", detail));
      }
      return absl::UnavailableError(absl::StrCat(what, ": ", detail));
    }
    header_bytes += transfer.header_bytes;

    long code = 0;
    lib.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    transfer.response.status_code = static_cast<int>(code);
    transfer.response.effective_url = request.url;
    if (!IsRedirect(transfer.response.status_code)) return std::move(transfer.response);

    char* location = nullptr;
    lib.easy_getinfo(h, CURLINFO_REDIRECT_URL, &location);
    if (location == nullptr) return std::move(transfer.response);  // a 3xx without Location
    if (hop >= options_.max_redirects) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": more than ", options_.max_redirects, " redirects"));
    }
    std::string target = location;
    auto next = ParseUrl(lib, target);
    if (!next.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": refusing redirect: ", next.status().message()));
    }
    if (current->scheme == "https" && next->scheme == "http") {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": refusing redirect from https to http: ", target));
    }
    if (next->host != current->host || next->port != current->port) {
      // Credentials are for the host they were asked for, never for a redirect target.
      request.headers.erase(std::remove_if(request.headers.begin(), request.headers.end(),
                                           [](const auto& header) {
                                             return absl::EqualsIgnoreCase(header.first,
                                                                           "Authorization");
                                           }),
                            request.headers.end());
    }
    const int status = transfer.response.status_code;
    if (status == 303 ||
        (request.method == HttpMethod::kPost && (status == 301 || status == 302))) {
      request.method = HttpMethod::kGet;
      request.body.clear();
    }
    request.url = std::move(target);
    current = std::move(next);
  }
}

}  // namespace inplaced::imagepull

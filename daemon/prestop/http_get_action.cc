#include "daemon/prestop/http_get_action.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/curl_handle.h"
#include "daemon/prestop/hook_endpoint.h"
#include "daemon/prestop/hook_message.h"

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;

// kubelet drains at most this much of a hook's response body.
constexpr size_t kMaxBodyBytes = 10 * 1024;
constexpr char kUserAgent[] = "inplaced-lifecycle/0.1";

PreStopResult Result(api::PreStopOutcome outcome, std::string message) {
  return PreStopResult{outcome, std::move(message)};
}

// State shared with libcurl's callbacks for one transfer.
struct Transfer {
  const HookBudget* budget;
  size_t body_bytes = 0;
  bool body_cut = false;
  bool cancelled = false;
  bool expired = false;
};

size_t DiscardBody(char* /*data*/, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  transfer->body_bytes += bytes;
  if (transfer->body_bytes > kMaxBodyBytes) {
    // Returning less than given aborts the transfer (CURLE_WRITE_ERROR); the status line is already
    // in.
    transfer->body_cut = true;
    return 0;
  }
  return bytes;
}

// Called by libcurl about once per second and on every bit of progress: the only way to abort a
// blocking curl_easy_perform() early, since CURLOPT_NOSIGNAL rules out signals.
int CheckBudget(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (transfer->budget->Cancelled()) {
    transfer->cancelled = true;
    return 1;
  }
  if (transfer->budget->Expired()) {
    transfer->expired = true;
    return 1;
  }
  return 0;
}

struct Attempt {
  CURLcode code = CURLE_OK;
  long http_status = 0;
  Transfer transfer;
  std::string error;  // libcurl's detail (CURLOPT_ERRORBUFFER), may be empty.
};

Attempt Perform(const std::string& url, const api::HttpGetAction& action, bool drop_authorization,
                const HookBudget& budget) {
  Attempt attempt;
  attempt.transfer.budget = &budget;
  absl::StatusOr<CurlEasy> curl = NewCurlEasy();
  if (!curl.ok()) {
    attempt.code =
        absl::IsResourceExhausted(curl.status()) ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    attempt.error = std::string(curl.status().message());
    return attempt;
  }
  const CurlLibrary& lib = CurlLibrary::Loaded();
  CurlSlist headers;
  bool headers_ok = true;
  for (const api::HttpHeader& header : action.http_headers()) {
    if (drop_authorization && absl::EqualsIgnoreCase(header.name(), "Authorization")) continue;
    // "Name:" would make libcurl drop the header; "Name;" sends it with an empty value.
    const std::string line = header.value().empty()
                                 ? absl::StrCat(header.name(), ";")
                                 : absl::StrCat(header.name(), ": ", header.value());
    headers_ok = headers_ok && CurlSlistAppend(headers, line.c_str());
  }
  if (!headers_ok) {
    attempt.code = CURLE_OUT_OF_MEMORY;
    return attempt;
  }
  char error[CURL_ERROR_SIZE] = {0};
  const long timeout_ms =
      static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(budget.Remaining())));
  CURL* h = curl->get();
  lib.easy_setopt(h, CURLOPT_URL, url.c_str());
  lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(h, CURLOPT_HTTPGET, 1L);
  lib.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  lib.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // kubelet's hook client uses no proxy; libcurl would otherwise honour http_proxy from the
  // environment.
  lib.easy_setopt(h, CURLOPT_PROXY, "");
  lib.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
  lib.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  lib.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
  lib.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  lib.easy_setopt(h, CURLOPT_USERAGENT, kUserAgent);
  lib.easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  lib.easy_setopt(h, CURLOPT_WRITEFUNCTION, &DiscardBody);
  lib.easy_setopt(h, CURLOPT_WRITEDATA, &attempt.transfer);
  lib.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  lib.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &CheckBudget);
  lib.easy_setopt(h, CURLOPT_XFERINFODATA, &attempt.transfer);
  lib.easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  attempt.code = lib.easy_perform(h);
  lib.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &attempt.http_status);
  attempt.error = PrintableTail(error, 200);
  return attempt;
}

PreStopResult Classify(const Attempt& attempt, absl::string_view where) {
  const bool answered =
      attempt.code == CURLE_OK || (attempt.code == CURLE_WRITE_ERROR && attempt.transfer.body_cut);
  if (answered && attempt.http_status > 0) {
    const std::string status = absl::StrCat("HTTP ", attempt.http_status);
    if (attempt.http_status >= 200 && attempt.http_status < 400)
      return Result(api::PRE_STOP_OUTCOME_SUCCEEDED, status);
    return Result(api::PRE_STOP_OUTCOME_FAILED, status);
  }
  if (attempt.transfer.cancelled) return Result(api::PRE_STOP_OUTCOME_FAILED, "cancelled");
  if (attempt.transfer.expired || attempt.code == CURLE_OPERATION_TIMEDOUT) {
    return Result(api::PRE_STOP_OUTCOME_TIMED_OUT,
                  absl::StrCat("httpGet ", where, ": no answer before the deadline"));
  }
  absl::StatusOr<const CurlLibrary*> lib = CurlLibrary::Get();
  // Without libcurl the attempt's error says why it could not be loaded.
  std::string message = absl::StrCat("httpGet ", where, ": ",
                                     lib.ok() ? (*lib)->easy_strerror(attempt.code) : "no libcurl");
  if (!attempt.error.empty()) absl::StrAppend(&message, " (", attempt.error, ")");
  return Result(api::PRE_STOP_OUTCOME_FAILED, std::move(message));
}

}  // namespace

PreStopResult RunHttpGet(const api::HttpGetAction& action, absl::string_view host, int port,
                         const HookBudget& budget) {
  const std::string scheme =
      absl::AsciiStrToLower(action.scheme().empty() ? "http" : action.scheme());
  if (scheme != "http" && scheme != "https") {
    return Result(
        api::PRE_STOP_OUTCOME_FAILED,
        absl::StrCat("httpGet: unsupported scheme \"", PrintableTail(action.scheme(), 16), "\""));
  }
  std::string path = action.path();
  if (!absl::StartsWith(path, "/")) path.insert(0, "/");
  const std::string where = HostPort(host, port);

  Attempt attempt = Perform(absl::StrCat(scheme, "://", where, path), action,
                            /*drop_authorization=*/false, budget);
  if (scheme == "https" && attempt.code == CURLE_SSL_CONNECT_ERROR && !budget.Cancelled() &&
      !budget.Expired()) {
    // kubelet falls back to HTTP when an HTTPS hook meets a plain-HTTP server, without the
    // credentials (they were meant for TLS). libcurl reports that case as a failed handshake.
    attempt =
        Perform(absl::StrCat("http://", where, path), action, /*drop_authorization=*/true, budget);
    PreStopResult result = Classify(attempt, where);
    result.message =
        absl::StrCat(result.message, " (after HTTPS handshake failed, fell back to HTTP)");
    return result;
  }
  return Classify(attempt, where);
}

}  // namespace inplaced::daemon

#pragma once

// The httpGet preStop action over libcurl, like kubelet's lifecycle HTTP handler.

#include <string>

#include "absl/strings/string_view.h"
#include "api/inplaced/v1/recreate.pb.h"
#include "daemon/prestop/hook_budget.h"
#include "daemon/prestop/prestop_runner.h"

namespace inplaced::daemon {

// Sends GET <scheme>://<host>:<port><action.path> with action's headers (and a User-Agent
// "inplaced-lifecycle" unless one is given), following no redirects and using no proxy.
//
//  - HTTPS skips certificate verification (kubelet does too). When the TLS handshake fails (the server
//    speaks plain HTTP), it retries once over HTTP without the Authorization header, like kubelet's
//    LifecycleHTTPFallback.
//  - Status 200-399 -> SUCCEEDED "HTTP <code>"; other statuses -> FAILED "HTTP <code>"; connection or
//    protocol errors -> FAILED with libcurl's reason; an unknown scheme -> FAILED.
//  - At most 10 KiB of the body is read (and ignored); a longer body is cut off without failing.
//  - Bounded by `budget`: TIMED_OUT once its deadline passes (libcurl's own timeout is the time left, and
//    the progress callback also watches the budget's clock), FAILED "cancelled" once its token fires.
// The message never contains header values. Thread-safe (one easy handle per call).
PreStopResult RunHttpGet(const ::inplaced::v1::HttpGetAction& action, absl::string_view host,
                         int port, const HookBudget& budget);

}  // namespace inplaced::daemon

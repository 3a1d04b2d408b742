#pragma once

// The tcpSocket preStop action: open a TCP connection and close it.

#include "absl/strings/string_view.h"
#include "daemon/prestop/hook_budget.h"
#include "daemon/prestop/prestop_runner.h"

namespace inplaced::daemon {

// Resolves `host` (getaddrinfo: an IP literal or a name) and connects to each address in turn with
// a non-blocking connect, polled in short slices so that the budget is honoured. SUCCEEDED
// "connected to host:port" at the first established connection (closed at once); FAILED with the
// reason of the last address otherwise; TIMED_OUT once the budget's deadline passes; FAILED
// "cancelled" once its token fires. Name resolution itself is not interruptible. Thread-safe.
PreStopResult RunTcpSocket(absl::string_view host, int port, const HookBudget& budget);

}  // namespace inplaced::daemon

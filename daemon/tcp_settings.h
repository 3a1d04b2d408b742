#pragma once

// The tcp_* settings of the control API's TCP listener: how they combine, and the TLS files they
// name read and checked into a TcpListenerConfig. Errors name the setting (config key and flag) and
// the file, so a bad deployment fails at start with a message that says what to fix.

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "daemon/options.h"
#include "daemon/server/tcp_listener.h"

namespace inplaced::daemon {

// The rules (INVALID_ARGUMENT naming the settings otherwise):
//   * tcp_address set: tcp_tls_cert and tcp_tls_key, or tcp_insecure (plaintext TCP is refused
//     unless asked for by name); never both;
//   * tcp_tls_cert and tcp_tls_key come together; tcp_tls_client_ca needs them;
//   * no tcp_* setting without tcp_address (it would be silently ignored).
absl::Status CheckTcpSettings(const DaemonOptions& options);

// nullopt when tcp_address is empty. Otherwise CheckTcpSettings, then the files read and checked:
// the certificate file holds at least one PEM certificate, the key file a PEM private key that
// matches the first certificate, the client CA file at least one PEM certificate. Errors:
// INVALID_ARGUMENT (the rules; a file that is not what it should be) or the read's error
// (NOT_FOUND, PERMISSION_DENIED, ...), each naming the setting and the file.
absl::StatusOr<std::optional<TcpListenerConfig>> LoadTcpListener(const DaemonOptions& options);

}  // namespace inplaced::daemon

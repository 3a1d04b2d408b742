#pragma once

// The seam between inplaced and systemd's service notifications (sd_notify(3)): the daemon talks to
// a Notifier, which is libsystemd's sd_notify when the service manager asked for notifications
// (NOTIFY_SOCKET is set, as for a Type=notify unit) and does nothing otherwise.

#include <memory>
#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace inplaced::systemd {

// Implementations are thread-safe.
class Notifier {
 public:
  virtual ~Notifier() = default;

  // Sends `state`: newline-separated assignments such as "READY=1", "STATUS=...", "WATCHDOG=1",
  // "STOPPING=1". Errors: UNAVAILABLE when the message cannot be sent (the caller logs it; a
  // notification is never worth stopping the daemon for).
  virtual absl::Status Notify(absl::string_view state) = 0;
};

// Notifications through libsystemd's sd_notify to $NOTIFY_SOCKET.
class SdNotifier final : public Notifier {
 public:
  absl::Status Notify(absl::string_view state) override;
};

// No service manager listens: every notification is dropped.
class NoopNotifier final : public Notifier {
 public:
  absl::Status Notify(absl::string_view state) override { return absl::OkStatus(); }
};

// SdNotifier when NOTIFY_SOCKET is set, NoopNotifier otherwise.
std::unique_ptr<Notifier> NotifierFromEnvironment();

// The watchdog timeout systemd asked this process for (WATCHDOG_USEC, honouring WATCHDOG_PID), or
// nullopt when it asked for none: the process must send "WATCHDOG=1" more often than that.
std::optional<absl::Duration> WatchdogTimeoutFromEnvironment();

}  // namespace inplaced::systemd

#include "systemd/notifier.h"

#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace inplaced::systemd {

absl::Status SdNotifier::Notify(absl::string_view state) {
  // unset_environment = 0: the variables stay for the next notification.
  const int sent = ::sd_notify(0, std::string(state).c_str());
  if (sent < 0) {
    return absl::UnavailableError(
        absl::StrCat("sd_notify(\"", state, "\"): ", std::strerror(-sent)));
  }
  return absl::OkStatus();
}

std::unique_ptr<Notifier> NotifierFromEnvironment() {
  const char* socket = ::getenv("NOTIFY_SOCKET");
  if (socket == nullptr || *socket == '\0') return std::make_unique<NoopNotifier>();
  return std::make_unique<SdNotifier>();
}

std::optional<absl::Duration> WatchdogTimeoutFromEnvironment() {
  uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return absl::Microseconds(static_cast<int64_t>(usec));
}

}  // namespace inplaced::systemd

#include "systemd/heartbeat.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace inplaced::systemd {
namespace {

void Send(Notifier& notifier, absl::string_view state) {
  if (absl::Status sent = notifier.Notify(state); !sent.ok()) {
    spdlog::warn("systemd_notify_failed error=\"{}\"", sent.ToString());
  }
}

}  // namespace

Heartbeat::Heartbeat(Notifier& notifier, Clock& clock, HeartbeatOptions options,
                     std::function<absl::Time()> last_tick, std::function<std::string()> status)
    : notifier_(notifier),
      clock_(clock),
      options_(std::move(options)),
      last_tick_(std::move(last_tick)),
      status_(std::move(status)) {}

Heartbeat::~Heartbeat() { Stop(); }

absl::Duration Heartbeat::period() const {
  // sd_watchdog_enabled(3) recommends pinging at half the timeout.
  if (options_.watchdog_timeout.has_value()) {
    return std::min(*options_.watchdog_timeout / 2, options_.status_period);
  }
  return options_.status_period;
}

void Heartbeat::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void Heartbeat::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool Heartbeat::Beat() {
  absl::MutexLock lock(&beat_mu_);
  const std::string status = status_();
  if (status != last_status_) {
    Send(notifier_, absl::StrCat("STATUS=", status));
    last_status_ = status;
  }
  if (!options_.watchdog_timeout.has_value()) return false;
  const absl::Duration tick_age = clock_.Now() - last_tick_();
  if (tick_age > options_.max_tick_age) {
    // No ping: systemd restarts the daemon once the watchdog timeout passes without one.
    spdlog::error("watchdog_withheld loop_tick_age_ms={} max_ms={}",
                  absl::ToInt64Milliseconds(tick_age),
                  absl::ToInt64Milliseconds(options_.max_tick_age));
    return false;
  }
  Send(notifier_, "WATCHDOG=1");
  return true;
}

void Heartbeat::Run() {
  const absl::Duration wait = period();
  while (true) {
    Beat();
    absl::MutexLock lock(&stop_mu_);
    if (stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), wait)) return;
  }
}

}  // namespace inplaced::systemd

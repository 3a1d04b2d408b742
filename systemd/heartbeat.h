#pragma once

// The daemon's periodic notifications to systemd while it runs: "WATCHDOG=1" only while the watched
// loop (the recreate engine's) keeps ticking, so that a wedged loop stops the pings and systemd's
// WatchdogSec restarts the daemon; and "STATUS=<text>" lines (shown by `systemctl status`) when the
// text changes.

#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "systemd/notifier.h"

namespace inplaced::systemd {

struct HeartbeatOptions {
  // systemd's watchdog timeout (WatchdogTimeoutFromEnvironment); nullopt: no WATCHDOG=1 at all.
  std::optional<absl::Duration> watchdog_timeout;
  // How old the loop's last tick may be for a ping: its longest legitimate gap between two ticks
  // (its idle poll period plus the longest a tick may wait on the runtime).
  absl::Duration max_tick_age = absl::Minutes(1);
  // How often STATUS is refreshed when there is no watchdog (with one: every half timeout).
  absl::Duration status_period = absl::Seconds(5);
};

// Thread-safe. The notifier and clock must outlive the heartbeat.
class Heartbeat {
 public:
  // `last_tick`: when the watched loop last ticked (InfinitePast before the first tick); must not
  // block, so that a wedged loop cannot wedge the heartbeat too. `status`: the STATUS text.
  Heartbeat(Notifier& notifier, Clock& clock, HeartbeatOptions options,
            std::function<absl::Time()> last_tick, std::function<std::string()> status);
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  // Stop().
  ~Heartbeat();

  // Beats at once, then every half watchdog timeout (or status_period), on a thread. Once.
  void Start();
  // Ends the thread; no notification follows. Idempotent.
  void Stop();

  // One beat: STATUS=<status> when it differs from the last one sent, and WATCHDOG=1 when a
  // watchdog is set and the loop ticked at most max_tick_age ago. Returns whether it pinged the
  // watchdog. Start() calls it; tests call it directly.
  bool Beat();

  // The period of the beats.
  absl::Duration period() const;

 private:
  void Run();

  Notifier& notifier_;
  Clock& clock_;
  const HeartbeatOptions options_;
  const std::function<absl::Time()> last_tick_;
  const std::function<std::string()> status_;

  absl::Mutex beat_mu_;  // one Beat at a time
  std::string last_status_ ABSL_GUARDED_BY(beat_mu_);

  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace inplaced::systemd

#pragma once

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/cancellation.h"

namespace inplaced::daemon {

// A cancellation token for one ExecSync call that fires when the caller's token (may be null) fires
// or when `limit` of real time has passed, whichever comes first.
//
// Why: the runtime's own exec timeout is not a hard bound. containerd waits for the exec's output
// pipes to close after killing the process (a background child that inherited them keeps the call
// open unless drain_exec_sync_io_timeout is set), and the CRI client's deadline is the timeout plus
// the runtime request timeout (minutes). kubelet abandons the hook at the grace deadline; so do we.
//
// The limit is measured in real time (a thread waits on a notification), not on the injected Clock:
// it is a last-resort guard against a stuck runtime, which only real time can reveal. Destroying
// the watchdog stops its thread at once. Not copyable; use from one thread.
class ExecWatchdog {
 public:
  ExecWatchdog(Cancellation* outer, absl::Duration limit);
  ~ExecWatchdog();
  ExecWatchdog(const ExecWatchdog&) = delete;
  ExecWatchdog& operator=(const ExecWatchdog&) = delete;

  // The token to pass to the call.
  Cancellation* token() { return &linked_; }
  // True when the limit (not the caller's token) cancelled the call.
  bool expired() const { return expired_.load(); }

 private:
  Cancellation* const outer_;
  Cancellation linked_;
  int outer_registration_ = -1;
  std::atomic<bool> expired_{false};
  absl::Notification done_;
  std::thread thread_;
};

}  // namespace inplaced::daemon

#include "daemon/prestop/exec_watchdog.h"

namespace inplaced::daemon {

ExecWatchdog::ExecWatchdog(Cancellation* outer, absl::Duration limit) : outer_(outer) {
  // Forwarding runs under the outer token's lock; linked_ is another token, so that is allowed.
  if (outer_ != nullptr) outer_registration_ = outer_->Register([this] { linked_.Cancel(); });
  thread_ = std::thread([this, limit] {
    if (!done_.WaitForNotificationWithTimeout(limit)) {
      expired_ = true;
      linked_.Cancel();
    }
  });
}

ExecWatchdog::~ExecWatchdog() {
  // Unregister first: once it returns, the forwarding callback is neither running nor will run.
  if (outer_ != nullptr) outer_->Unregister(outer_registration_);
  done_.Notify();
  thread_.join();
}

}  // namespace inplaced::daemon
